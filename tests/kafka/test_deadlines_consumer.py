"""The deadline sweep as a Kafka consumer: the same providers due as the ledger's own sweep, at each boundary; one command per provider."""
from __future__ import annotations

from datetime import timedelta

import pytest

from consumers.deadlines import DeadlineConsumer
from ledger import deadlines
from ledger.aggregates import Provider
from ledger.clock import ManualClock, business_date
from ledger.relay import Relay, topic_name
from tests.kafka.support import demo_ledger, run_plan

pytestmark = pytest.mark.kafka


def open_deadlines(ledger) -> list[tuple]:
    """(deadline, provider id) of every open order of a provider in the pool, soonest first."""
    providers = [ledger.load(Provider, pid) for pid in deadlines._business_ids(ledger, "provider", "provider_id")]
    return sorted(
        (s["deadline"], p.provider_id) for p in providers if p.in_pool for s in p.active_sanctions()
        if s.get("deadline") and s["overdue_on"] is None and s["completed_on"] is None and s["refused_on"] is None
    )  # fmt: skip


def test_the_consumer_sweeps_what_the_ledger_would_one_command_per_provider(postgres_url, kafka_bootstrap, topic_prefix) -> None:
    ledger, plan = demo_ledger(postgres_url)
    done = len(plan) // 3
    run_plan(ledger, plan[:done])
    while not open_deadlines(ledger):  # go on until some order is open
        run_plan(ledger, plan[done : done + 10])
        done += 10
        assert done < len(plan), "the demo has no open deadline part-way"
    deadline, provider_id = open_deadlines(ledger)[0]
    topic = topic_name(topic_prefix)
    relay = Relay(ledger.store, kafka_bootstrap, topic)
    relay.run(until_caught_up=True)
    consumer = DeadlineConsumer(kafka_bootstrap, topic)
    try:
        consumer.catch_up()
        day = timedelta(days=1)
        for as_of in (deadline - day, deadline, deadline + day, deadline + 40 * day):
            assert consumer.schedule.due(as_of) == deadlines.due(ledger, as_of), as_of
        assert provider_id not in consumer.schedule.due(deadline)  # passed only after the deadline's day
        as_of = deadline + day
        expected = consumer.schedule.due(as_of)
        assert provider_id in expected
        if business_date(ledger.clock.now()) < as_of:
            assert isinstance(ledger.clock, ManualClock)
            ledger.clock.set(as_of)
        result = consumer.sweep(ledger, as_of)
        assert sorted(result.results) == sorted(expected)  # one command per provider due
        assert all(r.command_id == f"deadlines:{as_of}:{pid}" for pid, r in result.results.items())
        assert result.deadlines >= len(expected)
        assert deadlines.due(ledger, as_of) == {}
        again = consumer.sweep(ledger, as_of)  # the same day again (say, after a restart): recorded once
        assert again.results and all(r.duplicate for r in again.results.values())
        relay.run(until_caught_up=True)
        consumer.catch_up()
        assert consumer.schedule.due(as_of) == {}
    finally:
        consumer.close()
        relay.close()
