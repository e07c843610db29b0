"""Replay: rebuild every read model from the first event into a new generation, switch atomically."""
from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from rich.console import Console

from ledger.application import Ledger
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.projections import ReadModelDB, ReadModels
from ledger.projections.replay import BY_NAME, Replay, fold_share, replay
from ledger.projections.schema import LARGE_COLUMNS, TABLES, column_types, create_indexes, has_lz4
from ledger.store import open_store
from tests.integration.projection_support import (
    assert_caught_up,
    assert_registry_matches_store,
    mixed_scenario,
)
from tests.integration.test_replay_equality import tables


def _tables(db: ReadModelDB) -> set[str]:
    with db.transaction(write=False) as tx:
        if tx.dialect == "sqlite":
            rows = tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm\\_%' ESCAPE '\\'")
        else:
            rows = tx.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_type = 'BASE TABLE' AND table_name LIKE 'rm\\_%'"
            )
    return {r[0] for r in rows}


def test_replay_rebuilds_models_equal_to_the_live_ones_and_switches(scenario, projected, models):
    mixed_scenario(scenario)
    # a complaint verified late, taking effect before XX-1's admission and finding (on record, counted toward
    # nothing): an event out of order (rm_registry_out_of_order)
    scenario.verified_complaint("XX-1", "public", on=date(2025, 2, 28))
    live = models.dump()
    assert all(live.values()), "every read model has rows"
    assert _tables(projected.db) == {f"rm_{t}_g1" for t in TABLES}
    every_row = tables(projected.db)  # the internal tables too: snapshots, subjects

    out = io.StringIO()
    result = replay(scenario.ledger, console=Console(file=out, width=100), batch_size=16)
    top = scenario.ledger.store.max_position()
    assert (result.previous_generation, result.generation) == (1, 2)
    assert (result.events, result.caught_up_at_switch, result.position) == (top, 0, top)
    assert "replay" in out.getvalue() and f"{top}/{top}" in out.getvalue()

    assert models.dump() == live
    assert tables(projected.db) == every_row
    assert _tables(projected.db) == {f"rm_{t}_g2" for t in TABLES}  # the old generation is gone
    assert_caught_up(projected)

    # the live projector follows the switch
    scenario.run(m.RecordScore, provider_id="TJ-2", year=2025, score=60)
    assert [g["grade"] for g in models.grades("TJ-2")] == ["A", "C"]
    assert {e["provider_id"] for e in models.lists("removed")} == {"TJ-1", "TJ-2"}
    assert_caught_up(projected)
    assert_registry_matches_store(scenario.ledger, models)


