"""The event contract: registered names, encoding and decoding, legacy topics."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import cast

import pytest

from ledger import wire
from ledger.aggregates import Appeal, Complaint, Entity, Project, Provider, Rulebook
from ledger.aggregates.base import LedgerAggregate
from ledger.clock import FixedClock, clock_scope
from ledger.store.base import GENESIS_HASH, RecordedEvent, chain_hash

WHEN = datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc)


def _event_classes() -> list[type]:
    found = []
    for aggregate in (Provider, Project, Complaint, Appeal, Rulebook, Entity):
        for attr, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, LedgerAggregate.Event)
                and attr not in ("Event", "Created", "Snapshot")
            ):
                found.append(value)
    return found


def _recorded(new, position: int = 1) -> RecordedEvent:
    args = (position, new.originator_id, new.originator_version, new.topic, new.state, new.recorded_at, new.effective_on, "me", "c1")
    return RecordedEvent(*args, GENESIS_HASH, chain_hash(GENESIS_HASH, *args))


def _collected(aggregate: LedgerAggregate) -> list[LedgerAggregate.Event]:
    return cast(list[LedgerAggregate.Event], aggregate.collect_events())


def _applied() -> Provider:
    with clock_scope(FixedClock(WHEN)):
        return Provider(
            provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", kind="云服务商",
            profile={}, eligibility={}, effective_on=date(2025, 2, 20),
        )  # fmt: skip


def test_every_event_class_has_one_registered_name_of_the_contracted_form() -> None:
    classes = _event_classes()
    assert set(classes) == set(wire.EVENT_TYPES.values())
    # one name per class, and the older names of classes that gained attributes (complaint.filed.v1)
    assert len(wire.EVENT_TYPES) == len(classes) + len(wire.ADDED_IN)
    for name, cls in wire.EVENT_TYPES.items():
        assert wire.NAME_PATTERN.match(name), name
        assert name.split(".")[0] in wire.AGGREGATES
        assert issubclass(cls, wire.AGGREGATES[name.split(".")[0]].Event)
    assert wire.name_of(vars(Provider)["SanctionImposed"]) == "provider.sanction-imposed.v1"
    # every name from before the registry has its own legacy topic; later names have none
    assert len(wire.LEGACY_TOPICS) == sum(1 for *_, legacy in wire._REGISTRY if legacy)
    assert len(set(wire.LEGACY_TOPICS.values())) == len(wire.LEGACY_TOPICS)


def test_an_event_round_trips_under_its_registered_name() -> None:
    provider = _applied()
    [event] = _collected(provider)
    new = wire.encode(event)
    assert new.topic == "provider.applied.v1"
    assert new.effective_on == date(2025, 2, 20)
    assert json.loads(new.state)["provider_id"] == "TJ-1"
    recorded = _recorded(new)
    assert wire.event_type(recorded) == "provider.applied.v1"
    decoded = wire.decode(recorded)
    applied = vars(Provider)["Applied"]
    assert type(decoded) is applied
    mutated = decoded.mutate(None)
    assert isinstance(mutated, Provider) and mutated.provider_id == "TJ-1"
    assert wire.decode_state(recorded)["effective_on"] == date(2025, 2, 20)


def test_renaming_or_moving_a_class_does_not_change_what_is_stored() -> None:
    [event] = _collected(_applied())
    before = wire.encode(event)
    cls = vars(Provider)["Applied"]
    names = (cls.__qualname__, cls.__name__, cls.__module__)
    cls.__qualname__, cls.__name__, cls.__module__ = "Provider.AppliedForAdmission", "AppliedForAdmission", "ledger.renamed"
    try:
        after = wire.encode(event)
        decoded = wire.decode(_recorded(after))
    finally:
        cls.__qualname__, cls.__name__, cls.__module__ = names
    assert after == before and after.topic == "provider.applied.v1"
    assert type(decoded) is cls


def test_a_legacy_module_path_topic_still_decodes_to_the_same_event() -> None:
    [event] = _collected(_applied())
    new = wire.encode(event)
    legacy = _recorded(type(new)(**{**new.__dict__, "topic": "ledger.aggregates.provider:Provider.Applied"}))
    assert wire.event_type(legacy) == "provider.applied.v1"
    assert wire.is_event_of(legacy, "provider") and not wire.is_event_of(legacy, "project")
    assert wire.decode(legacy).__dict__ == wire.decode(_recorded(new)).__dict__


def test_unknown_topics_and_unregistered_classes_are_refused_by_name() -> None:
    with pytest.raises(wire.UnknownEventType, match="unknown event type 'provider.teleported.v1'"):
        wire.event_type("provider.teleported.v1")

    class Stray(LedgerAggregate.Event):
        pass

    with pytest.raises(wire.UnknownEventType, match="no registered name"):
        wire.name_of(Stray)


def test_an_export_line_round_trips_and_names_its_format() -> None:
    [event] = _collected(_applied())
    recorded = _recorded(wire.encode(event))
    line = wire.to_export(recorded)
    assert line["format"] == wire.FORMAT_VERSION
    assert wire.from_export(json.loads(json.dumps(line))) == recorded
    del line["format"]  # exports written before the format was named
    assert wire.from_export(line) == recorded
    with pytest.raises(ValueError, match="export format 99 is not supported"):
        wire.from_export({**line, "format": 99})
    with pytest.raises(ValueError, match="field 'position' must be int"):
        wire.from_export({**line, "position": "1"})
