"""Replay: rebuild every read model from the first event and switch to it atomically.

1. Generation N is live (``projection_generation.live``, the ``rm_*`` views).
   Leftovers of an interrupted replay (any other generation) are dropped.
2. Generation N + 1's tables are created empty (secondary indexes, and on PostgreSQL the
   primary keys of the append-only tables, come last: ``schema.APPEND_ONLY_KEYS``; on
   PostgreSQL autovacuum leaves them alone until the switch), and
   filled from the log as it was when the build began (positions 1 … top), with a
   rich progress bar. Live projectors keep updating generation N meanwhile.
   The build reads the log in one pass (``EventStore.scan``: one query streamed
   in chunks on PostgreSQL), decodes each event once for both projections, folds providers in
   memory and writes timeline rows per batch of 5,000 events, set-based (COPY; SQLite:
   executemany), one transaction each.
   On PostgreSQL the log is split by aggregate (``share_of``: a range of originator ids) between
   one process per core: every read model is a fold per aggregate, so the shares' rows are
   disjoint and together are what one process would write (the processes are forked: nothing to
   import again). Each process reads its share aggregate by aggregate (the share read
   once and sorted by the server), so a provider is complete, written and dropped
   as soon as the next one begins: its state is still in the CPU's caches, and a process holds
   one provider's state, not its share's. Their commits do not wait for
   the WAL flush (``synchronous_commit = off``): the generation's keys, tracking rows and switch
   commit after them, and wait for it. Once every process has written its last batch, the keys of the
   append-only tables (the timeline, profile changes) are built while the processes write their
   last providers. The tracking rows are set to ``top`` once every share is written.
   In one process (SQLite), the log is read in position order and the providers are held in
   memory until the end: peak memory grows with their state (see BENCHMARKS.md).
3. The switch is one transaction: lock the generation pointer exclusively
   (waiting for any live batch to end; new ones wait for the switch), apply
   the events recorded since step 2 to N + 1, give N + 1's tables back to autovacuum, point
   ``live`` and the views at N + 1. Readers see N or N + 1, never a mix. Then, in a transaction
   of its own, generation N is dropped: the drop waits for any vacuum of N's tables to be
   cancelled (PostgreSQL cancels an autovacuum a lock has waited on for ``deadlock_timeout``, 1 s
   by default, a table at a time), and held in the switch that wait would hold up every reader
   and projector (seen: 1.3–2.3 s, replays back to back). Interrupted there, generation N is
   left to the next replay, which drops leftovers first (step 1).

Run one replay at a time (a second one would drop the first's generation).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ledger.projections.db import POSTGRES, ReadModelDB, Tx, may_hold_nul
from ledger.projections.providers import ProviderViewsProjection
from ledger.projections.runner import Projection, ProjectionRunner, store_source
from ledger.projections.schema import (
    APPEND_ONLY_KEYS,
    TABLES,
    create_generation,
    create_indexes,
    drop_generation,
    generations,
    lock_live,
    point_views,
    resume_autovacuum,
)
from ledger.projections.timeline import TimelineProjection
from ledger.store.base import EventStore
from ledger.wire import DecodedEvent

#: events per build transaction (a batch is folded in memory and written set-based)
BATCH_SIZE = 5000
#: a build process's garbage collector: the objects a batch leaves (the providers' state, mostly) are
#: frozen after it (``gc.freeze``), so that the collector's full passes no longer walk the whole fold
#: again and again as it grows, and its youngest generation is collected every this many allocations
#: (Python's default: 700) — together about 2 µs of CPU an event less (BENCHMARKS.md). The process
#: ends with its share: a reference cycle left among frozen objects is freed with it
GC_THRESHOLD = 10_000
#: PostgreSQL's ``maintenance_work_mem`` while the new generation's keys and indexes are built (the
#: server's default, 64 MB, sorts the timeline's key of 1,000,000 events partly on disk)
INDEX_MEMORY = "256MB"


@dataclass(frozen=True)
class ReplayResult:
    previous_generation: int
    generation: int
    events: int  # events applied while building, before the switch
    caught_up_at_switch: int  # events recorded during the build, applied in the switch transaction
    position: int  # every projection's tracking position after the switch
    seconds: float


class Replay:
    """The three steps of a replay, for callers that want to act between them (tests, the CLI)."""

    def __init__(
        self,
        source: Any,
        db: ReadModelDB | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        projections: list[Projection] | None = None,
        processes: int | None = None,
    ) -> None:
        #: build processes on PostgreSQL (default: one per core); SQLite builds in this process
        self.processes = max(1, processes if processes is not None else os.cpu_count() or 1)
        self.store: EventStore = source if isinstance(source, EventStore) else source.store
        self.attached = getattr(source, "projections", None)
        self.own_db = db is None and self.attached is None
        self.db = db if db is not None else (self.attached.db if self.attached is not None else ReadModelDB(self.store.database_url))
        self.batch_size = batch_size
        if projections is None:
            projections = [ProviderViewsProjection(deferred=True), TimelineProjection()]
        self.runner = ProjectionRunner(self.db, store_source(self.store), projections, batch_size=batch_size)
        self.live = 0
        self.building = 0
        self.built = 0
        self.started = time.monotonic()

    def prepare(self) -> int:
        """Drop leftovers of an interrupted replay and create the new generation, empty; returns its number."""
        with self.db.transaction() as tx:
            self.live = lock_live(tx)
            for stale in generations(tx):
                if stale != self.live:
                    drop_generation(tx, stale)
            self.building = max([self.live, *generations(tx)]) + 1
            create_generation(tx, self.building, list(TABLES), self.runner.names, indexes=False)
        return self.building

    def build(self, *, show_progress: bool = True, console: Console | None = None) -> int:
        """Fold the log up to its current end into the new generation; returns the events read."""
        top = self.store.max_position()
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]replay[/] generation {task.fields[generation]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not show_progress,
        )
        shares = self.processes if self.db.dialect == POSTGRES and all(p.name in BY_NAME for p in self.runner.projections) else 1
        task = progress.add_task("replay", total=top, generation=self.building)
        tables = list(TABLES)
        if shares > 1:
            self.built = self._build_in_processes(top, shares, progress, task)
            tables = [name for name in tables if name not in APPEND_ONLY_KEYS]  # keyed as the processes ended
        else:
            with progress:
                self.built = fold_share(self.store, self.db, self.runner.projections, self.building, top, 0, 1, self.batch_size, lambda n: progress.advance(task, n))
                progress.update(task, completed=top)
        with self.db.transaction() as tx:
            tx.generation = self.building
            self._finish(tx)
            for name in self.runner.names:
                tx.execute("UPDATE projection_tracking SET position = ? WHERE projection = ? AND generation = ?", (top, name, self.building))
            _index_full_tables(tx, self.building, tables)
        return self.built

    def _key_append_only_tables(self) -> None:
        """The primary keys of the append-only tables (the timeline, profile changes), in a
        transaction of their own: once every build process has written its last batch, nothing
        writes those tables before the switch; the server sorts while the processes write their
        last providers and end."""
        with self.db.transaction() as tx:
            _index_full_tables(tx, self.building, [name for name in TABLES if name in APPEND_ONLY_KEYS])

    def _build_in_processes(self, top: int, shares: int, progress: Progress, task: TaskID) -> int:
        """One process per share of the aggregates; returns the events they read together.

        The processes are forked (not spawned: a spawned one would import the ledger again, about
        a second of CPU each) before the progress display starts its thread. A child uses nothing
        of this process but the arguments: it opens its own connections, and leaves with
        ``os._exit`` (multiprocessing's), which never closes the ones it inherited."""
        context = multiprocessing.get_context("fork")
        counter = context.Value("q", 0)
        batches_written = context.Value("i", 0)  # processes past their last batch (writing their providers)
        names = self.runner.names
        processes = [
            context.Process(
                target=_fold_share_process,
                args=(self.store.database_url, self.db.database_url, names, self.building, top, share, shares, self.batch_size, counter, batches_written),
                name=f"replay-share-{share}",
            )
            for share in range(shares)
        ]
        for process in processes:
            process.start()
        keyed = False
        try:
            with progress:
                while any(process.is_alive() for process in processes):
                    progress.update(task, completed=counter.value)
                    if not keyed and batches_written.value == shares:
                        self._key_append_only_tables()
                        keyed = True
                    time.sleep(0.2)
                progress.update(task, completed=top)
        finally:
            for process in processes:
                process.join()
        failed = [process.name for process in processes if process.exitcode != 0]
        if failed:
            raise RuntimeError(f"replay: {', '.join(failed)} failed (see its error above); the live read models are unchanged")
        if not keyed:  # the processes ended between two looks
            self._key_append_only_tables()
        read: int = counter.value
        return read

    def _finish(self, tx: Any) -> None:
        """Write what the projections folded in memory (the providers of a deferred fold)."""
        for projection in self.runner.projections:
            finish = getattr(projection, "finish", None)
            if finish is not None:
                finish(tx)

    def switch(self) -> ReplayResult:
        """In one transaction: catch the new generation up and make it live; then drop the old one."""
        at_switch = 0
        with self.db.transaction() as tx:
            if lock_live(tx, exclusive=True) != self.live:
                raise RuntimeError(f"generation {self.live} is no longer live: another replay switched; nothing changed")
            while True:
                read = self.runner.run_batch(tx, self.building)
                at_switch += read
                if read < self.batch_size:
                    break
            self._finish(tx)
            resume_autovacuum(tx, self.building)
            tx.execute("UPDATE projection_generation SET live = ?, switched_at = ? WHERE id = 1", (self.building, _now()))
            point_views(tx, self.building)
            tx.execute("DELETE FROM projection_incomplete")  # every table was built from the first event
        with self.db.transaction() as tx:
            drop_generation(tx, self.live)  # no longer read: see the module's step 3
        position = min(self.runner.positions(self.building).values(), default=0)
        if self.attached is not None:
            self.attached._seen = position
        return ReplayResult(self.live, self.building, self.built, at_switch, position, time.monotonic() - self.started)

    def close(self) -> None:
        if self.own_db:
            self.db.close()


#: the projections a replay's processes can build, by name (each process makes its own)
BY_NAME: dict[str, Callable[[], Projection]] = {
    # alone on an empty generation, fed aggregate by aggregate: each provider written once complete
    "providers": lambda: ProviderViewsProjection(deferred=True, fresh=True, by_aggregate=True),
    "timeline": TimelineProjection,
}


def fold_share(
    store: EventStore, db: ReadModelDB, projections: Sequence[Projection], generation: int, top: int,
    share: int, shares: int, batch_size: int, progress: Callable[[int], None] | None = None,
    batches_written: Callable[[], None] | None = None, *, by_aggregate: bool = False,
) -> int:  # fmt: skip
    """Fold the events 1 … ``top`` of one share of the aggregates into ``generation``'s tables,
    then write what the projections deferred (``finish``); returns the events read. Batches of
    ``batch_size`` events, one transaction each; ``batches_written`` is called after the last
    one, before ``finish``. Tracking rows are left alone. ``by_aggregate``: the share is read
    aggregate by aggregate (:meth:`EventStore.scan`), as the projections of :data:`BY_NAME` expect."""
    rows = store.scan(top, share, shares, by_aggregate=by_aggregate)
    try:
        return _fold(rows, db, projections, generation, batch_size, progress, batches_written)
    finally:
        rows.close()  # the scan's query and connection, at once if the fold failed


def _fold(
    rows: Iterator[tuple], db: ReadModelDB, projections: Sequence[Projection], generation: int, batch_size: int,
    progress: Callable[[int], None] | None, batches_written: Callable[[], None] | None,
) -> int:  # fmt: skip
    ids: dict[str, UUID] = {}  # one UUID per aggregate
    nul_free = True  # NUL can only reach a read model from an event: JSON escapes it as \u0000
    read = 0
    while True:
        batch = list(islice(rows, batch_size))
        if not batch:
            break
        with db.transaction() as tx:
            _building(tx, generation)
            for row in batch:
                _, text, _, topic, state, _, _, recorded_by, command_id = row
                originator_id = ids.get(text)
                if originator_id is None:
                    originator_id = ids[text] = UUID(text)
                if nul_free and may_hold_nul(topic, state, recorded_by, command_id):
                    nul_free = False
                event = DecodedEvent.from_scan(row, originator_id)
                for projection in projections:
                    projection.apply(event, tx)
            tx.nul_free = nul_free
            for projection in projections:
                projection.flush(tx)
        read += len(batch)
        if progress is not None:
            progress(len(batch))
    if batches_written is not None:
        batches_written()
    with db.transaction() as tx:
        _building(tx, generation)
        tx.nul_free = nul_free
        for projection in projections:
            finish = getattr(projection, "finish", None)
            if finish is not None:
                finish(tx)
    return read


def _index_full_tables(tx: Tx, generation: int, tables: list[str]) -> None:
    """:func:`create_indexes` on tables the build has filled: on PostgreSQL their keys and indexes are
    sorts, given :data:`INDEX_MEMORY` to sort in memory where they fit."""
    if tx.dialect == POSTGRES:
        tx.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}'")
    create_indexes(tx, generation, tables)


