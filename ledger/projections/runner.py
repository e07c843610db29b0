"""Running projections: from a source of events into the read-model tables, exactly once.

A *projection* is a pure fold: ``apply(event, tx)`` for each event (a
:class:`~ledger.wire.DecodedEvent`: a recorded event whose attributes every
projection shares, decoded once) and ``flush(tx)`` at the end of a batch,
writing only through the transaction.
Where the events come from is a parameter:

- *pull*: ``catch_up()`` asks a :data:`Source` (``after, limit -> events``) for
  what follows each projection's tracking position — the store's
  ``read_all`` (:func:`store_source`), the in-process default;
- *push*: ``feed(events)`` takes events as they arrive (a Kafka consumer in
  ``consumers/``), skipping those already applied and refusing a gap.

Each batch is one transaction: lock the projections' tracking rows, apply the
events after each position, flush, move the tracking positions, commit. A
crash (or an exception) anywhere in the batch rolls back the views and the
tracking together, so a rerun applies every event exactly once.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any, Protocol

from ledger.projections.db import POSTGRES, ReadModelDB, Tx, may_hold_nul
from ledger.projections.schema import TABLES, ensure_schema, live_generation, lock_live
from ledger.redaction import describe_failure
from ledger.store.base import EventStore, RecordedEvent
from ledger.wire import DecodedEvent

log = logging.getLogger("ledger.projections")

#: ``source(after, limit)`` -> the events at positions ``after + 1 …``, in order, at most ``limit``
Source = Callable[[int, int], Iterable[RecordedEvent]]
#: called with the number of events applied in each batch
Progress = Callable[[int], None]

BATCH_SIZE = 200


class Projection(Protocol):
    name: str
    tables: tuple[str, ...]

    def apply(self, event: DecodedEvent, tx: Tx) -> None: ...

    def flush(self, tx: Tx) -> None: ...


class GapError(RuntimeError):
    """A pushed event does not follow the projection's tracking position."""


def store_source(store: EventStore) -> Source:
    return lambda after, limit: store.read_all(after=after, limit=limit)


def default_projections() -> list[Projection]:
    from ledger.projections.providers import ProviderViewsProjection
    from ledger.projections.timeline import TimelineProjection

    return [ProviderViewsProjection(), TimelineProjection()]


def prepare(db: ReadModelDB, projections: Sequence[Projection]) -> int:
    """Create the read-model schema if missing; returns the live generation."""
    with db.transaction() as tx:
        live = ensure_schema(tx, [p.name for p in projections])
    db.schema_ready = True
    return live


