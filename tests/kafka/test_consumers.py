"""The consumer group: Kafka-fed read models in PostgreSQL equal a replay from the log, exactly once."""
from __future__ import annotations

import threading

import pytest

from consumers.projections import PartitionedProjections, ProjectionConsumer
from ledger.projections.db import ReadModelDB
from ledger.relay import Relay, topic_name
from ledger.store import open_store
from tests.conftest import postgres_base_url, postgres_schema
from tests.kafka.support import (
    demo_ledger,
    read_model_rows,
    read_topic,
    replayed_rows,
    run_plan,
    wait_until,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def read_models_url():
    with postgres_schema(postgres_base_url()) as url:
        yield url


@pytest.fixture
def replay_url():
    with postgres_schema(postgres_base_url()) as url:
        yield url


def consumed_all(head: int, url: str, group: str) -> bool:
    """Every partition's stored offset is at the topic's end (the head of the log was published)."""
    db = ReadModelDB(url)
    try:
        with db.transaction(write=False) as tx:
            rows = tx.fetchall('SELECT sum("offset" + 1) FROM kafka_consumer_offsets WHERE group_id = ?', (group,))
        return rows[0][0] is not None and int(rows[0][0]) >= head
    finally:
        db.close()


class Member:
    """A consumer running in a thread of its own until stopped."""

    def __init__(self, consumer: ProjectionConsumer) -> None:
        self.consumer = consumer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=consumer.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def leave(self) -> None:
        self.stop.set()
        self.thread.join(15)
        self.consumer.close()


def test_consumers_added_and_removed_mid_stream_build_what_a_replay_builds(postgres_url, kafka_bootstrap, topic_prefix, read_models_url, replay_url) -> None:
    ledger, plan = demo_ledger(postgres_url)
    quarter = len(plan) // 4
    run_plan(ledger, plan[:quarter])
    topic = topic_name(topic_prefix)
    relay = Relay(ledger.store, kafka_bootstrap, topic, batch_size=50)
    relay.run(until_caught_up=True)
    group = f"{topic_prefix}read-models"

    def member(name: str) -> Member:
        return Member(ProjectionConsumer(kafka_bootstrap, topic, read_models_url, group_id=group, name=name, max_records=40))

    members = [member("first")]
    first = members[0].consumer
    try:
        wait_until(lambda: first.applied > 0, 30, "the first consumer to apply messages")
        members.append(member("second"))  # a member joins mid-stream: the partitions are shared
        second = members[1].consumer

        def shared() -> bool:
            return bool(first.assigned) and bool(second.assigned) and len(first.assigned | second.assigned) == 6

        # the rebalance first: events published before it ends may all go to the first member
        wait_until(lambda: shared() and first.assigned.isdisjoint(second.assigned), 60, "the group to share the partitions")
        run_plan(ledger, plan[quarter : 2 * quarter])
        relay.run(until_caught_up=True)
        wait_until(lambda: second.applied > 0, 60, "the second consumer to apply messages of its partitions")
        assert first.assigned.isdisjoint(second.assigned) and len(first.assigned | second.assigned) == 6
        run_plan(ledger, plan[2 * quarter : 3 * quarter])
        relay.run(until_caught_up=True)
        members[0].leave()  # a member leaves mid-stream: the other takes every partition
        run_plan(ledger, plan[3 * quarter :])
        relay.run(until_caught_up=True)
        head = ledger.store.max_position()
        wait_until(lambda: consumed_all(head, read_models_url, group), 60, "the group to consume every partition")
        assert len(second.assigned) == 6
    finally:
        for m in members:
            if not m.stop.is_set():
                m.leave()
        relay.close()
    assert first.applied + second.applied == head, "an event was applied twice or not at all"
    with ReadModelDB(read_models_url) as db:
        fed = read_model_rows(db)
    assert fed == replayed_rows(postgres_url, replay_url)
    assert len(fed["registry"]) > 10 and len(fed["timeline"]) > 500


def test_a_redelivered_message_changes_nothing(complete_demo_url, kafka_bootstrap, topic_prefix, read_models_url, replay_url) -> None:
    postgres_url = complete_demo_url
    store = open_store(postgres_url)
    topic = topic_name(topic_prefix)
    relay = Relay(store, kafka_bootstrap, topic)
    relay.run(until_caught_up=True)
    relay.close()
    store.close()
    messages = read_topic(kafka_bootstrap, topic)
    db = ReadModelDB(read_models_url)
    target = PartitionedProjections(db, "g")
    try:
        by_partition: dict[int, list] = {}
        for m in messages:
            by_partition.setdefault(m.partition, []).append((m.offset, m.value))
        applied = 0
        for partition, batch in by_partition.items():
            half = len(batch) // 2
            applied += target.apply(topic, partition, batch[:half])
            applied += target.apply(topic, partition, batch[: half + 3])  # redelivered, with 3 new ones
            applied += target.apply(topic, partition, batch)
        assert applied == len(messages)
        once = read_model_rows(db)
        for partition, batch in by_partition.items():  # everything again, e.g. after a rebalance
            assert target.apply(topic, partition, batch) == 0
        assert read_model_rows(db) == once == replayed_rows(postgres_url, replay_url)
    finally:
        db.close()