def _building(tx: Tx, generation: int) -> None:
    """A build transaction writes into ``generation``; on PostgreSQL its commit does not wait for the
    WAL to reach the disk: the generation is not live until the switch, whose own commit waits
    for every WAL record before it (a crash before it leaves a generation the next replay drops)."""
    tx.generation = generation
    if tx.dialect == POSTGRES:
        tx.execute("SET LOCAL synchronous_commit = off")


def _fold_share_process(
    store_url: str, db_url: str, names: list[str], generation: int, top: int, share: int, shares: int, batch_size: int,
    counter: Any, batches_written: Any,
) -> None:  # fmt: skip
    """A process of a parallel replay: fold its share into the new generation."""
    from ledger.store import open_store

    gc.set_threshold(GC_THRESHOLD)
    store = open_store(store_url)
    db = ReadModelDB(db_url, pool_size=1)
    try:
        projections = [BY_NAME[name]() for name in names]

        def advance(n: int) -> None:
            gc.freeze()  # what the batch left (the providers' state, mostly): see GC_THRESHOLD
            with counter.get_lock():
                counter.value += n

        def written() -> None:
            with batches_written.get_lock():
                batches_written.value += 1

        fold_share(store, db, projections, generation, top, share, shares, batch_size, advance, written, by_aggregate=True)
    finally:
        db.close()
        store.close()


def replay(
    source: Any,
    db: ReadModelDB | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    show_progress: bool = True,
    console: Console | None = None,
    projections: list[Projection] | None = None,
) -> ReplayResult:
    """Rebuild the read models of a ledger (or an event store) into a new generation and switch to it.

    ``db`` defaults to the ledger's attached read models, else the store's database.
    """
    job = Replay(source, db, batch_size=batch_size, projections=projections)
    try:
        job.prepare()
        job.build(show_progress=show_progress, console=console)
        return job.switch()
    finally:
        job.close()


def _now() -> str:
    """When the switch happened (wall clock: bookkeeping of the read models, not ledger time)."""
    return datetime.now(UTC).isoformat()
