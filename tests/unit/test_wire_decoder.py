"""The one decoder (orjson + one pass of transcodings) makes exactly what the eventsourcing Mapper made.

The oracle is the library's own path — ``JSONTranscoder.decode`` (``json`` with an ``object_hook``
per object) and ``Mapper.to_domain_event`` — run over every event of the demo ledger, every
provider's snapshot, and the JSON texts where orjson and ``json`` differ.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent, TranscodingNotRegisteredError
from eventsourcing.utils import get_topic

from ledger import wire
from ledger.aggregates import Provider
from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.commands.handlers import HANDLERS
from ledger.demo import DEMO_START, demo_plan, run_demo
from tests.support.memory_store import MemoryEventStore


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``date`` is not a ``datetime``, ``1`` not ``1.0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | Decimal) and a != a:
        return b != b  # NaN
    return bool(a == b)


def library_state(text: str) -> Any:
    return wire._mapper.transcoder.decode(text.encode("utf-8"))


def library_event(recorded: Any) -> Any:
    cls = wire.EVENT_TYPES[wire.event_type(recorded)]
    stored = StoredEvent(recorded.originator_id, recorded.originator_version, get_topic(cls), recorded.state.encode("utf-8"))
    return wire._mapper.to_domain_event(stored)


@pytest.fixture(scope="module")
def demo_ledger() -> Ledger:
    ledger = Ledger(MemoryEventStore(), ManualClock(DEMO_START), handlers=HANDLERS)
    run_demo(ledger, demo_plan())
    return ledger


def test_every_event_of_the_demo_ledger_decodes_to_the_mappers_domain_event(demo_ledger: Ledger) -> None:
    events = list(demo_ledger.store.read_all())
    assert len(events) > 5000
    names = set()
    for recorded in events:
        names.add(wire.event_type(recorded))
        expected = library_event(recorded)
        got = wire.decode(recorded)
        assert type(got) is type(expected), recorded.ref
        assert same(vars(got), vars(expected)), recorded.ref
        assert got == expected
        assert same(wire.decode_state(recorded), library_state(recorded.state)), recorded.ref
    assert len(names) >= 30, "the demo ledger exercises most event types"


def test_every_event_of_the_demo_ledger_encodes_as_the_mapper_encodes_it(demo_ledger: Ledger) -> None:
    """``wire.encode`` writes a new event's state as the library's ``Mapper.to_stored_event`` does,
    byte for byte (the chain hashes that text), and stores it as recorded: each event of the demo
    ledger, decoded, encodes to the text the log holds."""
    versions = set()
    for recorded in demo_ledger.store.read_all():
        domain_event = library_event(recorded)
        versions.add(getattr(type(domain_event), "class_version", 1))
        new = wire.encode(domain_event)
        stored = wire._mapper.to_stored_event(domain_event)
        assert new.state == stored.state.decode("utf-8") == recorded.state, recorded.ref
        assert (new.originator_id, new.originator_version, new.topic) == (recorded.originator_id, recorded.originator_version, recorded.topic)
        assert (new.recorded_at, new.effective_on) == (recorded.recorded_at, recorded.effective_on), recorded.ref
    assert versions == {1, 2}, "events of a class version above 1 are among them"


def test_every_providers_snapshot_decodes_as_the_mapper_decoded_it(demo_ledger: Ledger) -> None:
    for originator_id in wire.aggregate_ids(demo_ledger.store, "provider"):
        provider: Any = None
        for recorded in demo_ledger.store.read_aggregate(originator_id):
            provider = library_event(recorded).mutate(provider)
        assert isinstance(provider, Provider)
        text = wire.encode_snapshot(provider)
        stored = StoredEvent(originator_id, provider.version, wire._SNAPSHOT_TOPIC, text.encode("utf-8"))
        expected = wire._mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
        got = wire.decode_snapshot(originator_id, provider.version, text)
        assert type(got) is type(expected)
        assert same(vars(got), vars(expected)), provider.provider_id
        assert same(dict(sorted(vars(got).items())), dict(sorted(vars(provider).items())))  # a snapshot reorders the attributes


def test_every_aggregate_of_the_demo_ledger_folds_by_decoded_event_as_by_the_mappers_events(demo_ledger: Ledger) -> None:
    """``DecodedEvent.mutate`` (the projections' fold, calling the ``@event`` methods directly) leaves
    every aggregate exactly as the library's ``mutate`` of the Mapper's events, after every event."""
    by_aggregate: dict[UUID, list[Any]] = {}
    for recorded in demo_ledger.store.read_all():
        by_aggregate.setdefault(recorded.originator_id, []).append(recorded)
    direct = 0
    for events in by_aggregate.values():
        expected: Any = None
        got: Any = None
        for recorded in events:
            expected = library_event(recorded).mutate(expected)
            decoded = wire.DecodedEvent.of(recorded)
            direct += wire._direct_method(wire.EVENT_TYPES[decoded.name]) is not None and got is not None
            got = decoded.mutate(got)
            assert type(got) is type(expected), recorded.ref
            assert same(vars(got), vars(expected)), recorded.ref
    assert direct > 5000, "most events take the direct path"


def test_the_direct_fold_refuses_an_event_out_of_sequence_or_of_another_aggregate(demo_ledger: Ledger) -> None:
    from eventsourcing.domain import OriginatorIDError, OriginatorVersionError

    originator_id = wire.aggregate_ids(demo_ledger.store, "provider")[0]
    first, second, third = list(demo_ledger.store.read_aggregate(originator_id))[:3]
    provider = wire.DecodedEvent.of(first).mutate(None)
    assert wire._direct_method(wire.EVENT_TYPES[wire.event_type(third)]) is not None
    with pytest.raises(OriginatorVersionError):
        wire.DecodedEvent.of(third).mutate(provider)
    other = next(i for i in wire.aggregate_ids(demo_ledger.store, "provider") if i != originator_id)
    stranger = wire.DecodedEvent.of(second.__class__(**{**vars(second), "originator_id": other}))
    with pytest.raises(OriginatorIDError):
        stranger.mutate(provider)
    assert provider.version == 1


def test_an_older_class_version_is_upcast_as_the_mapper_does() -> None:
    from tests.unit.test_wire import _recorded

    new = wire.encode(_filed_v1())
    legacy = _recorded(new.__class__(**{**vars(new), "topic": "ledger.aggregates.complaint:Complaint.Filed"}))
    state = json.loads(legacy.state)
    state.pop("nature")
    state.pop("class_version", None)
    legacy = legacy.__class__(**{**vars(legacy), "state": json.dumps(state, ensure_ascii=False, separators=(",", ":"))})
    expected, got = library_event(legacy), wire.decode(legacy)
    assert same(vars(got), vars(expected))
    assert got.nature == "complaint"  # type: ignore[attr-defined]


def _filed_v1() -> Any:
    from ledger.aggregates import Complaint
    from ledger.clock import FixedClock, clock_scope

    with clock_scope(FixedClock(datetime(2025, 3, 1, 2, 0).astimezone())):
        complaint = Complaint(
            complaint_id="C-1", provider_id="TJ-1", jurisdiction="tianjin", nature="complaint", complainant_kind="enterprise",
            complainant_name="E", contact=None, real_name=True, subject="late", evidence=[], enterprise_id="E-1",
            effective_on=date(2025, 2, 1),
        )  # fmt: skip
    return complaint.collect_events()[0]


@pytest.mark.parametrize(
    "text",
    [
        '{"a":NaN,"b":Infinity,"c":-Infinity}',  # json accepts, orjson refuses
        '{"big":123456789012345678901234567890,"neg":-98765432109876543210}',  # orjson: floats
        '[18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,1e19,-1e19,9.3e18]',
        '{"in":[[{"deep":-9223372036854775809}]]}',
        "123456789012345678901234567890",
        '{"s":"\\ud800 lone surrogate"}',
        '{"dup":1,"dup":{"_type_":"date_iso","_data_":"2025-01-02"}}',
        '{"x":1.0,"y":1e16,"z":-0.0,"w":0.1,"v":5e-324,"u":1.7976931348623157e308}',
        '[{"_type_":"date_iso","_data_":"2025-01-02"},[{"_type_":"uuid_hex","_data_":"' + uuid4().hex + '"}]]',
        '{"_type_":"decimal_str","_data_":"12.50"}',
        '{"_type_":"datetime_iso","_data_":"2025-01-02T03:04:05.000006+08:00"}',
        '{"nested":{"deeper":[{"_type_":"date_iso","_data_":"2025-01-02","extra":1},{"_type_":"x"},{"_data_":"y"}]}}',
        '{"_type_":"date_iso","_data_":"2025-01-02","_other_":1}',
        '"just a string"',
        "42",
        "null",
        '{"escapes":"tab\\t nl\\n quote\\" nul\\u0000 中文 \\u2028"}',
    ],
)
def test_texts_where_orjson_and_json_differ_decode_as_the_transcoder_does(text: str) -> None:
    assert same(wire.decode_json(text), library_state(text))


def _transcoded(name: str, data: str) -> str:
    return json.dumps({"v": {"_type_": name, "_data_": data}})


def test_every_registered_transcoding_revives_as_its_own_decode() -> None:
    samples = {
        "uuid_hex": [uuid4().hex, str(uuid4()), "{" + str(uuid4()) + "}"],
        "datetime_iso": ["2025-01-02T03:04:05+00:00", "2025-01-02T03:04:05.123456", "2025-01-02 03:04"],
        "date_iso": ["2025-01-02", "20250102"],
        "decimal_str": ["12.50", "-0", "1E+3", "NaN"],
    }
    assert set(wire._REVIVERS) == set(wire._json_transcoder.names) == set(samples)
    for name, texts in samples.items():
        for text in texts:
            obj = _transcoded(name, text)
            assert same(wire.decode_json(obj), library_state(obj)), obj
    for name, bad in (("uuid_hex", "nope"), ("date_iso", "2025-13-01"), ("datetime_iso", "x"), ("decimal_str", "x")):
        obj = _transcoded(name, bad)
        with pytest.raises(Exception) as ours:
            wire.decode_json(obj)
        with pytest.raises(Exception) as theirs:
            library_state(obj)
        assert type(ours.value) is type(theirs.value)


def test_unknown_transcodings_and_bad_json_fail_as_before() -> None:
    with pytest.raises(TranscodingNotRegisteredError, match="'set_list' is not deserializable"):
        wire.decode_json('{"v":{"_type_":"set_list","_data_":[1]}}')
    with pytest.raises(json.JSONDecodeError):
        wire.decode_json('{"v":')
    recorded = _bad_event('{"effective_on":{"_type_":"nope","_data_":"x"}}')
    with pytest.raises(MapperDeserialisationError, match="provider.admitted.v1|Provider.Admitted"):
        wire.decode(recorded)
    assert isinstance(wire.decode_json('{"d":{"_type_":"decimal_str","_data_":"1.10"}}')["d"], Decimal)
    assert isinstance(wire.decode_json(_transcoded("uuid_hex", uuid4().hex))["v"], UUID)


def _bad_event(state: str) -> Any:
    from ledger.store.base import GENESIS_HASH, RecordedEvent

    return RecordedEvent(1, uuid4(), 2, "provider.admitted.v1", state, datetime(2025, 1, 1).astimezone(), None, "me", "c1", GENESIS_HASH, "0" * 64)


def test_read_model_json_of_a_string_is_json_dumps_of_it_for_every_character() -> None:
    from ledger.projections.db import dumps

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for text in (every, "", "\ud800 lone", "a\"b\\c\x00\x1f\x7f\u2028"):
        assert dumps(text) == json.dumps(text, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert dumps({"b": 1, "a": [date(2025, 1, 2)]}) == '{"a":["2025-01-02"],"b":1}'


def test_read_model_json_is_json_dumps_of_the_value() -> None:
    from enum import StrEnum

    from ledger.projections.db import _json_default, dumps

    class Kind(StrEnum):
        WARNING = "warning"

    values: list[Any] = [
        [], {}, [""], ["a", "中\"\\\x00\u2028"], ["a", 1], ["a", None], [["a"]], ["a", Kind.WARNING], [Kind.WARNING],
        ("a", "b"), (), {"b": [], "a": {}}, {"pack_version": "2025.1"}, {"kinds": ["warning"]}, [date(2025, 1, 2), "x"],
        {"z": 1.5, "y": 1e16, "x": float("nan"), "w": 10**30, "v": Decimal("1.10"), "u": uuid4(), "t": frozenset({"a"})},
        0, 1.0, None, True, Kind.WARNING, [{"b": 1, "a": "\ud800"}],
    ]
    for value in values:
        assert dumps(value) == json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default), value
    keys = ["b", "a", "B", "é", "中", "文", "\U0001f600", "\uffff", "a\x00", "", "10", "9"]
    for value in (
        {k: [date(2025, 1, 2), {k: i}] for i, k in enumerate(keys)},  # sorted by code point, nested too
        {"floats": [0.0, -0.0, 1e-4, 87.5, 9999999999999998.0, 1e16, 1.5e-05, 5e-324, float("inf")]},
        {"at": datetime(2025, 1, 2, 3, 4, 5, 6).astimezone(), "on": date(2025, 1, 2), "s": {"x", "y"}, "t": ("a", uuid4())},
        {"big": 2**64, "lone": "\ud800", "enum": Kind.WARNING, "keys": {1: "one"}},
    ):
        assert dumps(value) == json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default), value


def test_read_model_json_of_every_providers_standing_is_json_dumps_of_it(demo_ledger: Ledger) -> None:
    from ledger.projections.db import _json_default, dumps
    from ledger.standing import standing

    for originator_id in wire.aggregate_ids(demo_ledger.store, "provider"):
        provider: Any = None
        for recorded in demo_ledger.store.read_aggregate(originator_id):
            provider = library_event(recorded).mutate(provider)
        value = standing(provider)
        assert dumps(value) == json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default)
    with pytest.raises(TypeError, match="cannot encode object"):
        dumps([object()])


def test_every_providers_snapshot_state_is_written_as_the_transcoder_writes_it(demo_ledger: Ledger) -> None:
    """``encode_json`` (orjson) writes the demo's provider states byte for byte as the transcoder does."""
    for originator_id in wire.aggregate_ids(demo_ledger.store, "provider"):
        provider: Any = None
        for recorded in demo_ledger.store.read_aggregate(originator_id):
            provider = library_event(recorded).mutate(provider)
        state = dict(vars(Provider.Snapshot.take(provider)))
        del state["originator_id"], state["originator_version"]
        assert wire.encode_json(state) == library_text(state), provider.provider_id


class _Text(str):
    pass


@pytest.mark.parametrize(
    "state",
    [
        {"every": "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)},
        {"on": date(2025, 1, 2), "at": datetime(2025, 1, 2, 3, 4, 5, 6).astimezone(), "id": uuid4(), "fee": Decimal("12.50")},
        {"nested": [{"on": date(2025, 1, 2)}, ("a", (date(2025, 1, 3), None)), [], {}], "flag": False, "n": 0},
        {"floats": [1.0, -0.0, 0.0, 0.1, 1e-4, 9999999999999998.0, 87.5, 1e15 + 0.5]},
        # where orjson would write another text, another value, or refuses: the transcoder writes these
        {"exponents": [1e16, 1.5e-05, 5e-324, 1.7976931348623157e308, 2.0**63, -1e-7]},
        {"ints": [2**63 - 1, -(2**63), 2**64 - 1]},
        {"nan": float("nan")},
        {"inf": [float("inf"), float("-inf")]},
        {"big": 2**64},
        {"negative": -(2**63) - 1},
        {"keys": {1: "a", None: "b", 2.5: "c"}},
        {"subclass": _Text("text"), "as_key": {_Text("k"): 1}},
    ],
    ids=lambda state: next(iter(state)),
)
def test_encode_json_writes_the_transcoders_text(state: dict[str, Any]) -> None:
    """orjson where it writes the same text (every character escaped alike), the transcoder elsewhere."""
    assert wire.encode_json(state) == library_text(state)


def test_encode_json_refuses_what_the_transcoder_refuses() -> None:
    with pytest.raises(TypeError, match="not serializable"):
        wire.encode_json({"v": [object()]})
    with pytest.raises(TypeError, match="not serializable"):
        wire.encode_json({"v": {1, 2}})
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8
        library_text({"lone": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        wire.encode_json({"lone": "\ud800"})


def library_text(value: Any) -> str:
    text: str = wire._json_transcoder.encode(value).decode("utf-8")
    return text


def test_attributes_read_lazily_are_the_attributes_and_summarise_alike(demo_ledger: Ledger) -> None:
    from ledger.projections.timeline import summarize

    for recorded in demo_ledger.store.read_all():
        full = wire.decode_json(recorded.state)
        lazy = wire.DecodedEvent.of(recorded).attributes_read_lazily()
        assert isinstance(lazy, wire.LazyAttributes)
        assert summarize(wire.event_type(recorded), lazy) == summarize(wire.event_type(recorded), full)
        for key in full:
            assert same(lazy[key], full[key]) and lazy[key] is lazy[key], key  # decoded once
        assert lazy.get("no such attribute") is None and lazy.get("no such attribute", 1) == 1
        with pytest.raises(KeyError):
            lazy["no such attribute"]


@pytest.mark.parametrize(
    "text",
    [
        '{"a":NaN,"b":1}',  # orjson refuses the text: decoded whole
        '{"big":123456789012345678901234567890,"on":{"_type_":"date_iso","_data_":"2025-01-02"}}',  # beyond orjson
        '{"in":[[{"deep":-9223372036854775809}]],"x":1.5}',
        '{"_type_":"date_iso","_data_":"2025-01-02"}',  # not an object of attributes
        '{"on":{"_type_":"date_iso","_data_":"2025-01-02","extra":1},"ids":[{"_type_":"uuid_hex","_data_":"' + uuid4().hex + '"}]}',
    ],
)
def test_attributes_read_lazily_where_orjson_and_json_differ(text: str) -> None:
    event = wire.DecodedEvent(1, uuid4(), 1, "provider.admitted.v1", text, datetime(2025, 1, 1).astimezone(), None, "me", "c1")
    full = wire.decode_json(text)
    lazy = event.attributes_read_lazily()
    if not isinstance(full, dict):
        assert same(lazy, full)
        return
    for key in full:
        assert same(lazy[key], full[key]), key
