"""The relay on a real broker and a real PostgreSQL ledger: order, keys, envelopes, resumption, SIGKILL."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import defaultdict
from datetime import UTC

import pytest

from ledger import wire
from ledger.relay import Relay, RelayPositions, relay_status, topic_name
from ledger.store import open_store
from tests.kafka.support import (
    demo_ledger,
    ledger_process,
    read_topic,
    run_plan,
)

pytestmark = pytest.mark.kafka


def assert_complete_and_ordered(messages, store) -> None:
    """Every event of the log published at least once; per partition in log order; one aggregate, one partition."""
    log = list(store.read_all())
    first_seen: dict[str, int] = {}
    partition_of: dict[str, int] = {}
    last_position: defaultdict[int, int] = defaultdict(int)
    for m in messages:
        e = m.value
        partition_of.setdefault(str(e.aggregateid), m.partition)
        assert partition_of[str(e.aggregateid)] == m.partition, f"aggregate {e.aggregateid} in two partitions"
        if e.id in first_seen:
            continue  # a duplicate after a crash: allowed, and it must be the same message
        first_seen[e.id] = e.logposition
        assert e.logposition > last_position[m.partition], f"partition {m.partition}: {e.logposition} after {last_position[m.partition]}"
        last_position[m.partition] = e.logposition
    assert sorted(first_seen.values()) == [e.position for e in log], "an event is missing (a gap)"


def test_every_event_is_published_once_in_log_order_keyed_by_its_provider(complete_demo_url, kafka_bootstrap, topic_prefix) -> None:
    store = open_store(complete_demo_url)
    topic = topic_name(topic_prefix)
    relay = Relay(store, kafka_bootstrap, topic, batch_size=200)
    try:
        assert relay.lag().events == store.max_position() > 500
        relay.start()  # the topic, the producer's metadata and the builder process, before any batch
        assert relay._builder is not None and len(relay._builder._processes) == 1 and relay.published == 0
        relay.run(until_caught_up=True)
        lag = relay.lag()
    finally:
        relay.close()
    assert (lag.events, lag.seconds, lag.acknowledged) == (0, 0.0, store.max_position())
    assert re.fullmatch(r"t[0-9a-f]+\.ledger\.events\.v1", topic)

    messages = read_topic(kafka_bootstrap, topic)
    assert len(messages) == store.max_position()  # no duplicate without a crash
    assert_complete_and_ordered(messages, store)
    assert len({m.partition for m in messages}) > 1

    by_ref = {e.ref: e for e in store.read_all()}
    providers = {}
    reservations = 0
    for m in messages:
        e, stored = m.value, by_ref[m.value.id]
        assert m.key == e.partitionkey
        assert m.headers["content-type"] == b"application/cloudevents+json"
        assert b"ledger.aggregates" not in m.raw, "a module path was published"
        assert e.type == wire.event_type(stored) and wire.NAME_PATTERN.match(e.type)
        assert (e.logposition, e.aggregateversion, e.causationid, e.time, e.effectiveon, e.eventhash) == (
            stored.position, stored.originator_version, stored.command_id, stored.recorded_at, stored.effective_on, stored.hash)
        if e.type == "provider.applied.v1":
            providers[e.aggregateid] = e.data["provider_id"]
            assert e.subject == f"provider/{e.data['provider_id']}" and e.source == f"/ledger/{e.data['jurisdiction']}"
        if e.type in ("complaint.filed.v1", "complaint.filed.v2", "appeal.filed.v1"):
            assert m.key == e.data["provider_id"]  # a complaint's events stay with its provider's
        if e.type == "project.registered.v1":
            assert m.key == (e.data["integrated_provider_id"] or e.data["product_provider_ids"][0])
        if e.type == "entity.credit-code-reserved.v1":  # an entity's reservation names several providers over time
            assert m.key == f"entity:{e.data['jurisdiction']}:{e.data['credit_code']}" and e.subject == f"entity/{e.data['jurisdiction']}:{e.data['credit_code']}"
            reservations += 1
        if e.type == "provider.sanction-imposed.v1":
            citation = e.data["citation"]
            assert e.citation == f"{citation['short']} {citation['article']}" and e.derived is e.data["derived"]
    for m in messages:  # a provider's own events are keyed by its id
        if m.value.aggregateid in providers:
            assert m.key == providers[m.value.aggregateid]
    sanctions = [m for m in messages if m.value.type == "provider.sanction-imposed.v1"]
    assert sanctions and any(m.value.derived for m in sanctions)
    assert reservations == len(providers)  # the demo's entities apply once each

    # an outside client (kcat) reads the same envelopes
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is missing (apt-get install kcat)", pytrace=False)
    out = subprocess.run([kcat, "-C", "-b", kafka_bootstrap, "-t", topic, "-e", "-q", "-f", "%k\t%s\n"],
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    seen = [line.split("\t", 1) for line in out.splitlines()]
    assert len(seen) == len(messages)
    assert all(json.loads(body)["specversion"] == "1.0" and json.loads(body)["partitionkey"] == key for key, body in seen)
    store.close()


def test_a_new_relay_resumes_after_the_acknowledged_position(postgres_url, kafka_bootstrap, topic_prefix) -> None:
    ledger, plan = demo_ledger(postgres_url)
    half = len(plan) // 2
    run_plan(ledger, plan[:half])
    topic = topic_name(topic_prefix)
    first = Relay(ledger.store, kafka_bootstrap, topic, batch_size=100)
    first.run(until_caught_up=True)
    published = first.lag().acknowledged
    first.close()
    run_plan(ledger, plan[half:])
    lag = relay_status(postgres_url, topic)
    assert lag is not None and lag.events == ledger.store.max_position() - published > 0
    second = Relay(ledger.store, kafka_bootstrap, topic, batch_size=100)  # a fresh process: keys from the log
    second.run(until_caught_up=True)
    second.close()
    messages = read_topic(kafka_bootstrap, topic)
    assert len(messages) == ledger.store.max_position()
    assert_complete_and_ordered(messages, ledger.store)


def test_the_acknowledged_position_never_moves_back(postgres_url) -> None:
    positions = RelayPositions.open(postgres_url)
    try:
        positions.set("t", 10)
        positions.set("t", 9)  # a stale relay process
        assert positions.get("t") == 10
        positions.set("t", 11)
        assert positions.get("t") == 11
    finally:
        positions.close()


def test_status_reports_the_lag_in_events_and_seconds(postgres_url, kafka_bootstrap, topic_prefix) -> None:
    ledger, plan = demo_ledger(postgres_url)
    run_plan(ledger, plan[:40])
    topic = topic_name(topic_prefix)
    assert relay_status(postgres_url, topic) is None  # no relay ever ran: nothing is created by reading
    relay = Relay(ledger.store, kafka_bootstrap, topic, batch_size=5)
    relay.ensure_topic()
    relay.publish_batch()
    relay.close()
    lag = relay_status(postgres_url, topic)
    assert lag is not None
    oldest = next(iter(ledger.store.read_all(after=5, limit=1)))
    assert (lag.acknowledged, lag.events) == (5, ledger.store.max_position() - 5)
    assert lag.seconds > 0 and abs(lag.seconds - (lag_now() - oldest.recorded_at).total_seconds()) < 60
    process = ledger_process("status", "-d", postgres_url, "--topic-prefix", topic_prefix, "--json")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert json.loads(out)["relay"]["events"] == lag.events


def lag_now():
    from datetime import datetime

    return datetime.now(UTC)


def test_the_relay_and_status_never_create_a_ledger(tmp_path) -> None:
    missing = tmp_path / "missing.db"
    for args in (["relay", "--once"], ["status"]):
        process = ledger_process(*args, "-d", f"sqlite:///{missing}", "--bootstrap", "127.0.0.1:1") if args[0] == "relay" else ledger_process(*args, "-d", f"sqlite:///{missing}")
        _, err = process.communicate(timeout=60)
        assert process.returncode == 1
        assert "no ledger at" in err and "Traceback" not in err
    assert not missing.exists()


def test_the_relay_runs_as_the_application_role(postgres_url, kafka_bootstrap, topic_prefix) -> None:
    """Least privilege (ledger/store/migrate.py): after `ledger migrate`, the relay needs nothing of the owner's."""
    from ledger.store.migrate import migrate
    from tests.support.roles import app_role, as_app

    migrate(postgres_url, app_role())
    app_url = as_app(postgres_url)
    ledger, plan = demo_ledger(app_url)
    run_plan(ledger, plan[:60])
    relay_store = open_store(app_url)
    relay = Relay(relay_store, kafka_bootstrap, topic_name(topic_prefix), batch_size=50)
    try:
        relay.run(until_caught_up=True)
        assert relay.lag().acknowledged == ledger.store.max_position() > 0
    finally:
        relay.close()
        relay_store.close()
        ledger.close()
    messages = read_topic(kafka_bootstrap, topic_name(topic_prefix))
    assert len(messages) == len({m.value.id for m in messages}) > 0