def _indexes(db: ReadModelDB, generation: int) -> set[str]:
    """Every index of a generation's tables, primary keys included (SQLite: and the tables' own SQL,
    which holds them), as SQL without the generation."""
    with db.transaction(write=False) as tx:
        if tx.dialect == "sqlite":
            rows = tx.fetchall("SELECT tbl_name, name, sql FROM sqlite_master WHERE type IN ('index', 'table')")
        else:
            rows = tx.fetchall("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
    suffix = f"_g{generation}"
    return {f"{name}: {sql}".replace(suffix, "_g*") for table, name, sql in rows if sql and table.startswith("rm_") and table.endswith(suffix)}


def test_the_replayed_generation_has_the_keys_and_indexes_of_a_generation_built_event_by_event(scenario, projected, models):
    """The build leaves the append-only tables' primary keys and every secondary index until the
    tables are full (PostgreSQL); what it switches to is indexed exactly like the live generation."""
    mixed_scenario(scenario)
    live = _indexes(projected.db, 1)
    assert any("rm_timeline_g*_pkey" in index or "PRIMARY KEY (provider_id, position)" in index for index in live)
    replay(scenario.ledger, show_progress=False, batch_size=16)
    assert _indexes(projected.db, 2) == live


def _autovacuum_off(db: ReadModelDB, generation: int) -> set[str]:
    """The generation's tables that autovacuum is told to leave alone."""
    with db.transaction(write=False) as tx:
        return {
            name
            for name in TABLES
            if "autovacuum_enabled=false" in (tx.fetchone("SELECT reloptions FROM pg_class WHERE oid = ?::regclass", (tx.table(name, generation),))[0] or [])  # type: ignore[index]
        }


def test_autovacuum_leaves_a_generation_alone_while_it_is_built_and_takes_it_after_the_switch(scenario, projected, models):
    """A vacuum of the timeline started during the build held up its primary key until the server
    cancelled the vacuum (a second a table): the tables being built are created without autovacuum,
    and the switch gives them back to it; the live generation never loses it."""
    if projected.db.dialect != "postgres":
        pytest.skip("a PostgreSQL table setting")
    mixed_scenario(scenario)
    assert _autovacuum_off(projected.db, 1) == set()
    job = Replay(scenario.ledger)
    try:
        assert job.prepare() == 2
        assert _autovacuum_off(projected.db, 2) == set(TABLES)
        job.build(show_progress=False)
        assert _autovacuum_off(projected.db, 2) == set(TABLES)
        assert _autovacuum_off(projected.db, 1) == set()
        job.switch()
    finally:
        job.close()
    assert _autovacuum_off(projected.db, 2) == set()


def test_binary_copy_sends_every_column_as_the_type_postgresql_created(projected):
    """Rows go to PostgreSQL by binary COPY typed from ``schema.column_types``: every column of every
    read model, with the type the server gave it."""
    if projected.db.dialect != "postgres":
        pytest.skip("SQLite takes rows by executemany, untyped")
    with projected.db.transaction(write=False) as tx:
        for name in TABLES:
            created = dict(
                tx.fetchall(
                    "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
                    (tx.table(name, 1),),
                )
            )
            assert column_types(name) == created, name


def test_large_json_columns_are_compressed_with_lz4_in_every_generation(scenario, projected, models):
    """A provider's snapshot and standing (tens of kilobytes each) are stored lz4-compressed on a
    PostgreSQL server that has it, in the first generation and in a replayed one; every other
    column keeps the server's default."""
    if projected.db.dialect != "postgres":
        pytest.skip("a PostgreSQL column setting")
    mixed_scenario(scenario)
    for n in range(30):  # late reports, each in the snapshot and the standing: both large enough to be compressed
        scenario.run(m.RecordProfileChange, provider_id="PR-1", field="address", new_value=f"No. {n}", changed_on=date(2025, 1, 1), reported_on=date(2025, 3, 1))

    def compression(generation: int) -> dict[str, str]:
        with projected.db.transaction(write=False) as tx:
            if not has_lz4(tx):
                pytest.skip("this PostgreSQL server has no lz4")
            return {
                f"{name}.{column}": method
                for name in TABLES
                for column, method in tx.fetchall(
                    "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped",
                    (tx.table(name, generation),),
                )
                if method
            }

    expected = {f"{name}.{column}": "l" for name, columns in LARGE_COLUMNS.items() for column in columns}
    assert compression(1) == expected
    replay(scenario.ledger, show_progress=False, batch_size=16)
    assert compression(2) == expected
    with projected.db.transaction(write=False) as tx:
        stored = tx.fetchall(
            "SELECT DISTINCT pg_column_compression(standing_json), pg_column_compression(snapshot) FROM rm_registry"
            f" JOIN {tx.table('provider_state', 2)} USING (provider_id) WHERE provider_id = 'PR-1'"
        )
    assert stored == [("lz4", "lz4")]


def test_events_recorded_during_the_build_are_applied_in_the_switch(scenario, projected, models):
    mixed_scenario(scenario)
    job = Replay(scenario.ledger, batch_size=8)
    assert job.prepare() == 2
    job.build(show_progress=False)
    # meanwhile, commands go on; the live projector keeps generation 1 up to date
    scenario.run(m.RecordScore, provider_id="TJ-2", year=2025, score=90)
    scenario.verified_complaint("TJ-2")
    live = models.dump()
    result = job.switch()
    assert result.caught_up_at_switch > 0
    assert result.position == scenario.ledger.store.max_position()
    assert models.dump() == live
    assert_caught_up(projected)


def test_the_switch_commits_before_the_old_generation_waits_to_be_dropped(scenario, projected, models):
    """Another session on a table of the old generation (as a vacuum of it is, until the server cancels
    it after deadlock_timeout) holds up the drop only: the new generation is live, and read, meanwhile."""
    if projected.db.dialect != "postgres":
        pytest.skip("a lock held by another session: PostgreSQL")
    import psycopg

    mixed_scenario(scenario)
    live = models.dump()
    job = Replay(scenario.ledger, batch_size=8)
    assert job.prepare() == 2
    job.build(show_progress=False)
    with ThreadPoolExecutor(1) as pool, psycopg.connect(projected.db.database_url) as holder:  # the lock goes first
        holder.execute("LOCK TABLE rm_timeline_g1 IN SHARE UPDATE EXCLUSIVE MODE")  # the lock a vacuum takes
        switched = pool.submit(job.switch)
        with psycopg.connect(projected.db.database_url, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while not watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'rm_timeline_g1'::regclass"
            ).fetchone()[0]:
                assert not switched.done(), switched.result()
                assert time.monotonic() < deadline, "the drop never waited for the old generation's table"
                time.sleep(0.02)
            assert watcher.execute("SELECT live FROM projection_generation").fetchone() == (2,)
        assert models.dump() == live  # read from generation 2 while the drop waits
        assert not switched.done()
        holder.rollback()
        result = switched.result(timeout=30)
    assert (result.previous_generation, result.generation) == (1, 2)
    assert _tables(projected.db) == {f"rm_{t}_g2" for t in TABLES}  # then generation 1 is gone


def test_a_failed_build_process_fails_the_replay_and_leaves_the_live_models(scenario, projected, models, capfd):
    if projected.db.dialect != "postgres":
        pytest.skip("SQLite builds in the replaying process")
    mixed_scenario(scenario)
    live = models.dump()
    job = Replay(scenario.ledger, batch_size=8, processes=2)
    assert job.prepare() == 2
    with projected.db.transaction() as tx:  # every share writes its providers' state: none can
        tx.execute("DROP TABLE rm_provider_state_g2")
    with pytest.raises(RuntimeError, match=r"^replay: replay-share-0, replay-share-1 failed \(see its error above\); the live read models are unchanged$"):
        job.build(show_progress=False)
    assert "rm_provider_state_g2" in capfd.readouterr().err  # each process's own error
    assert models.dump() == live
    result = replay(scenario.ledger, show_progress=False)  # the next replay drops what the failed one left, builds anew
    assert (result.previous_generation, result.generation) == (1, 2)
    assert models.dump() == live


def test_a_build_fed_aggregate_by_aggregate_holds_one_provider_and_writes_the_same_rows(scenario, projected, models):
    """A build process reads its share aggregate by aggregate: each provider is written once the next
    begins and dropped, so at most one is held between batches; the rows are the live ones. Fed in
    position order instead, such a build fails rather than writing a provider twice."""
    mixed_scenario(scenario)
    live = models.dump()
    store = scenario.ledger.store
    job = Replay(scenario.ledger, batch_size=4, processes=1)
    generation = job.prepare()
    projections = [BY_NAME[name]() for name in job.runner.names]
    providers = projections[0]
    held: list[int] = []
    flush = providers.flush

    def counting_flush(tx: Any) -> None:
        flush(tx)
        held.append(len(providers._pending))

    providers.flush = counting_flush
    top = store.max_position()
    assert fold_share(store, projected.db, projections, generation, top, 0, 1, 4, by_aggregate=True) == top
    assert max(held) == 1 and len(held) >= top // 4
    with projected.db.transaction() as tx:
        for name in job.runner.names:
            tx.execute("UPDATE projection_tracking SET position = ? WHERE projection = ? AND generation = ?", (top, name, generation))
        create_indexes(tx, generation, list(TABLES))
    job.switch()
    assert models.dump() == live

    job = Replay(scenario.ledger, batch_size=4, processes=1)
    generation = job.prepare()
    with pytest.raises(RuntimeError, match=r"^provider event [0-9a-f-]+/[0-9]+ after its provider was written: this build is fed aggregate by aggregate$"):
        fold_share(store, projected.db, [BY_NAME[name]() for name in job.runner.names], generation, top, 0, 1, 4)


def test_an_interrupted_replay_is_cleaned_up_by_the_next(scenario, projected, models):
    mixed_scenario(scenario)
    live = models.dump()
    abandoned = Replay(scenario.ledger, batch_size=8)
    abandoned.prepare()
    with projected.db.transaction() as tx:  # one batch built, then the process died
        assert abandoned.runner.run_batch(tx, 2) == 8
    assert models.dump() == live  # readers never see a half-built generation
    assert abandoned.runner.positions(2) == {"providers": 8, "timeline": 8}
    result = replay(scenario.ledger, show_progress=False)
    assert (result.previous_generation, result.generation) == (1, 2)  # rebuilt from scratch
    assert models.dump() == live
    assert _tables(projected.db) == {f"rm_{t}_g2" for t in TABLES}


def test_replay_builds_read_models_for_a_ledger_that_never_had_them(database_url, clock):
    ledger = Ledger(open_store(database_url), clock=clock, handlers=HANDLERS)
    try:
        from tests.integration.scenario import Scenario

        scenario = Scenario(ledger, clock)
        scenario.run(m.DeclareRulebookValidity, jurisdiction="tangshan", valid_from=clock.now().date(), reference="test")
        scenario.admit("TS-1", "tangshan")
        for enterprise in ("E-1", "E-2"):
            scenario.unsatisfied("TS-1", enterprise)
        result = replay(ledger.store, show_progress=False)
        assert result.generation == 2
        with ReadModelDB(database_url) as db:
            read = ReadModels(db)
            assert [(r["provider_id"], r["standing"]) for r in read.registry()] == [("TS-1", "blacklisted")]
            assert_registry_matches_store(ledger, read)
    finally:
        ledger.close()
