"""Persistent snapshots: a fresh ledger reads a long aggregate's snapshot and tail, never trusting
the snapshot over the log (``ledger.snapshots``)."""
from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from ledger.aggregates import Provider
from ledger.application import Ledger
from ledger.audit.verify import verify_store
from ledger.bootstrap import bootstrap
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.projections.db import ReadModelDB
from ledger.settings import Settings
from ledger.snapshots import TABLE, SnapshotStore, digest
from ledger.store import open_store
from tests.integration.scenario import Scenario, profile_changes_in_log
from tests.support.counting_store import CountingStore

EVERY = 10


def change(provider_id: str, value: str) -> m.RecordProfileChange:
    return m.RecordProfileChange(
        command_id=f"change-{uuid4()}", provider_id=provider_id, field="address", new_value=value,
        changed_on=date(2025, 3, 1), reported_on=date(2025, 3, 1),
    )  # fmt: skip


def fresh(ledger: Ledger, every: int = EVERY) -> Ledger:
    """Another ledger on the same database, as a new process would start: empty cache, counting reads."""
    fresh_ledger = Ledger(CountingStore(open_store(ledger.store.database_url)).as_store(), clock=ledger.clock, handlers=HANDLERS)
    fresh_ledger.snapshots = SnapshotStore(ledger.store.database_url, every)
    return fresh_ledger


@pytest.fixture
def snapshotting(ledger: Ledger) -> Ledger:
    ledger.snapshots = SnapshotStore(ledger.store.database_url, EVERY)
    return ledger


def grow(scenario: Scenario, provider_id: str, version: int) -> Provider:
    """Record profile changes until the provider is at ``version``."""
    while scenario.provider(provider_id).version < version:
        scenario.ledger.execute(change(provider_id, f"No. {scenario.provider(provider_id).version}"))
    return scenario.provider(provider_id)


def snapshot_rows(database_url: str) -> dict[str, tuple]:
    db = ReadModelDB(database_url)
    try:
        with db.transaction(write=False) as tx:
            return {row[0]: row[1:] for row in tx.fetchall(f"SELECT originator_id, version, event_hash, state, state_digest FROM {TABLE}")}
    finally:
        db.close()


def tamper(database_url: str, originator_id: UUID, **columns) -> None:
    db = ReadModelDB(database_url)
    try:
        with db.transaction() as tx:
            for column, value in columns.items():
                tx.execute(f"UPDATE {TABLE} SET {column} = ? WHERE originator_id = ?", (value, str(originator_id)))
    finally:
        db.close()


def state_of(aggregate) -> dict:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_due_just_below_at_and_above_the_interval(tmp_path):
    snapshots = SnapshotStore(f"sqlite:///{tmp_path}/none.db", EVERY)
    some = uuid4()
    assert not snapshots.due(some, EVERY - 1)
    assert snapshots.due(some, EVERY)
    assert snapshots.due(some, EVERY + 1)
    assert not SnapshotStore(f"sqlite:///{tmp_path}/none.db", 0).due(some, 10_000)
    with pytest.raises(ValueError, match="negative"):
        SnapshotStore(f"sqlite:///{tmp_path}/none.db", -1)


def test_a_snapshot_is_taken_once_an_aggregate_is_every_events_past_the_last(scenario, snapshotting, database_url):
    scenario.admit("TS-1", "tangshan")
    provider_id = Provider.create_id("TS-1")
    grow(scenario, "TS-1", EVERY - 1)
    assert snapshotting.snapshots.taken == 0
    grow(scenario, "TS-1", EVERY)
    assert snapshot_rows(database_url)[str(provider_id)][0] == EVERY
    grow(scenario, "TS-1", 2 * EVERY - 1)
    assert snapshot_rows(database_url)[str(provider_id)][0] == EVERY  # not yet due again
    grow(scenario, "TS-1", 2 * EVERY)
    version, event_hash, state, state_digest = snapshot_rows(database_url)[str(provider_id)]
    assert version == 2 * EVERY
    assert event_hash == snapshotting.store.read_refs([f"{provider_id}/{version}"])[f"{provider_id}/{version}"].hash
    assert state_digest == digest(state)


