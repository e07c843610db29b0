"""A replay rebuilds, row for row, what the incremental projections built — on both backends.

The demo ledger (two years, 220 providers, every kind of event the demo plans) is recorded with
the projections applied after each commit, as a ledger runs; its every read-model table, the
providers' snapshots and the subjects included, is then compared with what ``ledger replay``
builds: in one process, and on PostgreSQL also split between processes by aggregate. The build
reads the log through ``EventStore.scan``, whose text columns are checked against ``read_all``.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.commands.handlers import HANDLERS
from ledger.demo import DEMO_START, demo_plan, run_demo
from ledger.projections import ReadModelDB, attach_in_process
from ledger.projections.replay import Replay
from ledger.projections.schema import TABLES
from ledger.store import EventStore, open_store
from ledger.store.base import ROW_COLUMNS, SCAN_COLUMNS, share_of, share_range, text_row
from tests.conftest import BACKENDS, postgres_base_url, postgres_schema
from tests.integration.store_helpers import batch, event

#: a smaller demo than ``ledger demo``'s 220 providers (the suite's time), with every kind of event the demo plans
DEMO_PROVIDERS = 80


def tables(db: ReadModelDB) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table of the live generation, in a total order."""
    out = {}
    with db.transaction(write=False) as tx:
        live = tx.fetchone("SELECT live FROM projection_generation WHERE id = 1")[0]  # type: ignore[index]
        for name in TABLES:
            table = tx.table(name, live)
            columns = [r[0] for r in tx.execute(f"SELECT * FROM {table} WHERE 1 = 0").description]
            rows = tx.fetchall(f"SELECT * FROM {table} ORDER BY {', '.join(columns)}")
            if name == "provider_state":  # a snapshot is stamped when it is taken: compare what it holds
                at = columns.index("snapshot")
                rows = [(*row[:at], _without_stamp(row[at]), *row[at + 1 :]) for row in rows]
            out[name] = rows
    return out


def _without_stamp(snapshot: str) -> dict[str, Any]:
    held = json.loads(snapshot)
    assert held.pop("timestamp")["_type_"] == "datetime_iso"
    return held


