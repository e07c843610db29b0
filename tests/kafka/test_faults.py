"""Faults, each ending with Kafka-fed read models equal to a replay of the log: nothing missing, nothing twice.

The broker and the PostgreSQL server that are stopped here are private to the
test (their own port and data directory): the shared test broker and cluster
keep serving the other tests.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.relay import Relay, topic_name
from ledger.store import open_store
from tests.conftest import postgres_base_url, postgres_schema
from tests.kafka.support import (
    ROOT,
    consume_and_compare,
    demo_ledger,
    read_model_rows,
    replayed_rows,
    run_plan,
    wait_until,
)
from tests.support.private_postgres import private_postgres, worker_offset

pytestmark = pytest.mark.kafka


class PrivateBroker:
    """A broker of the test's own (scripts/kafka-start.sh on another port and data directory)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(data_dir), "KAFKA_HEAP": "-Xmx256m"}
        self.address = f"127.0.0.1:{port}"

    def start(self) -> None:
        subprocess.run([str(ROOT / "scripts/kafka-start.sh")], env=self.env, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts/kafka-start.sh"), "--stop"], env=self.env, check=True, capture_output=True, timeout=60)


@pytest.fixture
def private_broker(tmp_path, kafka_bootstrap):
    broker = PrivateBroker(tmp_path / "kafka", 19092 + 10 * worker_offset())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_broker_stopped_mid_stream_and_restarted(postgres_url, private_broker, topic_prefix) -> None:
    ledger, plan = demo_ledger(postgres_url)
    third = len(plan) // 3
    run_plan(ledger, plan[:third])
    topic = topic_name(topic_prefix)
    relay = Relay(ledger.store, private_broker.address, topic, batch_size=50,
                  producer_config={"delivery_timeout_ms": 8000, "request_timeout_ms": 3000, "max_block_ms": 3000})  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_interval": 0.05, "max_backoff": 1.0}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: relay.lag().events == 0, 60, "the relay to catch up")
        private_broker.stop()
        run_plan(ledger, plan[third : 2 * third])  # the ledger goes on writing while the broker is down
        wait_until(lambda: relay.failures > 0, 60, "the relay to notice the outage")
        assert relay.lag().events > 0
        private_broker.start()
        run_plan(ledger, plan[2 * third :])
        wait_until(lambda: relay.lag().events == 0, 90, "the relay to publish everything after the restart")
    finally:
        stop.set()
        thread.join(30)
        relay.close()
    consume_and_compare(private_broker.address, topic, postgres_url, postgres_base_url(), f"{topic_prefix}verify")


def test_relay_sigkilled_mid_batch(complete_demo_url, kafka_bootstrap, topic_prefix) -> None:
    from ledger.relay import RelayPositions
    from tests.kafka.support import ledger_process

    postgres_url = complete_demo_url
    store = open_store(postgres_url)
    head = store.max_position()
    store.close()
    topic = topic_name(topic_prefix)
    args = ["relay", "-d", postgres_url, "--bootstrap", kafka_bootstrap, "--topic-prefix", topic_prefix]
    process = ledger_process(*args, "--batch-size", "20")
    positions = RelayPositions.open(postgres_url)
    try:
        wait_until(lambda: positions.get(topic) >= 100, 60, "the relay to publish some batches")
        helpers = descendants(process.pid)
        assert len(helpers) >= 2, "no builder process"  # the forkserver and the builder it forked
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert 0 < positions.get(topic) < head, "the relay was not killed mid-stream"
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers), 30, "the relay's helper processes to end with it")
    finally:
        if process.poll() is None:
            process.kill()
        positions.close()
    rerun = ledger_process(*args, "--once")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    consume_and_compare(kafka_bootstrap, topic, postgres_url, postgres_base_url(), f"{topic_prefix}verify")


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Linux: /proc/PID/task/TID/children)."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found += [child, *descendants(child)]
    return found


def test_the_builder_process_killed_mid_stream(postgres_url, kafka_bootstrap, topic_prefix) -> None:
    """The process that reads the log and builds the messages dies (SIGKILL): the relay starts another
    and goes on from the acknowledged position; nothing is missing."""
    ledger, plan = demo_ledger(postgres_url)
    run_plan(ledger, plan)
    topic = topic_name(topic_prefix)
    relay = Relay(ledger.store, kafka_bootstrap, topic, batch_size=10)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_interval": 0.05, "max_backoff": 0.5}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: relay.published >= 100, 60, "the relay to publish some batches")
        assert relay._builder is not None
        (builder,) = relay._builder._processes
        os.kill(builder, signal.SIGKILL)
        wait_until(lambda: relay.failures > 0, 30, "the relay to notice the builder died")
        assert relay.lag().events > 0, "the builder was not killed mid-stream"
        wait_until(lambda: relay.lag().events == 0, 90, "the relay to publish everything with a new builder")
        assert relay._builder is not None and list(relay._builder._processes) != [builder]
    finally:
        stop.set()
        thread.join(30)
        relay.close()
    consume_and_compare(kafka_bootstrap, topic, postgres_url, postgres_base_url(), f"{topic_prefix}verify")
    ledger.close()


