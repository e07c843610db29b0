"""Helpers of the Kafka tests: a realistic ledger, reading a topic back, comparing read models with a replay."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from ledger.application import Ledger
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.cloudevent import CloudEvent
from ledger.demo import demo_plan, run_demo
from ledger.projections.db import ReadModelDB
from ledger.projections.runner import ProjectionRunner, store_source
from ledger.settings import Settings
from ledger.store import open_store

ROOT = Path(__file__).resolve().parents[2]

#: Providers of the demo data set the Kafka tests use (about 570 events: projects, complaints, appeals, sanctions).
PROVIDERS = 12


def demo_ledger(database_url: str, providers: int = PROVIDERS) -> tuple[Ledger, list[Any]]:
    """A ledger without in-process projections, and the demo plan to run on it (in parts if wanted)."""
    plan = demo_plan(seed=2024, providers=providers)
    app = bootstrap(Settings(database_url=database_url), clock=ManualClock(plan[0][0]), projections=False)
    return app.ledger, plan


def run_plan(ledger: Ledger, plan: Sequence[Any]) -> None:
    run_demo(ledger, plan)


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: str
    headers: dict[str, bytes]
    value: CloudEvent
    raw: bytes


def read_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every message of ``topic`` up to its end offsets now (no consumer group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout}s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    messages.append(Message(tp.partition, r.offset, r.key.decode(), dict(r.headers), CloudEvent.from_json(r.value), r.value))
        return messages
    finally:
        consumer.close()


def replayed_rows(ledger_url: str, read_models_url: str) -> dict[str, list[tuple]]:
    """The read models a replay of the whole log builds (into ``read_models_url``), as sorted rows."""
    store = open_store(ledger_url)
    db = ReadModelDB(read_models_url)
    try:
        ProjectionRunner(db, store_source(store)).catch_up()
        return read_model_rows(db)
    finally:
        db.close()
        store.close()


READ_MODELS = ("registry", "grades", "counters", "lists", "timeline", "provider_state")


def read_model_rows(db: ReadModelDB) -> dict[str, list[tuple]]:
    """Every row of the live read models, sorted; a provider snapshot without the instant it was taken."""
    with db.transaction(write=False) as tx:
        generation = tx.fetchone("SELECT live FROM projection_generation WHERE id = 1")
        assert generation is not None
        live = int(generation[0])
        tx.generation = live
        rows = {name: sorted(tuple(r) for r in tx.fetchall(f"SELECT * FROM {tx.table(name)}")) for name in READ_MODELS}
    rows["provider_state"] = [
        (pid, oid, version, _without_snapshot_time(snapshot), meta) for pid, oid, version, snapshot, meta in rows["provider_state"]
    ]
    return rows


def _without_snapshot_time(snapshot: str) -> dict:
    state = json.loads(snapshot)
    state.pop("timestamp", None)  # Snapshot.take stamps the wall-clock time it was taken
    return state


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ledger_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m ledger ARGS`` with this tree first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "ledger", *args], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def consume_and_compare(bootstrap: str, topic: str, ledger_url: str, base_postgres_url: str, group: str, timeout: float = 90.0) -> dict[str, list[tuple]]:
    """A fresh consumer group reads the whole topic into fresh read models; they must equal a replay of the log.

    Returns the Kafka-fed rows. "Consumed" means every partition's offset stored with
    the read models is at the partition's end (duplicates published after a crash included).
    """
    from consumers.projections import ProjectionConsumer
    from tests.conftest import postgres_schema

    with postgres_schema(base_postgres_url) as fed_url, postgres_schema(base_postgres_url) as replay_url:
        consumer = ProjectionConsumer(bootstrap, topic, fed_url, group_id=group, name="verifier")
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.consumer.partitions_for_topic(topic) or [])]
            ends = {tp.partition: offset for tp, offset in consumer.consumer.end_offsets(partitions).items()}

            def done() -> bool:
                stored = consumer.target.stored_offsets(topic)
                return all(stored.get(p, -1) + 1 >= end for p, end in ends.items())

            deadline = time.monotonic() + timeout
            while not done():
                assert time.monotonic() < deadline, "the consumer did not reach the end of the topic"
                consumer.poll_once()
        finally:
            consumer.close()
        with ReadModelDB(fed_url) as db:
            fed = read_model_rows(db)
        assert fed == replayed_rows(ledger_url, replay_url), "the Kafka-fed read models differ from a replay of the log"
        return fed


def consumers_process(*args: str) -> subprocess.Popen:
    """``python -m consumers ARGS`` with this tree first on the path; its log goes to a file
    (:func:`log_of`), never to a pipe nobody reads (a full pipe would block the consumer)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (open as long as the process lives)
    process = subprocess.Popen([sys.executable, "-m", "consumers", *args], env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    process.log = log  # type: ignore[attr-defined]
    return process


def log_of(process: subprocess.Popen) -> str:
    log = process.log  # type: ignore[attr-defined]
    log.seek(0)
    return log.read()[-4000:]
