"""The relay: publishes the ledger's log to Kafka, in log order, without a gap.

The log is the source of truth and is read with ``read_rows(after=position, …)``,
which, as ``read_all``, never skips an event (``ledger.store.base``). The relay sends one batch,
waits until the broker has acknowledged *every* message of it (idempotent
producer, ``acks=all``), and only then stores the batch's last position in its
own table of the ledger's database (``kafka_relay``, one row per topic). After
any stop — SIGKILL, a broker outage, a database restart — it resumes from the
stored position: messages sent but not yet recorded are sent again (a duplicate
is allowed: subscribers drop it by the envelope's ``id`` or by offset), an
event that was not acknowledged is never skipped (no gap).

Order: every message of a provider goes to one partition, keyed by the
provider whose standing the event bears on (its own events and those of its
projects, complaints and appeals, :func:`ledger.cloudevent.subject_of_first`);
the idempotent producer keeps the order of each partition across retries. The
key of an aggregate is decided by its first event; the builder (below) remembers
it, and after a restart looks up the first events of the aggregates it meets again
(one ``read_refs`` per batch).

Work: the log is read and each event's message (its key and CloudEvent bytes) built by
:class:`MessageBuilder` in a process of its own (the builder), the next batch while the relay
sends the one before: kafka-python's ``send`` and its I/O thread need the relay's interpreter,
and reading and building were most of the rest of it (BENCHMARKS.md). The builder only reads;
if it dies, the relay starts another and goes on from the acknowledged position.

Topic: ``ledger.events.v<N>`` with N the contract's version
(:data:`ledger.wire.FORMAT_VERSION`); a new contract is published beside the old
one, never into it. Messages are CloudEvents in structured mode
(:mod:`ledger.cloudevent`).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ledger import wire
from ledger.cloudevent import (
    CONTENT_TYPE,
    Subject,
    envelope_of_row,
    subject_of_first,
    to_json,
)
from ledger.projections.db import ReadModelDB
from ledger.redaction import describe_failure
from ledger.store.base import EventStore, event_ref

log = logging.getLogger("ledger.relay")

BATCH_SIZE = 1000
PARTITIONS = 6
#: how the builder process is started: forked from a server process started once (not from the
#: relay, whose producer and pools run threads), with this module imported there beforehand
BUILDER_START = "forkserver"

POSITION_TABLE = """
CREATE TABLE IF NOT EXISTS kafka_relay (
    topic TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    acknowledged_at TEXT NOT NULL
)
"""


def topic_name(prefix: str = "") -> str:
    """``ledger.events.v1``: the topic of this contract version (``prefix`` for tests and tenants)."""
    return f"{prefix}ledger.events.v{wire.FORMAT_VERSION}"


@dataclass(frozen=True)
class Built:
    """A batch of the log as the relay sends it, from :class:`MessageBuilder`."""

    after: int  # the position the batch follows
    last_position: int  # the batch's last event (``after`` when the batch is empty)
    messages: list[tuple[bytes, bytes]]  # (key, CloudEvent JSON) of each event, in log order


class MessageBuilder:
    """Reads the log after a position and builds each event's message: the key (the provider its
    aggregate bears on, :func:`~ledger.cloudevent.subject_of_first`) and the envelope's JSON
    (:func:`~ledger.cloudevent.envelope_of_row`, from the rows of
    :meth:`~ledger.store.base.EventStore.read_rows`). The key of an aggregate is decided by its
    first event; the builder remembers it, and looks up the first events of aggregates first met
    after it (one ``read_refs`` per batch: after a restart, or when the relay resumes)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._subjects: dict[str, Subject] = {}  # by aggregate id (text)
        self.last_position = 0  # of the last batch built

    def batch(self, after: int, limit: int) -> Built:
        rows = self.store.read_rows(after, limit)  # ids and instants as the envelope writes them
        self._resolve_subjects(rows)
        messages = []
        for row in rows:
            subject = self._subjects[row[1]]
            messages.append((subject.partition_key.encode(), to_json(envelope_of_row(row, subject))))
        self.last_position = rows[-1][0] if rows else after
        return Built(after, self.last_position, messages)

    def _resolve_subjects(self, rows: Sequence[tuple]) -> None:
        missing: set[str] = set()
        for _, aggregate_id, version, topic, state, *_ in rows:
            if aggregate_id in self._subjects:
                continue
            if version == 1:
                self._subjects[aggregate_id] = subject_of_first(wire.event_type(topic), wire.decode_json(state))
            else:
                missing.add(aggregate_id)
        if missing:
            firsts = self.store.read_refs(event_ref(aggregate_id, 1) for aggregate_id in missing)
            for first in firsts.values():
                self._subjects[str(first.originator_id)] = subject_of_first(wire.event_type(first), wire.decode_state(first))