def test_consumer_sigkilled_mid_batch(complete_demo_url, kafka_bootstrap, topic_prefix) -> None:
    from tests.kafka.support import consumers_process, log_of

    postgres_url = complete_demo_url
    store = open_store(postgres_url)
    topic = topic_name(topic_prefix)
    relay = Relay(store, kafka_bootstrap, topic)
    relay.run(until_caught_up=True)
    relay.close()
    head = store.max_position()
    store.close()
    group = f"{topic_prefix}read-models"
    with postgres_schema(postgres_base_url()) as fed_url, postgres_schema(postgres_base_url()) as replay_url:
        args = ["projections", "-d", fed_url, "--bootstrap", kafka_bootstrap, "--topic-prefix", topic_prefix, "--group", group, "--max-records", "40",
                "--instance-id", "member-1"]  # static membership: the restart takes the partitions back at once
        process = consumers_process(*args)
        try:
            _wait_for_consumer(process, lambda: applied(fed_url, group) > 30, "the consumer to apply some batches")
            assert process.poll() is None, f"the consumer exited: {log_of(process)}"
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        finally:
            if process.poll() is None:
                process.kill()
        assert applied(fed_url, group) < head, "the consumer was not killed mid-stream"
        process = consumers_process(*args)  # the same member again
        try:
            _wait_for_consumer(process, lambda: applied(fed_url, group) >= head, "the restarted consumer to finish")
            assert process.poll() is None, f"the consumer exited: {log_of(process)}"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        from ledger.projections.db import ReadModelDB

        with ReadModelDB(fed_url) as db:
            assert read_model_rows(db) == replayed_rows(postgres_url, replay_url)


def _wait_for_consumer(process: Any, done: Callable[[], bool], what: str) -> None:
    """Until ``done()`` or the consumer exits (120 s); a timeout names what the consumer logged."""
    from tests.kafka.support import log_of

    try:
        wait_until(lambda: done() or process.poll() is not None, 120, what)
    except AssertionError as error:
        raise AssertionError(f"{error}; the consumer's log:\n{log_of(process)}") from None


def applied(url: str, group: str) -> int:
    """Messages applied by ``group`` (no duplicates on the topic here: offsets + 1 = events)."""
    from ledger.projections.db import ReadModelDB

    with ReadModelDB(url) as db:
        try:
            with db.transaction(write=False) as tx:
                row = tx.fetchone('SELECT coalesce(sum("offset" + 1), 0) FROM kafka_consumer_offsets WHERE group_id = ?', (group,))
        except psycopg.errors.UndefinedTable:  # the consumer has not created its table yet
            return 0
    assert row is not None
    return int(row[0])


@pytest.fixture(name="private_postgres")
def private_postgres_fixture():
    with private_postgres(25432) as server:
        yield server


def test_postgres_restarted_under_the_relay(private_postgres, kafka_bootstrap, topic_prefix) -> None:
    url = private_postgres.url
    ledger, plan = demo_ledger(url)
    half = len(plan) // 2
    run_plan(ledger, plan[:half])
    topic = topic_name(topic_prefix)
    # a relay waiting for a pooled connection when the server goes gives up after the pool's timeout:
    # at the default (30 s, as long as the wait below) whether it noticed in time was a coin's toss
    relay_store = open_store(url, timeout=5)
    relay = Relay(relay_store, kafka_bootstrap, topic, batch_size=40)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_interval": 0.05, "max_backoff": 0.5}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: relay.published > 0, 60, "the relay to publish")
        private_postgres.stop()
        wait_until(lambda: relay.failures > 0, 30, "the relay to notice the database is gone")
        private_postgres.start()
        ledger.close()  # the writer is not under test: a fresh one (the old pool's connections died)
        ledger, _ = demo_ledger(url)
        run_plan(ledger, plan[half:])
        wait_until(lambda: relay.published >= ledger.store.max_position() and relay.lag().events == 0, 90, "the relay to publish everything")
    finally:
        stop.set()
        thread.join(30)
        relay.close()
        relay_store.close()
    consume_and_compare(kafka_bootstrap, topic, url, postgres_base_url(), f"{topic_prefix}verify")
    ledger.close()