class ProjectionRunner:
    def __init__(
        self,
        db: ReadModelDB,
        source: Source | None = None,
        projections: Sequence[Projection] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        unknown = {t for p in (projections or []) for t in p.tables} - set(TABLES)
        if unknown:
            raise ValueError(f"projection tables {sorted(unknown)} are not declared in schema.TABLES")
        self.db = db
        self.source = source
        self.projections = list(projections) if projections is not None else default_projections()
        self.batch_size = batch_size
        self._lock = threading.Lock()
        #: no event this runner applied could have put NUL into a row (``db.may_hold_nul``), so rows
        #: go to COPY as they are; once one could, every later row is checked (``db._storable``),
        #: since the projections' memory may keep its texts for later batches
        self._nul_free = True
        if not db.schema_ready:
            prepare(db, self.projections)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.projections]

    # -- one batch, inside a transaction ---------------------------------------------------

    def _positions(self, tx: Tx, generation: int) -> dict[str, int]:
        """Lock the tracking rows (PostgreSQL: row locks in a fixed order; SQLite: the write lock)."""
        names = sorted(self.names)
        marks = ",".join("?" * len(names))
        lock = " ORDER BY projection FOR UPDATE" if tx.dialect == POSTGRES else ""
        rows = tx.fetchall(
            f"SELECT projection, position FROM projection_tracking WHERE generation = ? AND projection IN ({marks}){lock}",
            [generation, *names],
        )
        positions = {name: int(position) for name, position in rows}
        missing = [n for n in names if n not in positions]
        if missing:
            raise RuntimeError(f"no tracking row for {missing} in generation {generation}")
        return positions

    def _apply(self, tx: Tx, positions: dict[str, int], events: Sequence[RecordedEvent], *, strict: bool) -> int:
        """Apply events after each projection's position, flush and move the tracking; returns events applied.

        Event by event, each projection in turn: the projections share one decoding of each
        event (:class:`~ledger.wire.DecodedEvent`), and none sees an event's attributes after a
        later event was folded."""
        started = dict(positions)
        for projection in self.projections:
            prefetch = getattr(projection, "prefetch", None)  # optional: what it reads for the whole batch at once
            if prefetch is not None:
                prefetch(events, tx)
        for recorded in events:
            if self._nul_free and may_hold_nul(recorded.topic, recorded.state, recorded.recorded_by, recorded.command_id):
                self._nul_free = False
            event = DecodedEvent.of(recorded)
            for projection in self.projections:
                position = positions[projection.name]
                if event.position <= position:
                    continue  # already applied
                if event.position != position + 1:
                    if strict:
                        raise GapError(f"{projection.name}: event {event.position} does not follow {position}")
                    continue  # this projection stops here: no later event follows its position either
                projection.apply(event, tx)
                positions[projection.name] = event.position
        applied = 0
        tx.nul_free = self._nul_free
        for projection in self.projections:
            projection.flush(tx)
            position = positions[projection.name]
            if position != started[projection.name]:
                applied = max(applied, position - started[projection.name])
                tx.execute(
                    "UPDATE projection_tracking SET position = ? WHERE projection = ? AND generation = ?",
                    (position, projection.name, tx.generation),
                )
        return applied

    def run_batch(self, tx: Tx, generation: int) -> int:
        """Pull one batch into ``generation`` inside ``tx``; returns the number of events read."""
        if self.source is None:
            raise RuntimeError("this runner has no source: use feed()")
        tx.generation = generation
        positions = self._positions(tx, generation)
        after = min(positions.values())
        events = list(islice(self.source(after, self.batch_size), self.batch_size))
        if events:
            self._apply(tx, positions, events, strict=True)
        return len(events)

    # -- pull ----------------------------------------------------------------------------

    def catch_up(self, generation: int | None = None, progress: Progress | None = None) -> int:
        """Apply everything the source has beyond the tracking positions; returns events read.

        ``generation`` None means the live one (re-read under lock at each batch,
        so a replay's switch is followed); a replay passes the generation it builds.
        """
        total = 0
        with self._lock:
            while True:
                with self.db.transaction() as tx:
                    live = lock_live(tx)
                    read = self.run_batch(tx, live if generation is None else generation)
                total += read
                if read and progress:
                    progress(read)
                if read < self.batch_size:  # the source had no more (anything newer comes with the next commit)
                    return total

    # -- push ----------------------------------------------------------------------------

    def feed(self, events: Iterable[RecordedEvent]) -> int:
        """Apply pushed events in batches into the live generation; returns events applied.

        Events at or below a projection's position are skipped (redelivery);
        an event beyond ``position + 1`` raises :class:`GapError` (the
        consumer must rewind to the tracking position, see :meth:`positions`).
        """
        iterator = iter(events)
        applied = 0
        with self._lock:
            while True:
                chunk = list(islice(iterator, self.batch_size))
                if not chunk:
                    return applied
                with self.db.transaction() as tx:
                    tx.generation = lock_live(tx)
                    positions = self._positions(tx, tx.generation)
                    applied += self._apply(tx, positions, chunk, strict=True)

    def positions(self, generation: int | None = None) -> dict[str, int]:
        with self.db.transaction(write=False) as tx:
            gen = generation if generation is not None else live_generation(tx) or 1
            rows = tx.fetchall("SELECT projection, position FROM projection_tracking WHERE generation = ?", (gen,))
        return {name: int(pos) for name, pos in rows if name in self.names}