def test_a_fresh_ledger_reads_the_snapshot_and_at_most_every_events(scenario, snapshotting):
    scenario.admit("TS-1", "tangshan")
    grow(scenario, "TS-1", 3 * EVERY + 4)
    provider_id = Provider.create_id("TS-1")
    expected = scenario.provider("TS-1")  # folded from the whole log (no snapshots on this path)

    cold = fresh(snapshotting)
    try:
        result = cold.execute(change("TS-1", "after the restart"))
        assert result.positions and not result.duplicate
        assert cold.store.events_read[provider_id] <= EVERY  # the snapshot's event and the tail, not 34 events
        assert cold.store.events_read[provider_id] == 3 * EVERY + 4 - 3 * EVERY + 1
        assert cold.snapshots.ignored == 0
        # the state from the snapshot and the tail is the fold's
        assert state_of(cold.load(Provider, "TS-1")) == state_of(scenario.ledger.load(Provider, "TS-1"))
        assert cold.load(Provider, "TS-1").version == expected.version + 1
    finally:
        cold.close()
    assert verify_store(scenario.ledger.store).ok


def test_without_snapshots_a_fresh_ledger_folds_the_whole_history(scenario, snapshotting):
    scenario.admit("TS-1", "tangshan")
    grow(scenario, "TS-1", 2 * EVERY + 3)
    cold = fresh(snapshotting, every=0)  # snapshots off: the baseline the figure is measured against
    cold.snapshots = None
    try:
        cold.execute(change("TS-1", "after the restart"))
        assert cold.store.events_read[Provider.create_id("TS-1")] == 2 * EVERY + 3
    finally:
        cold.close()


def forged_state(ledger: Ledger, provider_id: str) -> str:
    """A well-formed snapshot state of the provider with its address changed."""
    from ledger import wire

    provider = ledger.load(Provider, provider_id)
    provider.profile["address"] = "forged"
    return wire.encode_snapshot(provider)