@pytest.fixture(scope="module", params=BACKENDS)
def demo_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A database holding the demo ledger, its read models kept after every commit."""
    if request.param == "sqlite":
        yield from _demo(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'ledger.db'}")
    else:
        with postgres_schema(postgres_base_url()) as url:
            yield from _demo(url)


def _demo(url: str):
    ledger = Ledger(open_store(url), ManualClock(DEMO_START), handlers=HANDLERS)
    projected = attach_in_process(ledger)
    try:
        run_demo(ledger, demo_plan(providers=DEMO_PROVIDERS))
        projected.wait_for()
        assert projected.last_error is None
    finally:
        projected.close()
        ledger.close()
    yield url


@pytest.mark.parametrize("processes", [1, 2])
def test_replay_of_the_demo_ledger_equals_the_incremental_projection_row_for_row(demo_url: str, processes: int) -> None:
    store = open_store(demo_url)
    db = ReadModelDB(demo_url)
    try:
        incremental = tables(db)
        # by the demo's end every order and complaint deadline has passed (test_replay.py's scenario keeps some)
        assert [name for name in TABLES if not incremental[name]] == ["rectification_deadlines", "answer_deadlines"]
        job = Replay(store, db, processes=processes)
        job.prepare()
        assert job.build(show_progress=False) == store.max_position()
        result = job.switch()
        assert result.position == store.max_position()
        replayed = tables(db)
        for name in TABLES:
            assert len(replayed[name]) == len(incremental[name]), name
            for got, expected in zip(replayed[name], incremental[name], strict=True):
                assert got == expected, name
    finally:
        db.close()
        store.close()


def _record(store: EventStore) -> list[Any]:
    """Events whose instants need care as text: with and without microseconds, another offset, no effective date."""
    ids = [uuid4() for _ in range(6)]
    at = datetime(2025, 3, 1, 1, 2, 3, tzinfo=timezone.utc)
    events = [
        event(ids[0], 1, recorded_at=at),
        event(ids[0], 2, recorded_at=at + timedelta(microseconds=1)),
        event(ids[1], 1, recorded_at=at.astimezone(timezone(timedelta(hours=8))) + timedelta(microseconds=120000)),
        event(ids[2], 1, recorded_at=at + timedelta(days=400), effective_on=None),
        event(ids[3], 1, recorded_at=datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone.utc), effective_on=date(999, 1, 2)),
        event(ids[4], 1, recorded_at=at + timedelta(seconds=59, microseconds=999999)),
        event(ids[5], 1, recorded_at=at),
        event(ids[1], 2, recorded_at=at),  # aggregates interleaved: their order differs from the log's
        event(ids[0], 3, recorded_at=at),
    ]
    for i, e in enumerate(events):
        store.append(batch(f"c-{i}", [e]))
    return list(store.read_all())


def test_scan_gives_the_log_with_ids_and_instants_as_their_python_text(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ledger.store.sqlite.SCAN_CHUNK", 2)  # SQLite reads pages: several here
    recorded = _record(store)
    expected = [
        (e.position, str(e.originator_id), e.originator_version, e.topic, e.state, e.recorded_at.isoformat(),
         e.effective_on.isoformat() if e.effective_on else None, e.recorded_by, e.command_id)
        for e in recorded
    ]  # fmt: skip
    assert len(SCAN_COLUMNS) == len(expected[0])
    assert list(store.scan(len(recorded))) == expected
    with_hashes = [(*row, e.hash) for row, e in zip(expected, recorded)]  # read_rows: the relay's pages
    assert len(ROW_COLUMNS) == len(with_hashes[0]) and [text_row(e) for e in recorded] == with_hashes
    for read in (store.read_rows, lambda after, limit: EventStore.read_rows(store, after, limit)):  # the store's, the default
        assert read(0, len(recorded) + 5) == with_hashes
        assert read(2, 3) == with_hashes[2:5] and read(len(recorded), 10) == []
    assert list(store.scan(3)) == expected[:3]
    assert list(EventStore.scan(store, len(recorded))) == expected  # the default, through read_all
    for shares in (2, 3):
        parts = [list(store.scan(len(recorded), share, shares)) for share in range(shares)]
        assert sorted(row for part in parts for row in part) == expected  # each event once
        for share, part in enumerate(parts):
            assert part == sorted(part)  # in position order
            assert all(share_of(row[1], shares) == share for row in part)
            assert all(share_of(e.originator_id, shares) == share for e in recorded if str(e.originator_id) in {r[1] for r in part})
    by_id = sorted(expected, key=lambda row: (UUID(row[1]).int, row[2]))
    assert list(store.scan(len(recorded), by_aggregate=True)) == by_id  # each aggregate together, in version order
    assert list(EventStore.scan(store, len(recorded), by_aggregate=True)) == by_id
    assert list(store.scan(3, by_aggregate=True)) == sorted(expected[:3], key=lambda row: (UUID(row[1]).int, row[2]))
    for shares in (2, 3):
        parts = [list(store.scan(len(recorded), share, shares, by_aggregate=True)) for share in range(shares)]
        assert [row for part in parts for row in part] == by_id  # the shares are ranges of ids, in order


def test_a_share_is_a_range_of_ids() -> None:
    """``share_of`` and ``share_range`` agree at every boundary, for the ids' whole range."""
    for shares in (1, 2, 3, 7, 16):
        for share in range(shares):
            start, end = share_range(share, shares)
            assert share_of(start, shares) == share and share_of(str(start), shares) == share
            assert share == 0 or share_of(UUID(int=start.int - 1), shares) == share - 1
            if end is None:
                assert share == shares - 1 and share_of(UUID(int=2**128 - 1), shares) == share
            else:
                assert share_of(UUID(int=end.int - 1), shares) == share and share_of(end, shares) == share + 1
