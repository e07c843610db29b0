"""Tamper evidence: rows changed or removed behind the ledger's back are caught."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

import pytest

from ledger import wire
from ledger.audit import (
    ChainBroken,
    Digest,
    export_events,
    read_export,
    recompute_hash,
    take_digest,
    verify_against_digest,
    verify_events,
    verify_export,
    verify_store,
)
from ledger.store import GENESIS_HASH, EventStore, RecordedEvent
from ledger.store.base import event_ref
from tests.integration.store_helpers import batch, event

EVENTS = 12


def build(store: EventStore, commands: int = 4, per_command: int = 3) -> list[RecordedEvent]:
    """``commands`` commands of ``per_command`` events each, over two aggregates."""
    a, b = uuid4(), uuid4()
    version = {a: 0, b: 0}
    for c in range(commands):
        events = []
        for k in range(per_command):
            target = a if (c + k) % 2 == 0 else b
            version[target] += 1
            events.append(event(target, version[target], state={"c": c, "k": k, "注": "整改"}))
        store.append(batch(f"cmd-{c}", events))
    return list(store.read_all())


def rehashed(events: list[RecordedEvent], start: int, **changes: object) -> list[RecordedEvent]:
    """The chain an attacker who knows the algorithm writes: event ``start`` changed, hashes redone from there."""
    out: list[RecordedEvent] = []
    prev = GENESIS_HASH
    for e in events:
        if e.position == start:
            e = dataclasses.replace(e, **changes)  # type: ignore[arg-type]
        if e.position >= start:
            e = dataclasses.replace(e, prev_hash=prev)
            e = dataclasses.replace(e, hash=recompute_hash(e))
        out.append(e)
        prev = e.hash
    return out


# -- the store -----------------------------------------------------------------------


def test_an_untouched_log_verifies(store: EventStore) -> None:
    assert verify_store(store).ok  # empty
    events = build(store)
    report = verify_store(store)
    assert report.ok, report.summary()
    assert (report.checked, report.head_position, report.head_hash) == (EVENTS, EVENTS, events[-1].hash)
    assert report.first_bad_position is None and report.first_bad_ref is None


@pytest.mark.parametrize("k", [1, 5, EVENTS])
def test_an_altered_event_is_named(store: EventStore, raw_db, k: int) -> None:
    events = build(store)
    raw_db.tamper_update(k, state='{"c":0,"k":0,"注":"已整改"}')
    report = verify_store(store)
    assert not report.ok
    assert report.first_bad_position == k
    assert report.first_bad_ref == events[k - 1].ref
    assert "altered" in report.reason
    assert report.checked == k - 1 and report.head_position == k - 1


@pytest.mark.parametrize(
    "column, value",
    [
        ("recorded_by", "someone else"),
        ("command_id", "cmd-forged"),
        ("topic", "tests.things:Thing.Forged"),
        ("originator_version", 99),
    ],
)
def test_any_altered_column_is_caught(store: EventStore, raw_db, column: str, value: object) -> None:
    events = build(store)
    raw_db.tamper_update(7, **{column: value})
    report = verify_store(store)
    assert (report.ok, report.first_bad_position) == (False, 7)
    version = value if column == "originator_version" and isinstance(value, int) else events[6].originator_version
    assert report.first_bad_ref == event_ref(events[6].originator_id, version)  # the row as it now reads


def test_an_altered_and_rehashed_event_breaks_the_next_link(store: EventStore, raw_db) -> None:
    events = build(store)
    forged = rehashed(events, 4, state='{"forged":true}')[3]
    raw_db.tamper_update(4, state=forged.state, hash=forged.hash)
    report = verify_store(store)
    assert (report.ok, report.first_bad_position, report.first_bad_ref) == (False, 5, events[4].ref)
    assert "prev_hash" in report.reason


def test_a_deleted_event_leaves_a_gap_that_is_named(store: EventStore, raw_db) -> None:
    events = build(store)
    raw_db.tamper_delete(6)
    report = verify_store(store)
    assert not report.ok
    assert report.first_bad_position == 6
    assert report.first_bad_ref == events[6].ref  # the event found where 6 should be
    assert "missing" in report.reason
    assert report.checked == 5


def test_a_deleted_first_event_is_caught(store: EventStore, raw_db) -> None:
    build(store)
    raw_db.tamper_delete(1)
    report = verify_store(store)
    assert (report.ok, report.first_bad_position, report.checked) == (False, 1, 0)


# -- exports -------------------------------------------------------------------------


def test_an_export_verifies_offline(store: EventStore, tmp_path: Path) -> None:
    events = build(store)
    path = tmp_path / "out" / "ledger.jsonl"
    summary = export_events(store, path)
    assert (summary.count, summary.head_position, summary.head_hash) == (EVENTS, EVENTS, events[-1].hash)
    assert not path.with_name(path.name + ".part").exists()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == EVENTS
    assert json.loads(lines[0]) == wire.to_export(events[0])
    assert "整改" in lines[0]  # UTF-8, not escaped
    assert list(read_export(path)) == events
    report = verify_export(path)
    assert report.ok and report.checked == EVENTS and report.head_hash == events[-1].hash


def test_an_export_with_progress_bar(store: EventStore, tmp_path: Path, capsys) -> None:
    build(store)
    export_events(store, tmp_path / "ledger.jsonl", progress=True)
    assert verify_export(tmp_path / "ledger.jsonl", progress=True).ok
    assert verify_store(store, progress=True).ok
    assert "exporting" in capsys.readouterr().err


def test_a_tampered_export_line_is_caught(store: EventStore, tmp_path: Path) -> None:
    events = build(store)
    path = tmp_path / "ledger.jsonl"
    export_events(store, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[7])
    line["recorded_by"] = "someone else"
    lines[7] = json.dumps(line, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_export(path)
    assert (report.ok, report.first_bad_position, report.first_bad_ref) == (False, 8, events[7].ref)


def test_a_dropped_export_line_is_caught(store: EventStore, tmp_path: Path) -> None:
    build(store)
    path = tmp_path / "ledger.jsonl"
    export_events(store, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    del lines[2]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_export(path)
    assert (report.ok, report.first_bad_position) == (False, 3)


def test_a_malformed_export_line_is_reported_not_raised(store: EventStore, tmp_path: Path) -> None:
    build(store)
    path = tmp_path / "ledger.jsonl"
    export_events(store, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4][:40]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_export(path)
    assert (report.ok, report.first_bad_position, report.checked) == (False, 5, 4)
    assert "line 5" in report.reason


# -- digests -------------------------------------------------------------------------


def test_a_cut_off_tail_is_caught_by_the_digest_only(store: EventStore, raw_db, tmp_path: Path) -> None:
    events = build(store)
    digest = take_digest(store)
    assert (digest.position, digest.hash) == (EVENTS, events[-1].hash)
    digest.save(tmp_path / "digest.json")
    kept = Digest.load(tmp_path / "digest.json")
    assert kept == digest
    assert verify_against_digest(store, kept).ok

    raw_db.tamper_delete(EVENTS, EVENTS - 1)
    assert verify_store(store).ok  # the shorter chain is sound in itself
    report = verify_against_digest(store, kept)
    assert not report.ok
    assert report.first_bad_position == EVENTS - 1
    assert "removed" in report.reason


def test_a_rewritten_chain_is_caught_by_the_digest_only(store: EventStore, raw_db) -> None:
    events = build(store)
    digest = take_digest(store)
    for e in rehashed(events, 3, state='{"rewritten":true}')[2:]:
        raw_db.tamper_update(e.position, state=e.state, prev_hash=e.prev_hash, hash=e.hash)
    assert verify_store(store).ok  # the attacker re-hashed everything after the change
    report = verify_against_digest(store, digest)
    # the digest's checkpoints locate the first rewritten event
    assert (report.ok, report.first_bad_position, report.first_bad_ref) == (False, 3, events[2].ref)
    assert "part ways at position 3" in report.reason and "rewritten" in report.reason


def test_a_digest_holds_while_the_log_grows(store: EventStore) -> None:
    build(store)
    digest = take_digest(store)
    a = uuid4()
    store.append(batch("later", [event(a, 1), event(a, 2)]))
    report = verify_against_digest(store, digest)
    assert report.ok and report.head_position == EVENTS + 2


def test_a_digest_of_an_empty_log(store: EventStore) -> None:
    digest = take_digest(store, verify=False)
    assert (digest.position, digest.hash) == (0, GENESIS_HASH)
    assert verify_against_digest(store, digest).ok
    build(store)
    assert verify_against_digest(store, digest).ok
    unverified = take_digest(store, verify=False)
    assert (unverified.position, unverified.hash) == (EVENTS, list(store.read_all())[-1].hash)


def test_no_digest_of_a_broken_chain(store: EventStore, raw_db) -> None:
    build(store)
    raw_db.tamper_update(2, state="{}")
    with pytest.raises(ChainBroken) as raised:
        take_digest(store)
    assert raised.value.report.first_bad_position == 2


# -- verify_events on its own --------------------------------------------------------


def _chain(n: int) -> list[RecordedEvent]:
    a = uuid4()
    when = datetime(2025, 1, 1, tzinfo=timezone.utc)
    out: list[RecordedEvent] = []
    prev = GENESIS_HASH
    for p in range(1, n + 1):
        e = RecordedEvent(p, a, p, "t", "{}", when, None, "me", f"c{p}", prev, "")
        e = dataclasses.replace(e, hash=recompute_hash(e))
        out.append(e)
        prev = e.hash
    return out


def test_verify_events_checks_order_and_links() -> None:
    chain = _chain(5)
    assert verify_events(chain).ok
    assert verify_events([]).ok and verify_events([]).head_hash == GENESIS_HASH
    swapped = [chain[0], chain[2], chain[1], *chain[3:]]
    assert verify_events(swapped).first_bad_position == 2
    repeated = [chain[0], chain[1], chain[1], *chain[2:]]
    report = verify_events(repeated)
    assert (report.first_bad_position, report.checked) == (3, 2)
    not_from_one = chain[1:]
    assert verify_events(not_from_one).first_bad_position == 1
    foreign = dataclasses.replace(chain[0], prev_hash="f" * 64)
    foreign = dataclasses.replace(foreign, hash=recompute_hash(foreign))
    assert verify_events([foreign, *chain[1:]]).first_bad_position == 1