class InProcessProjections:
    """The read models of an embedded ledger, kept up to date after its commits.

    ``worker`` set (the default of ``ledger.bootstrap``): a commit only signals the
    :class:`~ledger.projections.worker.ProjectionWorker`, which catches up in its own
    thread; :meth:`wait_for` lets a writer read its own writes. Without a worker the
    committing thread catches up itself in ``after_commit`` (tests, tools).
    """

    def __init__(self, ledger: Any, db: ReadModelDB, runner: ProjectionRunner, worker: Any = None, *, read_only: bool = False) -> None:
        from ledger.projections.queries import ReadModels

        self.ledger = ledger
        self.db = db
        self.runner = runner
        self.worker = worker
        #: a ledger this process may not write: the read models are read as they stand (:meth:`behind`)
        self.read_only = read_only
        self.models = ReadModels(db)
        self.last_error: BaseException | None = None
        self._seen = 0  # the lowest tracking position known, a lower bound across processes

    def behind(self) -> int:
        """How many events of the log the read models have not applied (the slowest one's)."""
        return max(0, self.ledger.store.max_position() - min(self.runner.positions().values(), default=0))

    def catch_up(self) -> int:
        if self.read_only:
            return 0
        read = self.runner.catch_up()
        self._seen = min(self.runner.positions().values(), default=0)
        return read

    def after_commit(self) -> None:
        """Cheap when nothing is new (one max_position query); never fails the command."""
        if self.worker is not None:
            self.worker.notify()
            return
        try:
            if self.ledger.store.max_position() <= self._seen:
                return
            self.catch_up()
            self.last_error = None
        except Exception as error:  # the command is recorded; the projections catch up next time
            self.last_error = error
            log.warning("projections could not catch up (%s); they will retry after the next commit", describe_failure(error))
            log.debug("projections could not catch up", exc_info=True)  # the traceback, for a developer

    def wait_for(self, position: int | None = None, timeout: float | None = None) -> None:
        """Return once the read models have applied ``position`` (default: the last one this
        ledger recorded); raises ``ProjectionLag`` after ``timeout`` seconds."""
        from ledger.projections.worker import DEFAULT_WAIT

        wanted = self.ledger.last_position if position is None else position
        if self.read_only:
            return
        if self.worker is not None:
            self._seen = self.worker.wait_for(wanted, DEFAULT_WAIT if timeout is None else timeout)
        elif self._seen < wanted:
            self.catch_up()

    def close(self) -> None:
        """Stop following the log, once what this ledger recorded is in the read models (as
        a commit that waits for them would have left it), or after the default wait."""
        if self.after_commit in self.ledger.after_commit:
            self.ledger.after_commit.remove(self.after_commit)
        if self.worker is not None:
            try:
                if self.worker.running:
                    self.wait_for()
            except Exception:
                log.warning("closing with read models behind the log: %s", self.worker.last_error)
            finally:
                self.worker.stop()
        self.db.close()


def attach_in_process(
    ledger: Any, database_url: str | None = None, *, batch_size: int = BATCH_SIZE, background: bool = False
) -> InProcessProjections:
    """Keep the read models of ``ledger`` up to date after each commit (the embedded default).

    The read models live in the events' database (``ledger.store.database_url``)
    unless ``database_url`` says otherwise. Catches up once now and registers the
    hook in ``ledger.after_commit``; ``close()`` unregisters it and closes its connections
    (:class:`ledger.bootstrap.App` does both). ``background=True``
    runs a :class:`~ledger.projections.worker.ProjectionWorker` thread instead of
    catching up in the committing thread. On a store opened read-only (``store.read_only``: a
    SQLite file this process may not write) the read models are read as they stand.
    """
    url = database_url or ledger.store.database_url
    if ledger.store.read_only:  # read as they stand: nothing is created, caught up or followed
        db = ReadModelDB(url)
        db.schema_ready = True
        return InProcessProjections(ledger, db, ProjectionRunner(db, store_source(ledger.store), batch_size=batch_size), read_only=True)
    db = ReadModelDB(url)
    runner = ProjectionRunner(db, store_source(ledger.store), batch_size=batch_size)
    attached = InProcessProjections(ledger, db, runner)
    attached.catch_up()  # what was recorded before this ledger opened is readable at once
    if background:
        from ledger.projections.worker import ProjectionWorker

        attached.worker = ProjectionWorker(runner, ledger.store).start()
    ledger.after_commit.append(attached.after_commit)
    return attached
