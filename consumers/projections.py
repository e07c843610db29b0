"""A consumer group that builds the ledger's read models from Kafka, exactly once per message.

The same projection code as the embedded default (``ledger.projections``:
``ProviderViewsProjection`` and ``TimelineProjection``, their ``apply`` and
``flush``) folds events rebuilt from the published envelopes
(:func:`ledger.cloudevent.to_recorded`) into the same read-model tables.

Ordering: why per-partition tracking is enough
----------------------------------------------
The in-process runner tracks one global log position per projection, because it
reads the whole log in order. A topic has no global order, only an order per
partition; so this consumer tracks ``(topic, partition) -> offset`` instead, in
``kafka_consumer_offsets`` of the read-model database, and never a log position.
That is sound because every read model is a fold *per aggregate*:

- the provider views fold one Provider aggregate's events into that provider's
  rows (checking consecutive versions), and read no other aggregate;
- the timeline appends each event under its position (the table's key) and needs
  an aggregate's first event (which names its providers) before its others.

The relay keys every event of an aggregate by one provider (``partitionkey``),
so all events of an aggregate are in one partition, in log order. Events of
different partitions touch different aggregates, so applying partitions in any
interleaving gives the same rows as the log order does: a Kafka-fed read model
equals a replay from the log once every partition is consumed.

Exactly once
------------
Each batch of one partition is one database transaction: lock the partition's
offset row, skip the messages at or below the stored offset (a redelivery after
a crash or a rebalance), apply the rest, flush, store the new offset, commit.

The relay may also publish an event twice (a crash between the broker's
acknowledgement and storing its position): the copy comes at a *new* offset. In
one partition the first copies arrive in log order without a gap (idempotent
producer), so a message whose ``logposition`` is not above the last one applied
in its partition is such a copy, and is skipped too; the row keeps both numbers. A
crash anywhere rolls the views back together with the offset; the row lock
serialises a consumer that lost the partition in a rebalance and is still
finishing its batch with the one that got it. On assignment the consumer seeks
to the stored offset + 1; Kafka's own committed offsets are committed after the
database for monitoring (``kafka-consumer-groups``) only, never trusted.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.serializer import Deserializer

from ledger.cloudevent import CloudEvent, to_recorded
from ledger.projections.db import POSTGRES, ReadModelDB, Tx
from ledger.projections.runner import Projection, default_projections, prepare
from ledger.projections.schema import lock_live
from ledger.wire import DecodedEvent

log = logging.getLogger("consumers.projections")

OFFSETS_TABLE = """
CREATE TABLE IF NOT EXISTS kafka_consumer_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    log_position BIGINT NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
)
"""

DEFAULT_GROUP = "ledger-read-models"


class CloudEventDeserializer(Deserializer):
    def deserialize(self, topic: str, headers: Any, data: bytes) -> CloudEvent:
        return CloudEvent.from_json(data)


class PartitionedProjections:
    """Applies batches of one partition's messages to the read models, with the offset in the same transaction."""

    def __init__(self, db: ReadModelDB, group_id: str, projections: Sequence[Projection] | None = None) -> None:
        self.db = db
        self.group_id = group_id
        self.projections = list(projections) if projections is not None else default_projections()
        if not db.schema_ready:
            prepare(db, self.projections)
        with db.transaction() as tx:
            tx.execute(OFFSETS_TABLE)

    def stored_offsets(self, topic: str) -> dict[int, int]:
        """partition -> the last offset applied."""
        with self.db.transaction(write=False) as tx:
            rows = tx.fetchall('SELECT partition, "offset" FROM kafka_consumer_offsets WHERE group_id = ? AND topic = ?', (self.group_id, topic))
        return {int(p): int(o) for p, o in rows}

    def _lock_offset(self, tx: Tx, topic: str, partition: int) -> tuple[int, int]:
        """(offset, log position) last applied in the partition, holding its row."""
        tx.execute(
            'INSERT INTO kafka_consumer_offsets (group_id, topic, partition, "offset", log_position) VALUES (?, ?, ?, -1, 0)'
            " ON CONFLICT (group_id, topic, partition) DO NOTHING",
            (self.group_id, topic, partition),
        )
        lock = " FOR UPDATE" if tx.dialect == POSTGRES else ""
        row = tx.fetchone(
            f'SELECT "offset", log_position FROM kafka_consumer_offsets WHERE group_id = ? AND topic = ? AND partition = ?{lock}',
            (self.group_id, topic, partition),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def apply(self, topic: str, partition: int, messages: Sequence[tuple[int, CloudEvent]]) -> int:
        """Apply ``(offset, envelope)`` pairs of one partition, in offset order; returns the events applied."""
        with self.db.transaction() as tx:
            tx.generation = lock_live(tx)
            last_offset, last_position = self._lock_offset(tx, topic, partition)
            events = []
            for offset, message in messages:
                if offset <= last_offset:
                    continue  # redelivered
                last_offset = offset
                if message.logposition <= last_position:
                    continue  # a copy the relay published again after a crash
                last_position = message.logposition
                events.append(DecodedEvent.of(to_recorded(message)))
            for event in events:  # event by event, each projection in turn (as ProjectionRunner does)
                for projection in self.projections:
                    projection.apply(event, tx)
            for projection in self.projections:
                projection.flush(tx)
            tx.execute(
                'UPDATE kafka_consumer_offsets SET "offset" = ?, log_position = ? WHERE group_id = ? AND topic = ? AND partition = ?',
                (last_offset, last_position, self.group_id, topic, partition),
            )
        return len(events)


class _SeekToStored(ConsumerRebalanceListener):
    def __init__(self, owner: ProjectionConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("%s: partitions revoked %s", self.owner.name, sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.owner.seek_to_stored(assigned)


class ProjectionConsumer:
    """One member of the consumer group; ``run()`` until ``stop`` is set."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        read_models_url: str,
        *,
        group_id: str = DEFAULT_GROUP,
        name: str = "consumer",
        max_records: int = 500,
        consumer_config: dict[str, Any] | None = None,
        on_applied: Callable[[int], None] | None = None,
        instance_id: str | None = None,
    ) -> None:
        """``instance_id``: static membership (``group.instance.id``): a member restarted under the
        same id takes its partitions back at once, without a rebalance of the group."""
        self.topic = topic
        self.name = name
        self.max_records = max_records
        self.db = ReadModelDB(read_models_url, pool_size=2)
        self.target = PartitionedProjections(self.db, group_id)
        self.on_applied = on_applied
        self.applied = 0
        self.assigned: set[int] = set()
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=f"ledger-{name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            value_deserializer=CloudEventDeserializer(),
            **{
                "session_timeout_ms": 10_000,
                "heartbeat_interval_ms": 1_000,
                "max_poll_interval_ms": 60_000,
                "metadata_max_age_ms": 5_000,  # a topic created after start is noticed soon
                **({"group_instance_id": instance_id} if instance_id else {}),
                **(consumer_config or {}),
            },
        )
        # Fetch the topic's metadata first: a group whose leader assigns without it gives out no partitions.
        self.consumer.partitions_for_topic(topic)
        self.consumer.subscribe([topic], listener=_SeekToStored(self))

    def seek_to_stored(self, assigned: Any) -> None:
        stored = self.target.stored_offsets(self.topic)
        self.assigned = {tp.partition for tp in assigned}
        for tp in assigned:
            offset = stored.get(tp.partition)
            if offset is None or offset < 0:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset + 1)
        log.info("%s: assigned %s", self.name, sorted(self.assigned))

    def poll_once(self, timeout_ms: int = 200) -> int:
        batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        applied = 0
        for tp, records in batches.items():
            applied += self.target.apply(tp.topic, tp.partition, [(r.offset, r.value) for r in records])
        if batches:
            try:
                self.consumer.commit({tp: _offset_and_metadata(records[-1].offset + 1) for tp, records in batches.items()})
            except Exception:  # informational only: the database holds the truth
                log.debug("%s: committing offsets to Kafka failed", self.name, exc_info=True)
        self.applied += applied
        if applied and self.on_applied is not None:
            self.on_applied(applied)
        return applied

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll_once()

    def close(self) -> None:
        try:
            self.consumer.close()
        finally:
            self.db.close()


def _offset_and_metadata(offset: int) -> Any:
    from kafka.structs import OffsetAndMetadata

    return OffsetAndMetadata(offset, "", -1)


__all__ = ["DEFAULT_GROUP", "CloudEventDeserializer", "PartitionedProjections", "ProjectionConsumer", "TopicPartition"]
