"""统一社会信用代码 (unified social credit code), GB 32100-2015.

Every legal entity in China carries one 18-character code for life; it does not
change with the entity's name, address or legal representative. The ledger keys
an entity's applications by it, so that a provider removed, blacklisted or
gray-listed cannot come back under a new provider id.

Structure (GB 32100-2015 第4章): 1 registration authority code, 1 entity category
code, 6 digits of the registering authority's administrative division
(GB/T 2260), 9 characters of the entity's identification code (GB 11714), and 1
check character. The characters are the 31 of :data:`ALPHABET` (digits and
capital letters without I, O, S, V, Z). The check character (第5章) is
``C18 = 31 − (Σ Ci·Wi mod 31)``, with ``Ci`` a character's index in the alphabet and
``Wi = 3^(i−1) mod 31`` (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10,
30, 28); a result of 31 is written 0.
"""
from __future__ import annotations

#: 代码字符集 (GB 32100-2015 表1): index = the character's value
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: 各位置序号上的加权因子
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


class InvalidCreditCode(ValueError):
    """Not a unified social credit code; the message says why."""


def check_character(first17: str) -> str:
    """The 18th character of a code whose first 17 are ``first17``."""
    if len(first17) != LENGTH - 1 or any(ch not in ALPHABET for ch in first17):
        raise InvalidCreditCode(f"{first17!r} is not 17 characters of {ALPHABET}")
    total = sum(ALPHABET.index(ch) * weight for ch, weight in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str:
    """``code`` (spaces stripped, letters upper-cased) if it is a valid code, else InvalidCreditCode."""
    code = code.strip().upper()
    if len(code) != LENGTH:
        raise InvalidCreditCode(f"a unified social credit code has 18 characters, {code!r} has {len(code)}")
    wrong = sorted({ch for ch in code if ch not in ALPHABET})
    if wrong:
        raise InvalidCreditCode(f"{code!r} has characters outside the code's alphabet: {' '.join(wrong)}")
    if not code[2:8].isdigit():
        raise InvalidCreditCode(f"{code!r}: characters 3-8 are the administrative division code (digits)")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(f"{code!r}: the check character is {expected}, not {code[17]} (GB 32100-2015)")
    return code


def complete(first17: str) -> str:
    """The full code whose first 17 characters are ``first17``."""
    return first17 + check_character(first17)