CORRUPTIONS = {
    "damaged state": lambda ledger, row: {"state": row[2][:-20]},
    "state changed, digest not": lambda ledger, row: {"state": forged_state(ledger, "TS-1")},
    "another log's event": lambda ledger, row: {"event_hash": "0" * 64},
    "version ahead of the log": lambda ledger, row: {"version": 10_000},
    "version behind its state": lambda ledger, row: {"version": row[0] - 1},
    "another class": lambda ledger, row: {
        "state": row[2].replace("ledger.aggregates.provider:Provider", "ledger.aggregates.project:Project"),
        "state_digest": digest(row[2].replace("ledger.aggregates.provider:Provider", "ledger.aggregates.project:Project")),
    },
    "not JSON": lambda ledger, row: {"state": "{not json", "state_digest": digest("{not json")},
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_snapshot_that_does_not_match_the_log_is_ignored_and_the_history_folded(scenario, snapshotting, database_url, corruption):
    scenario.admit("TS-1", "tangshan")
    grow(scenario, "TS-1", 2 * EVERY + 3)
    provider_id = Provider.create_id("TS-1")
    row = snapshot_rows(database_url)[str(provider_id)]
    tamper(database_url, provider_id, **CORRUPTIONS[corruption](snapshotting, row))

    cold = fresh(snapshotting)
    try:
        cold.execute(change("TS-1", "after the restart"))
        assert cold.snapshots.ignored == 1
        assert cold.store.events_read[provider_id] > 2 * EVERY  # the whole history, folded
        provider = cold.load(Provider, "TS-1")
        assert provider.profile["address"] == "after the restart"
        assert profile_changes_in_log(cold.store, "TS-1")[-1]["old"] == f"No. {2 * EVERY + 2}"  # decided on the log's state
        assert state_of(provider) == state_of(scenario.ledger.load(Provider, "TS-1"))
    finally:
        cold.close()
    assert verify_store(scenario.ledger.store).ok


def test_a_snapshot_with_its_digest_recomputed_but_another_event_hash_is_ignored(scenario, snapshotting, database_url):
    """A forged state must also name the log's event at its version: a snapshot copied from
    another ledger (same ids, another history) does not."""
    scenario.admit("TS-1", "tangshan")
    grow(scenario, "TS-1", EVERY + 1)
    provider_id = Provider.create_id("TS-1")
    state = forged_state(snapshotting, "TS-1")
    tamper(database_url, provider_id, state=state, state_digest=digest(state), event_hash="f" * 64)
    cold = fresh(snapshotting)
    try:
        assert cold.load(Provider, "TS-1").profile["address"] != "forged"
        assert cold.snapshots.ignored == 1
    finally:
        cold.close()


def test_reading_a_long_history_writes_no_snapshot(scenario, database_url):
    """Snapshots are taken after a command is recorded, never by a read."""
    scenario.admit("TS-1", "tangshan")
    grow(scenario, "TS-1", 2 * EVERY)  # the fixture's ledger has no snapshots
    reader = fresh(scenario.ledger)
    try:
        reader.load(Provider, "TS-1")
        reader.find(Provider, "TS-1")
        assert reader.snapshots.taken == 0
        assert not reader.snapshots.known()
    finally:
        reader.close()
    db = ReadModelDB(database_url)
    try:
        with db.transaction(write=False) as tx:
            if tx.dialect == "postgres":
                assert tx.fetchone("SELECT to_regclass(?)", (TABLE,))[0] is None
            else:
                assert tx.fetchone("SELECT count(*) FROM sqlite_master WHERE name = ?", (TABLE,))[0] == 0
    finally:
        db.close()


def test_execute_all_takes_snapshots_too(scenario, snapshotting, database_url):
    scenario.admit("TS-1", "tangshan")
    snapshotting.execute_all([change("TS-1", f"No. {i}") for i in range(EVERY + 2)])
    version = scenario.provider("TS-1").version
    assert snapshot_rows(database_url)[str(Provider.create_id("TS-1"))][0] == version
    cold = fresh(snapshotting)
    try:
        cold.execute(change("TS-1", "after"))
        assert cold.store.events_read[Provider.create_id("TS-1")] == 1
    finally:
        cold.close()


def test_a_snapshot_that_cannot_be_written_leaves_the_command_recorded(scenario, snapshotting, monkeypatch):
    """A cache, not a record: a failing write is logged, the command stands, and the process stops trying."""
    attempts = []

    def refuse(snapshot):
        attempts.append(snapshot.version)
        raise PermissionError("permission denied for schema")

    monkeypatch.setattr(snapshotting.snapshots, "write", refuse)
    scenario.admit("TS-1", "tangshan")
    grow(scenario, "TS-1", 3 * EVERY)
    assert attempts == [EVERY]  # tried once, at the first due version
    assert not snapshotting.snapshots.writable
    assert scenario.provider("TS-1").version == 3 * EVERY
    assert verify_store(snapshotting.store).ok


def test_an_app_that_fails_to_start_closes_the_store_it_opened(database_url):
    """A refused setting found after the store opened (a negative snapshot interval) leaves no
    store open behind it: the error is raised and the store is closed, not left to the collector."""
    store = open_store(database_url)
    with pytest.raises(ValueError, match="negative"):
        bootstrap(Settings(database_url=database_url, snapshot_every=-1), store=store)
    with pytest.raises(Exception, match="closed"):
        store.max_position()
    with bootstrap(Settings(database_url=database_url, snapshot_every=0), projections=False) as app:
        assert app.ledger.snapshots is None and app.ledger.store.max_position() == 0


def test_a_command_that_folded_a_long_tail_keeps_a_snapshot_and_one_that_folded_a_short_one_does_not(scenario, ledger):
    """Snapshots every 1,000 events, so none is due by count here. A fresh ledger's command reads
    a provider of REREAD_TAIL events (just at the threshold) from the store: once recorded, it keeps
    a snapshot, and the next fresh ledger folds only the events after it. A provider one event short
    of the threshold (REREAD_TAIL - 1 folded) gets none."""
    from ledger.snapshots import REREAD_TAIL

    scenario.admit("TJ-1", "tianjin")
    scenario.admit("TJ-2", "tianjin")
    long = grow(scenario, "TJ-1", REREAD_TAIL)
    short = grow(scenario, "TJ-2", REREAD_TAIL - 1)  # recorded by a ledger that keeps no snapshots

    first = fresh(ledger, every=1000)
    first.execute(change("TJ-1", "after a long read"))
    first.execute(change("TJ-2", "after a short read"))
    assert first.store.events_read[long.id] == REREAD_TAIL and first.store.events_read[short.id] == REREAD_TAIL - 1
    rows = snapshot_rows(ledger.store.database_url)
    assert set(rows) == {str(long.id)} and rows[str(long.id)][0] == REREAD_TAIL + 1  # as recorded by the command

    second = fresh(ledger, every=1000)
    second.execute(change("TJ-1", "read from the snapshot"))
    assert second.store.events_read[long.id] == 1  # the snapshot's own event (its hash checked), nothing to fold
    assert scenario.provider("TJ-1").version == REREAD_TAIL + 2
    assert snapshot_rows(ledger.store.database_url)[str(long.id)][0] == REREAD_TAIL + 1  # a short tail: none kept

    at = grow(scenario, "TJ-1", 2 * REREAD_TAIL + 1).version  # REREAD_TAIL events after the snapshot
    third = fresh(ledger, every=1000)
    third.execute(change("TJ-1", "after a long tail"))
    assert third.store.events_read[long.id] == REREAD_TAIL + 1  # the snapshot's event, then the tail
    assert snapshot_rows(ledger.store.database_url)[str(long.id)][0] == at + 1
