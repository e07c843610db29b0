"""Replay: rebuild every read model from the first event and switch to it atomically.

1. Generation N is live (``projection_generation.live``, the ``rm_*`` views).
   Leftovers of an interrupted replay (any other generation) are dropped.
2. Generation N + 1's tables are created empty, with tracking rows at 0, and
   filled from the event store in batches (one transaction each), with a rich
   progress bar. Live projectors keep updating generation N meanwhile.
   The build is set-based: providers are folded in memory over the whole log and
   written once at the end; timeline rows are written per batch of 5,000 events with
   one COPY (SQLite: one executemany) per table; secondary indexes are created once,
   at the end. Peak memory grows with the providers' state (see BENCHMARKS.md).
   On PostgreSQL the timeline is built by a process of its own meanwhile (each
   projection has its own tracking row), so both cores fold.
3. The switch is one transaction: lock the generation pointer exclusively
   (waiting for any live batch to end; new ones wait for the switch), apply
   the events recorded since step 2 to N + 1, point ``live`` and the views at
   N + 1, drop generation N. Readers see N or N + 1, never a mix.

Run one replay at a time (a second one would drop the first's generation).
"""
from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ledger.projections.db import POSTGRES, ReadModelDB
from ledger.projections.providers import ProviderViewsProjection
from ledger.projections.runner import Projection, ProjectionRunner, store_source
from ledger.projections.schema import (
    TABLES,
    create_generation,
    create_indexes,
    drop_generation,
    generations,
    lock_live,
    point_views,
)
from ledger.projections.timeline import TimelineProjection
from ledger.store.base import EventStore

#: events per build transaction (a batch is folded in memory and written set-based)
BATCH_SIZE = 5000


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
        parallel: bool = True,
    ) -> None:
        self.parallel = parallel
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
        """Fold the whole log into the new generation (batches of ``batch_size``, one transaction each)."""
        total = self.store.max_position()
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
        here, elsewhere = self.runner, []
        if self.parallel and self.db.dialect == POSTGRES and all(p.name in BY_NAME for p in self.runner.projections[1:]):
            # the first projection (the providers) folds here, each other one in a process of its own
            here = ProjectionRunner(self.db, store_source(self.store), self.runner.projections[:1], batch_size=self.batch_size)
            context = multiprocessing.get_context("spawn")
            elsewhere = [
                context.Process(
                    target=_build_elsewhere,
                    args=(self.store.database_url, self.db.database_url, p.name, self.building, self.batch_size),
                    name=f"replay-{p.name}",
                )
                for p in self.runner.projections[1:]
            ]
            for process in elsewhere:
                process.start()
        with progress:
            task = progress.add_task("replay", total=total, generation=self.building)
            try:
                self.built = here.catch_up(generation=self.building, progress=lambda n: progress.advance(task, n))
            finally:
                for process in elsewhere:
                    process.join()
            failed = [process.name for process in elsewhere if process.exitcode != 0]
            if failed:
                raise RuntimeError(f"replay: {', '.join(failed)} failed (see its error above); the live read models are unchanged")
            progress.update(task, completed=max(self.built, total), total=max(self.built, total))
        with self.db.transaction() as tx:
            tx.generation = self.building
            self._finish(tx)
            create_indexes(tx, self.building, list(TABLES))
        return self.built

    def _finish(self, tx: Any) -> None:
        """Write what the projections folded in memory (the providers of a deferred fold)."""
        for projection in self.runner.projections:
            finish = getattr(projection, "finish", None)
            if finish is not None:
                finish(tx)

    def switch(self) -> ReplayResult:
        """In one transaction: catch the new generation up, make it live, drop the old one."""
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
            tx.execute("UPDATE projection_generation SET live = ?, switched_at = ? WHERE id = 1", (self.building, _now()))
            point_views(tx, self.building)
            drop_generation(tx, self.live)
            tx.execute("DELETE FROM projection_incomplete")  # every table was built from the first event
        position = min(self.runner.positions(self.building).values(), default=0)
        if self.attached is not None:
            self.attached._seen = position
        return ReplayResult(self.live, self.building, self.built, at_switch, position, time.monotonic() - self.started)

    def close(self) -> None:
        if self.own_db:
            self.db.close()


#: projections a replay may rebuild in another process, by name
BY_NAME: dict[str, Any] = {"timeline": TimelineProjection}


def _build_elsewhere(store_url: str, db_url: str, name: str, generation: int, batch_size: int) -> None:
    """A child process of a parallel replay: fold the whole log into one projection's new tables."""
    from ledger.store import open_store

    store = open_store(store_url)
    db = ReadModelDB(db_url)
    try:
        ProjectionRunner(db, store_source(store), [BY_NAME[name]()], batch_size=batch_size).catch_up(generation=generation)
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