#: the builder process's own builder (one ledger per relay)
_builder: MessageBuilder | None = None


def _follow_the_relay(relay_alive: Connection) -> None:
    """In the builder process, first: end it when the relay ends, however it ends (SIGKILL too).
    The relay holds the other end of ``relay_alive`` and never writes to it: the read returns, at
    end of file, when the relay's process is gone (a pool's worker waits for work forever)."""

    def watch() -> None:
        try:
            relay_alive.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="ledger-relay-watch", daemon=True).start()


def _build(database_url: str, after: int | None, limit: int) -> Built:
    """In the builder process: the batch after ``after``, or (None) after the last one it built; the
    ledger is opened on first use, never created."""
    global _builder
    if _builder is None:
        from ledger.store import open_store

        _builder = MessageBuilder(open_store(database_url, create=False))
    return _builder.batch(_builder.last_position if after is None else after, limit)


def _close_builder() -> None:
    """In the builder process: close the ledger before the process ends."""
    global _builder
    if _builder is not None:
        _builder.store.close()
        _builder = None


@dataclass(frozen=True)
class _InFlight:
    """A batch handed to the producer, not yet acknowledged."""

    last_position: int
    count: int
    futures: list[Any]


@dataclass(frozen=True)
class Lag:
    """How far the topic is behind the log."""

    topic: str
    acknowledged: int  # the last position the broker acknowledged
    head: int  # the last position in the log
    events: int  # head - acknowledged
    seconds: float  # age of the oldest event not yet acknowledged (0 when none)

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "acknowledged": self.acknowledged, "head": self.head, "events": self.events, "seconds": round(self.seconds, 3)}


class RelayPositions:
    """The acknowledged position per topic, in the ledger's own database."""

    def __init__(self, db: ReadModelDB) -> None:
        self.db = db

    @classmethod
    def open(cls, database_url: str) -> RelayPositions:
        """Open (creating the table if missing: a relay writes there)."""
        positions = cls(ReadModelDB(database_url, pool_size=1))
        with positions.db.transaction() as tx:
            tx.execute(POSITION_TABLE)
        return positions

    def exists(self) -> bool:
        with self.db.transaction(write=False) as tx:
            return tx.has_tables("kafka_relay")

    def get(self, topic: str) -> int:
        with self.db.transaction(write=False) as tx:
            row = tx.fetchone("SELECT position FROM kafka_relay WHERE topic = ?", (topic,))
        return int(row[0]) if row else 0

    def set(self, topic: str, position: int) -> None:
        """Move forward only (a stale relay process cannot move it back)."""
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO kafka_relay (topic, position, acknowledged_at) VALUES (?, ?, ?)"
                " ON CONFLICT (topic) DO UPDATE SET position = excluded.position, acknowledged_at = excluded.acknowledged_at"
                " WHERE kafka_relay.position < excluded.position",
                (topic, position, now),
            )

    def close(self) -> None:
        self.db.close()


def lag(store: EventStore, positions: RelayPositions, topic: str, now: datetime | None = None) -> Lag:
    acknowledged = positions.get(topic)
    head = store.max_position()
    seconds = 0.0
    if head > acknowledged:
        oldest = next(iter(store.read_all(after=acknowledged, limit=1)), None)
        if oldest is not None:
            seconds = max(0.0, ((now or datetime.now(UTC)) - oldest.recorded_at).total_seconds())
    return Lag(topic, acknowledged, head, head - acknowledged, seconds)


