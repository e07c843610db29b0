"""The validated field types every command is built from.

A command is the ledger's only way in, so this is where input that could wedge
or silently corrupt a ledger is stopped, once, for every backend:

- text may not hold NUL or other control characters (PostgreSQL cannot store NUL
  in text or jsonb: one such field would fail every later projection), nor lone
  surrogates (not encodable as UTF-8);
- ids are normalised to NFKC (so a fullwidth ``ＴＪ－０００１`` is ``TJ-0001`` and the
  NFC and NFD spellings of ``é`` are one id) and may not hold invisible or
  bidirectional-control characters (zero-width spaces, ``U+202E``…): two ids that
  look the same are the same id, or one of them is refused;
- every string, mapping and list has a bound, numbers are finite and within a
  sane range, and an import line has a maximum length (:data:`MAX_IMPORT_LINE_BYTES`).

Command models (``ledger.commands.models``) use only these types for free-form
input; new fields should too.
"""
from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

#: The longest line an import accepts, in bytes of UTF-8 (a command well within every bound below fits).
MAX_IMPORT_LINE_BYTES = 1_000_000
#: Bounds of one command's fields.
MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 10_000
MAX_LIST_ITEMS = 200
MAX_MAPPING_ITEMS = 50
#: Amounts are in yuan, to the fen, below one trillion.
MAX_AMOUNT = Decimal("999999999999.99")

#: Line breaks and tabs are the only control characters free text may hold.
_TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")
#: Characters that render as nothing (or as a blank) although they are not in a "format" category.
_INVISIBLE = frozenset(
    "\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0"
) | frozenset(chr(c) for c in range(0xFE00, 0xFE10)) | frozenset(chr(c) for c in range(0xE0100, 0xE01F0))
#: Unicode categories refused in ids: controls, format (zero-width, bidi controls, BOM), surrogates,
#: private use, unassigned, line and paragraph separators.
_ID_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def check_text(value: str) -> str:
    """Free text: any character but NUL, other control characters (except tab and line breaks) and lone surrogates."""
    for char in value:
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _TEXT_CONTROLS_ALLOWED) or category == "Cs":
            raise ValueError(f"control character {_describe(char)} is not allowed")
    return value


def normalise_id(value: str) -> str:
    """An id as the ledger keeps it: NFKC, checked for invisible and bidirectional-control characters."""
    if value.isascii() and value.isprintable():
        # Printable ASCII (U+0020..U+007E) is its own NFKC form and holds nothing the full check
        # refuses: the common case, answered without a look-up per character.
        return value
    return normalise_id_fully(value)


def normalise_id_fully(value: str) -> str:
    """:func:`normalise_id` without its fast path for printable ASCII (the full check, every character)."""
    normalised = unicodedata.normalize("NFKC", value)
    for char in normalised:
        if unicodedata.category(char) in _ID_REFUSED_CATEGORIES or char in _INVISIBLE:
            raise ValueError(f"invisible or control character {_describe(char)} is not allowed in an id")
        if char.isspace() and char != " ":
            raise ValueError(f"whitespace {_describe(char)} other than a plain space is not allowed in an id")
    return normalised


def check_name(value: str) -> str:
    """A short name or label: kept as written (a fullwidth （） in an article stays), nothing invisible."""
    for char in value:
        if unicodedata.category(char) in _ID_REFUSED_CATEGORIES or char in _INVISIBLE:
            raise ValueError(f"invisible or control character {_describe(char)} is not allowed")
    return value


def _nfkc_first(value: object) -> object:
    return normalise_id(value) if isinstance(value, str) else value


#: An identifier or short name: NFKC, 1–200 characters, no surrounding blanks, nothing invisible.
Id = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^\S(.*\S)?$"),
    BeforeValidator(_nfkc_first),  # wraps the checks above, so it runs first; after them, they would be
    # checked by Python functions pydantic wraps around it instead of in the string's own schema
]
#: A name, label or article key (``第十三条（四）``): like an id, but not normalised.
Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^\S(.*\S)?$"),
    AfterValidator(check_name),
]
#: Free text (reasons, summaries, findings): up to 10 000 characters, no control characters.
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(check_text)]
#: An event reference ``aggregate-uuid/version``.
Ref = Annotated[
    str,
    Field(max_length=60, pattern=r"^[0-9a-f-]{36}/[0-9]+$", description="an event reference: aggregate-uuid/version"),
]
#: How an amount may be written as a JSON string: up to 12 digits, up to 2 decimals.
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


def _amount_schema(minimum: str) -> WithJsonSchema:
    """The published schema of an amount, stated here rather than left to pydantic's version
    (pydantic 2.14 stopped giving the string form of a ``Decimal`` any bound)."""
    bound = {minimum: 0, "maximum": float(MAX_AMOUNT)}
    return WithJsonSchema(
        {"anyOf": [{"type": "number", **bound}, {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 15}]}
    )


#: A sum of money in yuan: finite, at most two decimal places, below one trillion.
Amount = Annotated[
    Decimal, Field(allow_inf_nan=False, max_digits=14, decimal_places=2, ge=0, le=MAX_AMOUNT), _amount_schema("minimum")
]
#: A sum of money that must be more than zero (a payment, a withholding).
PositiveAmount = Annotated[
    Decimal,
    Field(allow_inf_nan=False, max_digits=14, decimal_places=2, gt=0, le=MAX_AMOUNT),
    _amount_schema("exclusiveMinimum"),
]
#: A bounded, finite number (parameters, measurements).
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]
#: A bounded integer.
Count = Annotated[int, Field(ge=-(10**12), le=10**12)]
#: A mapping key (a profile field, a parameter name).
Key = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(check_name)]

#: Text mappings and lists with their bounds.
TextMap = Annotated[dict[Key, Text], Field(max_length=MAX_MAPPING_ITEMS)]
TextList = Annotated[list[Text], Field(max_length=MAX_LIST_ITEMS)]
RefList = Annotated[list[Ref], Field(max_length=MAX_LIST_ITEMS)]
IdList = Annotated[list[Id], Field(max_length=MAX_LIST_ITEMS)]
