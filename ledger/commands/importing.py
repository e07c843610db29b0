"""Reading a JSON Lines file of commands, refusing anything ambiguous before a command is built.

A line is read as bytes and checked in this order, each failure reported by its
line number: its length (:data:`~ledger.commands.fields.MAX_IMPORT_LINE_BYTES`),
UTF-8 (a byte-order mark is allowed at the very start of the file only), JSON
with no duplicate keys (``{"amount": 1, "amount": 9}`` is an error, not
last-wins) and no ``NaN``/``Infinity``, nested no deeper than the parser can
follow, then the command model itself. A file whose first line is an event of an
export (``ledger export``) is refused as a whole (:class:`EventExport`): it holds
events, not commands.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ledger.commands.fields import MAX_IMPORT_LINE_BYTES
from ledger.commands.models import Command, parse_command

UTF8_BOM = b"\xef\xbb\xbf"


#: the fields of an export's line (:func:`ledger.wire.to_export`) that no command has
EXPORT_FIELDS = frozenset({"position", "originator_id", "originator_version", "topic", "state", "prev_hash", "hash"})


class EventExport(ValueError):
    """The file is an export of events (``ledger export``), not a file of commands."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is an event export (the output of `ledger export`), not commands: `ledger import` takes commands,"
            f" one JSON object a line naming its type (`ledger schema`); check an export with `ledger verify --export {path}`"
        )


@dataclass(frozen=True)
class ImportLines:
    """The commands of a file with their line numbers, or the problems found (then no commands count)."""

    commands: list[tuple[int, Command]]
    problems: list[str]


def repeated_keys(pairs: list[tuple[str, Any]]) -> list[str]:
    """The keys a JSON object (its ``object_pairs_hook`` pairs) gives more than once, sorted."""
    keys = [key for key, _ in pairs]
    return sorted({key for key in keys if keys.count(key) > 1})


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    repeated = repeated_keys(pairs)
    if repeated:
        raise ValueError(f"duplicate key(s) {', '.join(map(repr, repeated))}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """(number, line without its end) — None for a line longer than the limit, which is not kept."""
    with path.open("rb") as source:
        number = 0
        while True:
            raw = source.readline(MAX_IMPORT_LINE_BYTES + 2)
            if not raw:
                return
            number += 1
            if len(raw.rstrip(b"\r\n")) > MAX_IMPORT_LINE_BYTES:
                while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                    raw = source.readline(MAX_IMPORT_LINE_BYTES)
                yield number, None
                continue
            yield number, raw.rstrip(b"\r\n")


def parse_line(raw: bytes) -> Command:
    """One command from one line; ValueError (a one-line reason) or pydantic's ValidationError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: byte 0x{raw[error.start]:02x} at column {error.start + 1}") from None
    if text.startswith("\ufeff"):
        raise ValueError("a byte-order mark is only allowed at the start of the file")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg} at column {error.colno}") from None
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return parse_command(text)


def _is_export_line(raw: bytes) -> bool:
    """Whether a line is an event of an export: a JSON object with an event's fields and no command type."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "type" not in data and data.keys() >= EXPORT_FIELDS


def read_import(path: Path) -> ImportLines:
    """The commands of the file, or its problems by line; raises :class:`EventExport` for an export."""
    commands: list[tuple[int, Command]] = []
    problems: list[str] = []
    first = True
    for number, raw in _lines(path):
        if raw is None:
            problems.append(f"line {number}: longer than {MAX_IMPORT_LINE_BYTES} bytes")
            continue
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]
        if not raw.strip():
            continue
        if first and _is_export_line(raw):
            raise EventExport(path)
        first = False
        try:
            commands.append((number, parse_line(raw)))
        except ValidationError as error:
            for e in error.errors():
                field = ".".join(str(p) for p in e["loc"]) or "(line)"
                problems.append(f"line {number}: {field}: {e['msg']}")
        except ValueError as error:
            problems.append(f"line {number}: {error}")
    return ImportLines(commands, problems)
