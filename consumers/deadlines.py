"""The deadline sweep as a scheduled consumer of its own.

Why a consumer: the sweep needs to know which providers have a rectification
deadline or a complaint's answer deadline that has passed. ``ledger deadlines``
finds out by loading every provider and complaint from the store; this consumer
instead follows the topic and keeps the Provider and Complaint aggregates folded
in memory (the aggregates' own ``mutate``, on events rebuilt from the envelopes),
so a scheduled sweep costs nothing but the commands it issues.

What is due is decided by the same functions as ``ledger deadlines``
(:func:`ledger.deadlines.due_among`, exact at the deadline's boundary), and each
provider gets one ``RecordPassedDeadlines`` command, id
``deadlines:<as_of>:<provider id>``: a sweep repeated the same day, by this
consumer or after its restart, is recorded once. The handler checks again on
the ledger's fresh state, so a consumer that lags behind the log can never record a
deadline that was met meanwhile — at worst its command records nothing.

On start the consumer reads the topic from the beginning (no group offsets:
its state is the fold, rebuilt each time), then sweeps every ``interval``.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import date
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer, TopicPartition

from consumers.projections import CloudEventDeserializer
from ledger import wire
from ledger.aggregates import Complaint, Provider
from ledger.clock import business_date
from ledger.cloudevent import CloudEvent, to_recorded
from ledger.deadlines import SweepResult, due_among, sweep

log = logging.getLogger("consumers.deadlines")


def _fold(folded: dict[UUID, Any], message: CloudEvent) -> None:
    current = folded.get(message.aggregateid)
    version = current.version if current is not None else 0
    if message.aggregateversion <= version:
        return  # a duplicate (the relay may publish one again after a crash)
    folded[message.aggregateid] = wire.decode(to_recorded(message)).mutate(current)


class DeadlineSchedule:
    """Provider and complaint aggregates folded from the topic's messages (duplicates skipped by version)."""

    def __init__(self) -> None:
        self.providers: dict[UUID, Provider] = {}
        self.complaints: dict[UUID, Complaint] = {}

    def apply(self, message: CloudEvent) -> None:
        aggregate = message.type.split(".", 1)[0]
        if aggregate == "provider":
            _fold(self.providers, message)
        elif aggregate == "complaint":
            _fold(self.complaints, message)

    def due(self, as_of: date) -> dict[str, list[str]]:
        """provider id -> complaints whose answer deadline passed, as :func:`ledger.deadlines.due` says."""
        return due_among(self.complaints.values(), self.providers.values(), as_of)


class DeadlineConsumer:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self.schedule = DeadlineSchedule()
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=None, client_id="ledger-deadlines",
            enable_auto_commit=False, value_deserializer=CloudEventDeserializer(),
        )  # fmt: skip
        partitions = [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic) or [])]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.partitions = partitions

    def poll_once(self, timeout_ms: int = 200) -> int:
        read = 0
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            for record in records:
                self.schedule.apply(record.value)
                read += 1
        return read

    def catch_up(self, timeout: float = 60.0) -> None:
        """Read up to the topic's end offsets as of now."""
        ends = self.consumer.end_offsets(self.partitions)
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < ends[tp] for tp in self.partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {self.topic} to its end in {timeout}s")
            self.poll_once()

    def sweep(self, ledger: Any, as_of: date) -> SweepResult:
        """One command per provider with something due by ``as_of``."""
        todo = self.schedule.due(as_of)
        result = sweep(ledger, as_of, todo=todo, sweep_id=f"deadlines:{as_of}", recorded_by="deadline sweep (Kafka consumer)")
        log.info("sweep as of %s: %d providers, %d deadlines, %d sanctions", as_of, len(result.results), result.deadlines, result.sanctions)
        return result

    def run(self, ledger: Any, stop: threading.Event, interval: float = 3600.0) -> None:
        """Follow the topic; sweep as of the ledger's business date every ``interval`` seconds."""
        next_sweep = time.monotonic()
        while not stop.is_set():
            self.poll_once()
            if time.monotonic() >= next_sweep:
                self.catch_up()
                self.sweep(ledger, business_date(ledger.clock.now()))
                next_sweep = time.monotonic() + interval

    def close(self) -> None:
        self.consumer.close()
