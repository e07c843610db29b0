"""The command boundary: what a command may hold (ledger.commands.fields), for every field of every command."""
from __future__ import annotations

import json
import random
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.commands import fields
from ledger.commands import models as m
from ledger.commands.importing import read_import
from ledger.commands.models import ALL_COMMANDS, Command, parse_command
from ledger.demo import demo_plan

REF = "0" * 8 + "-0000-0000-0000-" + "0" * 12 + "/1"

#: commands the small demo plan does not produce
EXTRA: list[dict[str, Any]] = [
    {"type": "CompleteRectification", "command_id": "c1", "provider_id": "TJ-1", "sanction_ref": REF},
    {"type": "SetRectificationPeriod", "command_id": "c6", "provider_id": "LZ-1", "sanction_ref": REF, "deadline_days": 20, "exceptional_reason": "r"},
    {"type": "RecordRectificationRefusal", "command_id": "c2", "provider_id": "TJ-1", "sanction_ref": REF},
    {"type": "WithdrawFromPool", "command_id": "c3", "provider_id": "TJ-1", "reason": "自愿退出"},
    {
        "type": "FileAppeal", "command_id": "c4", "appeal_id": "A-1", "provider_id": "TJ-1", "ground": "第十七条（二）",
        "evidence_refs": [REF], "matter": "m", "reasons": "r", "purpose": "p", "supporting_evidence": ["e"],
    },
    {"type": "RecordPassedDeadlines", "command_id": "c5", "provider_id": "TJ-1", "as_of": "2025-01-01", "complaint_ids": ["C-1"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, Any]]:
    """One valid command of every type, as JSON data, with every optional text field filled in."""
    found: dict[str, dict[str, Any]] = {}
    for _, command in demo_plan(seed=2024, providers=40):
        if not isinstance(command, Command):  # a command naming events it finds when it runs
            continue
        data = command.model_dump(mode="json")
        name = data["type"]
        richer = sum(v not in (None, [], {}, "") for v in data.values())
        if name not in found or richer > sum(v not in (None, [], {}, "") for v in found[name].values()):
            found[name] = data
    for data in EXTRA:
        found[data["type"]] = data
    assert set(found) == {c.__name__ for c in ALL_COMMANDS}
    return found


def string_paths(data: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every string in the data (and every mapping key, as ("key", path))."""
    if isinstance(data, str):
        return [path]
    if isinstance(data, dict):
        out = []
        for key, value in data.items():
            out.append((*path, ("key", key)))
            out += string_paths(value, (*path, key))
        return out
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in string_paths(v, (*path, i))]
    return []


def replaced(data: Any, path: tuple, change) -> Any:
    data = json.loads(json.dumps(data))
    *parents, last = path
    target = data
    for step in parents:
        target = target[step]
    if isinstance(last, tuple):  # a mapping key
        target[change(last[1])] = target.pop(last[1])
    else:
        target[last] = change(target[last])
    return data


def _unbounded(schema: dict, defs: dict, path: str) -> list[str]:
    """Every string, array and object in a JSON Schema that has no upper bound."""
    if "$ref" in schema:
        return _unbounded(defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    found = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _unbounded(option, defs, path)
    kind = schema.get("type")
    # a pattern bounds a decimal's digits (max_digits); leading zeros only up to the line length
    if kind == "string" and not ({"maxLength", "enum", "const", "format", "pattern"} & set(schema)):
        found.append(path)
    if kind == "array":
        if "maxItems" not in schema:
            found.append(path)
        found += _unbounded(schema.get("items", {}), defs, path + "[]")
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += _unbounded(sub, defs, f"{path}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                found.append(path)
            found += _unbounded(extra, defs, path + "{}")
    return found


def test_every_string_list_and_mapping_of_every_command_is_bounded() -> None:
    for command in ALL_COMMANDS:
        schema = command.model_json_schema()
        assert _unbounded(schema, schema.get("$defs", {}), command.__name__) == []


def test_every_sample_is_valid(samples) -> None:
    for data in samples.values():
        parse_command(data)


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_are_refused_in_every_string_of_every_command(samples, bad) -> None:
    checked = 0
    for data in samples.values():
        for path in string_paths(data):
            if path == ("type",):
                continue
            with pytest.raises(ValidationError):
                parse_command(replaced(data, path, lambda s: s[:1] + bad + s[1:]))
            checked += 1
    assert checked > 100


def test_line_breaks_and_tabs_stay_allowed_in_free_text() -> None:
    command = parse_command({"type": "RefuseAdmission", "command_id": "r", "provider_id": "P", "reason": "一\n二\t三\r\n"})
    assert isinstance(command, m.RefuseAdmission)
    assert command.reason == "一\n二\t三\r\n"


@pytest.mark.parametrize(
    "variant",
    [
        unicodedata.normalize("NFD", "TJ-É1"),
        unicodedata.normalize("NFC", "TJ-É1"),
        "ＴＪ－É１",  # fullwidth
    ],
)
def test_look_alike_ids_are_one_id(variant: str) -> None:
    command = parse_command({"type": "AdmitProvider", "command_id": "a", "provider_id": variant})
    assert isinstance(command, m.AdmitProvider)
    assert command.provider_id == unicodedata.normalize("NFC", "TJ-É1")


@pytest.mark.parametrize(
    "invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u202a", "\u2066", "\u2069", "\u061c", "\ufe0f", "\u3164"]
)
def test_invisible_and_bidi_characters_are_refused_in_ids(invisible: str) -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        parse_command({"type": "AdmitProvider", "command_id": "a", "provider_id": f"TJ{invisible}-0001"})
    with pytest.raises(ValidationError):
        parse_command({"type": "AdmitProvider", "command_id": f"a{invisible}", "provider_id": "TJ-0001"})


def _id_outcome(normalise, value: str) -> tuple[str, str]:
    try:
        return "kept", normalise(value)
    except ValueError as refusal:
        return "refused", str(refusal)


#: Characters that make ids interesting: every ASCII one, blanks, controls, invisibles, bidi controls,
#: fullwidth and compatibility forms, combining marks, surrogates, private use, unassigned, astral.
_ID_CHARACTERS = [chr(c) for c in range(0x80)] + list(
    "\u0085\u00a0\u00ad\u00e9\u0301\u061c\u115f\u1680\u180e\u2000\u2028\u2029\u200b\u200d\u202e\u2066\u2800"
    "\u3000\u3164\ufe0f\ufeff\uff21\uff0d\uff10\uffa0\ufb01\u2460\u00bd\u212b\ud800\udfff\ue000\u0378"
    "\U0001d400\U000e0001\U000e0100\U0010ffff 第十三条（四）"
)


def test_the_fast_path_for_ids_answers_exactly_as_the_full_check() -> None:
    rng = random.Random(10)
    values = ["", " ", "P" * fields.MAX_ID_CHARS, "P" * (fields.MAX_ID_CHARS + 1), "TJ-2023-001", " TJ ", "~!@#$%^&*()_+`{}|:<>?"]
    values += [chr(c) for c in range(0x110000)]  # every code point alone
    values += [f"TJ-{c}-0001" for c in _ID_CHARACTERS]
    values += ["".join(rng.choices(_ID_CHARACTERS, k=rng.randint(1, 12))) for _ in range(20_000)]
    values += ["".join(rng.choices(_ID_CHARACTERS[0x20:0x7F], k=rng.randint(1, 60))) for _ in range(5_000)]
    for value in values:
        assert _id_outcome(fields.normalise_id, value) == _id_outcome(fields.normalise_id_fully, value), repr(value)


def test_article_keys_are_not_normalised() -> None:
    command = parse_command(
        {"type": "RecordFinding", "command_id": "f", "provider_id": "P", "article": "第十三条（四）", "summary": "s"}
    )
    assert isinstance(command, m.RecordFinding)
    assert command.article == "第十三条（四）"  # fullwidth brackets are the rulebook's own


# -- bounds: just below, at and above each -------------------------------------------------


def _refusal(data: dict) -> bool:
    try:
        parse_command(data)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("size, refused", [(fields.MAX_TEXT_CHARS - 1, False), (fields.MAX_TEXT_CHARS, False), (fields.MAX_TEXT_CHARS + 1, True)])
def test_text_is_bounded(size: int, refused: bool) -> None:
    assert _refusal({"type": "RefuseAdmission", "command_id": "r", "provider_id": "P", "reason": "整" * size}) is refused


@pytest.mark.parametrize("size, refused", [(fields.MAX_ID_CHARS, False), (fields.MAX_ID_CHARS + 1, True)])
def test_ids_are_bounded(size: int, refused: bool) -> None:
    assert _refusal({"type": "AdmitProvider", "command_id": "a", "provider_id": "P" * size}) is refused


@pytest.mark.parametrize("size, refused", [(fields.MAX_LIST_ITEMS - 1, False), (fields.MAX_LIST_ITEMS, False), (fields.MAX_LIST_ITEMS + 1, True)])
def test_lists_are_bounded(size: int, refused: bool) -> None:
    data = {"type": "RecordDiagnosis", "command_id": "d", "project_id": "J", "level_before": 1, "problems": ["p"] * size}
    assert _refusal(data) is refused


@pytest.mark.parametrize("size, refused", [(fields.MAX_MAPPING_ITEMS - 1, False), (fields.MAX_MAPPING_ITEMS, False), (fields.MAX_MAPPING_ITEMS + 1, True)])
def test_mappings_are_bounded(size: int, refused: bool) -> None:
    data = {
        "type": "SubmitApplication", "command_id": "s", "provider_id": "P", "jurisdiction": "tianjin", "name": "n",
        "credit_code": "91120116MA05K2XQ36", "kind": "云服务商", "profile": {f"k{i}": "v" for i in range(size)},
    }  # fmt: skip
    assert _refusal(data) is refused
    data.pop("profile")
    data["eligibility"] = {f"k{i}": 1 for i in range(size)}
    assert _refusal(data) is refused


@pytest.mark.parametrize(
    "amount, refused",
    [
        ("999999999999.98", False),
        ("999999999999.99", False),
        ("1000000000000.00", True),
        ("0.01", False),
        ("0.001", True),
        ("NaN", True),
        ("Infinity", True),
        ("-Infinity", True),
        ("1e400", True),
    ],
)
def test_amounts_are_finite_and_bounded(amount: str, refused: bool) -> None:
    data = {"type": "WithholdFees", "command_id": "w", "provider_id": "P", "amount": amount, "reason": "r", "article": "第十四条"}
    assert _refusal(data) is refused
    if not refused:
        assert parse_command(data).amount == Decimal(amount)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_parameters_and_scores_are_finite(value: float) -> None:
    assert _refusal({"type": "RecordScore", "command_id": "s", "provider_id": "P", "year": 2025, "score": value})
    assert _refusal(
        {"type": "SetRulebookParameters", "command_id": "p", "jurisdiction": "tianjin", "params": {"x": value}, "reference": "r"}
    )


def test_canonical_json_does_not_depend_on_spelling() -> None:
    a = parse_command('{"type":"AdmitProvider","command_id":"a","provider_id":"ＴＪ１"}')
    b = parse_command('{"provider_id": "TJ1",  "command_id": "a", "type": "AdmitProvider"}')
    assert isinstance(a, Command) and a.canonical_json() == b.canonical_json()


# -- import lines -----------------------------------------------------------------------------


def _import(tmp_path: Path, content: bytes):
    path = tmp_path / "commands.jsonl"
    path.write_bytes(content)
    return read_import(path)


LINE = b'{"type":"AdmitProvider","command_id":"a","provider_id":"P"}'


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    parsed = _import(tmp_path, LINE + b"\n" + b'{"type":"AdmitProvider","command_id":"b","provider_id":"P","provider_id":"Q"}\n')
    assert parsed.problems == ["line 2: duplicate key(s) 'provider_id'"]


def test_nested_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    line = b'{"type":"SetRulebookParameters","command_id":"p","jurisdiction":"tianjin","params":{"x":1,"x":2},"reference":"r"}'
    assert _import(tmp_path, line).problems == ["line 1: duplicate key(s) 'x'"]


def test_non_utf8_is_one_clear_problem(tmp_path: Path) -> None:
    parsed = _import(tmp_path, LINE + b"\n" + '{"type":"AdmitProvider","command_id":"é"}'.encode("latin-1") + b"\n")
    assert parsed.problems == ["line 2: not UTF-8: byte 0xe9 at column 39"]


def test_a_bom_is_accepted_at_the_start_only(tmp_path: Path) -> None:
    parsed = _import(tmp_path, b"\xef\xbb\xbf" + LINE + b"\n")
    assert parsed.problems == [] and len(parsed.commands) == 1
    parsed = _import(tmp_path, LINE + b"\n\xef\xbb\xbf" + LINE.replace(b'"a"', b'"b"') + b"\n")
    assert parsed.problems == ["line 2: a byte-order mark is only allowed at the start of the file"]


def test_nan_is_not_json(tmp_path: Path) -> None:
    line = b'{"type":"RecordScore","command_id":"s","provider_id":"P","year":2025,"score":NaN}'
    assert _import(tmp_path, line).problems == ["line 1: NaN is not a JSON number"]


@pytest.mark.parametrize("extra, refused", [(-1, False), (0, False), (1, True)])
def test_import_lines_are_bounded(tmp_path: Path, extra: int, refused: bool) -> None:
    head = b'{"type":"RefuseAdmission","command_id":"r","provider_id":"P","reason":"'
    tail = b'"}'
    filler = fields.MAX_IMPORT_LINE_BYTES + extra - len(head) - len(tail)
    line = head + b" " * filler + tail
    assert len(line) == fields.MAX_IMPORT_LINE_BYTES + extra
    parsed = _import(tmp_path, line + b"\n" + LINE + b"\n")
    if refused:
        assert parsed.problems == [f"line 1: longer than {fields.MAX_IMPORT_LINE_BYTES} bytes"]
        assert [n for n, _ in parsed.commands] == [2]  # the next line is still read
    else:
        # within the line limit, the text bound still applies
        assert parsed.problems == ["line 1: RefuseAdmission.reason: String should have at most 10000 characters"]


def test_the_personal_fields_refuse_the_vault_s_placeholder(samples) -> None:
    """A value starting with ``sealed:`` would be logged in the clear as if sealed, and a retry
    carrying placeholders would be taken for its first recording: refused, naming the field."""
    from ledger.personal import MARKER

    assert m.SEALED_PREFIX == MARKER
    personal = [c for c in ALL_COMMANDS if c.PERSONAL_FIELDS]
    assert m.FileComplaint in personal
    for command in personal:
        data = samples[command.__name__]
        for name in command.PERSONAL_FIELDS:
            for value in (f"sealed:complaint:X/{name}", "sealed:"):
                with pytest.raises(ValidationError) as refused:
                    parse_command({**data, name: value})
                (problem,) = refused.value.errors()
                assert problem["loc"][-1] == name and f"{name} may not start with 'sealed:'" in problem["msg"]
            for value in ("Sealed Co.", "unsealed:x", "sealed 王五"):  # only the exact prefix is the vault's
                assert getattr(parse_command({**data, name: value}), name) == value


def test_an_import_line_with_a_placeholder_is_one_problem_naming_the_field(tmp_path: Path, samples) -> None:
    data = {**samples["FileComplaint"], "complainant_name": "sealed:complaint:X/complainant_name"}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    (problem,) = read_import(path).problems
    assert problem.startswith("line 1: FileComplaint.complainant_name: ") and "may not start with 'sealed:'" in problem