def relay_status(database_url: str, topic: str | None = None) -> Lag | None:
    """The relay's lag for ``ledger status``; None where no relay ever published (reads only: a
    database without the ledger is refused, :class:`~ledger.store.NoLedger`, and left as it was)."""
    from ledger.store import open_store

    store = open_store(database_url, create=False)
    positions = RelayPositions(ReadModelDB(database_url, pool_size=1))
    try:
        return lag(store, positions, topic or topic_name()) if positions.exists() else None
    finally:
        positions.close()
        store.close()


class Relay:
    """Publishes the log of ``store`` to ``topic``; see the module docstring for the guarantees.

    The builder process is started as :mod:`multiprocessing` starts one (forkserver), which runs the
    main module again: a script that runs a relay keeps its work under ``if __name__ == "__main__":``
    (``ledger relay``, the tests and the benchmarks do)."""

    def __init__(
        self,
        store: EventStore,
        bootstrap_servers: str,
        topic: str | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        partitions: int = PARTITIONS,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic or topic_name()
        self.batch_size = batch_size
        self.partitions = partitions
        self.producer_config = {
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            "delivery_timeout_ms": 30_000,
            "request_timeout_ms": 10_000,
            "max_block_ms": 10_000,
            **(producer_config or {}),
            # the guarantees: not overridable
            "acks": "all",
            "enable_idempotence": True,
        }
        self.positions = RelayPositions.open(store.database_url)
        self._producer: KafkaProducer | None = None
        self._builder: ProcessPoolExecutor | None = None
        self._watched: Connection  # the builder's end of a pipe: end of file once the relay's end is closed
        self._alive: Connection  # the relay's end, never written to
        self._topic_ready = False
        self.published = 0
        self.failures = 0

    # -- the producer and the builder --------------------------------------------------------

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, client_id="ledger-relay", **self.producer_config)
        return self._producer

    def _disconnect(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=1)
            except Exception:  # closing a producer whose broker is gone: nothing to save
                log.debug("closing the producer failed", exc_info=True)

    def _build(self, after: int | None) -> Future[Built]:
        """The batch after ``after`` (None: after the batch the builder built last), built in the
        builder process (started on first use). The builder takes one request at a time, in order."""
        if self._builder is None:
            context = multiprocessing.get_context(BUILDER_START)
            if BUILDER_START == "forkserver":
                context.set_forkserver_preload([__name__])
            self._watched, self._alive = context.Pipe(duplex=False)
            self._builder = ProcessPoolExecutor(1, mp_context=context, initializer=_follow_the_relay, initargs=(self._watched,))
        return self._builder.submit(_build, self.store.database_url, after, self.batch_size)

    def _stop_builder(self) -> None:
        builder, self._builder = self._builder, None
        if builder is not None:
            try:
                builder.submit(_close_builder).result(timeout=10)
            except Exception:  # a builder that died or hangs: its process ends with the pool
                log.debug("closing the builder's ledger failed", exc_info=True)
            builder.shutdown(wait=True, cancel_futures=True)
            self._alive.close()
            self._watched.close()

    def ensure_topic(self) -> None:
        """Create the topic (``partitions`` partitions) unless it exists."""
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id="ledger-relay-admin", request_timeout_ms=10_000)
        try:
            if self.topic not in admin.list_topics():
                try:
                    admin.create_topics([NewTopic(self.topic, num_partitions=self.partitions, replication_factor=1)])
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
        self._topic_ready = True

    def start(self) -> None:
        """Everything publishing needs before the first batch: the topic, the producer and its metadata,
        the builder process (:meth:`run` does this itself; a caller may do it beforehand)."""
        if not self._topic_ready:
            self.ensure_topic()
        self._connect().partitions_for(self.topic)
        self._build(self.store.max_position()).result()

    # -- publishing ------------------------------------------------------------------------

    def _send(self, built: Built) -> _InFlight:
        """Hand one built batch to the producer (it sends in the background); nothing is recorded yet."""
        send, topic, headers = self._connect().send, self.topic, [("content-type", CONTENT_TYPE.encode())]
        futures = [send(topic, key=key, value=value, headers=headers) for key, value in built.messages]
        return _InFlight(built.last_position, len(futures), futures)

    def _settle(self, batch: _InFlight) -> None:
        """Wait until the broker acknowledged every message of ``batch`` (and of every batch before it),
        then record its last position. Raises the broker's error for a message it refused."""
        timeout = self.producer_config["delivery_timeout_ms"] / 1000 + 5
        for future in batch.futures:
            future.get(timeout=timeout)
        self.positions.set(self.topic, batch.last_position)
        self.published += batch.count

    def publish_batch(self) -> int:
        """Publish what follows the acknowledged position (at most ``batch_size``), wait for it; returns the count.

        Raises on a broker or database failure; nothing is recorded then, and
        the next call sends the batch again.
        """
        built = self._build(self.positions.get(self.topic)).result()
        if not built.messages:
            return 0
        batch = self._send(built)
        self._settle(batch)
        return batch.count

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        poll_interval: float = 0.2,
        until_caught_up: bool = False,
        max_backoff: float = 5.0,
        progress: Callable[[int], None] | None = None,
        pipeline: int = 2,
    ) -> int:
        """Publish until ``stop`` is set (or, with ``until_caught_up``, until the log is published).

        Up to ``pipeline`` batches are in flight at once: the next batch is built
        and handed to the producer while the broker acknowledges the one before, and a
        batch's position is recorded only once it *and every batch before it* is
        acknowledged (they are settled in order), so the recorded position never
        runs ahead of an unacknowledged event. A broker outage, a database failure or
        the builder process's death drops whatever is in flight, is logged and retried
        with backoff, from the acknowledged position. Returns the events published.
        """
        stop = stop or threading.Event()
        backoff = 0.1
        total = 0
        cursor: int | None = None  # the last position handed to the producer
        building: deque[Future[Built]] = deque()  # the batches after ``cursor``, in order, being built
        in_flight: deque[_InFlight] = deque()
        while not stop.is_set():
            try:
                if not self._topic_ready:
                    self.ensure_topic()
                if cursor is None:
                    cursor = self.positions.get(self.topic)
                built = (building.popleft() if building else self._build(cursor)).result()
                if built.after != cursor:  # never, as the builder continues where it ended: a gap is never risked
                    building.clear()
                    continue
                more = len(built.messages) == self.batch_size
                while more and len(building) < pipeline:  # the next batches are built while this one is sent
                    building.append(self._build(None))
                if built.messages:
                    in_flight.append(self._send(built))
                    cursor = built.last_position
                settled = 0
                while in_flight and (len(in_flight) >= pipeline or not more):
                    batch = in_flight.popleft()
                    self._settle(batch)
                    settled += batch.count
                backoff = 0.1
            except Exception as error:
                failed = _failure_of(error)
                if failed is None:
                    raise
                self.failures += 1
                log.warning("relay: the %s failed (%s); retrying from the acknowledged position in %.1fs", failed, describe_failure(error), backoff)
                in_flight.clear()
                cursor = None
                building.clear()
                if failed == "broker":
                    self._disconnect()
                if failed == "builder process":
                    self._stop_builder()
                stop.wait(backoff)
                backoff = min(max_backoff, backoff * 2)
                continue
            total += settled
            if settled and progress is not None:
                progress(settled)
            if not more:
                if until_caught_up:
                    return total
                stop.wait(poll_interval)
        return total

    def lag(self) -> Lag:
        return lag(self.store, self.positions, self.topic)

    def close(self) -> None:
        try:
            self._stop_builder()
            if self._producer is not None:
                self._producer.close(timeout=5)
        finally:
            self._producer = None
            self.positions.close()


def _failure_of(error: BaseException) -> str | None:
    """What failed, for a failure the relay retries (None: anything else, raised)."""
    if isinstance(error, (KafkaError, OSError, TimeoutError)):
        return "broker"
    if _is_database_error(error):
        return "database"
    if isinstance(error, BrokenProcessPool):
        return "builder process"
    return None


def _is_database_error(error: BaseException) -> bool:
    import sqlite3

    import psycopg
    import psycopg_pool

    return isinstance(error, (psycopg.OperationalError, psycopg_pool.PoolTimeout, sqlite3.OperationalError))
