"""Kafka figures: the relay's throughput against a bare producer, and command-to-read-model latency.

    python -m bench.kafka --database-url "$LEDGER_TEST_POSTGRES_URL" --bootstrap "$LEDGER_TEST_KAFKA" --json bench-kafka.json

One run measures, on a fresh PostgreSQL schema and fresh topics:

1. **Relay throughput.** A ledger with the demo data set (``--providers``) is
   published in ``--rounds`` alternating pairs, each to two fresh topics of ``PARTITIONS`` partitions:
   - *baseline*: a bare kafka-python producer sends the very same messages (keys and
     envelope bytes built beforehand, not timed; no serializer) with the same settings (idempotent,
     ``acks=all``, ``linger_ms``, ``batch_size``) and flushes;
   - *relay*: ``Relay.run(until_caught_up=True)``: reads the log, builds the envelopes,
     sends, waits for every acknowledgement of each batch, stores the position.
   The figure is relay messages/s ÷ baseline messages/s, the median of the rounds (on two cores
   shared with the broker and PostgreSQL one pair moves by a third between rounds); the relay is
   started (topic, metadata, builder process) before its clock, as the producer is.
2. **Latency.** A relay (polling every ``--poll-ms``) and one consumer-group member
   run in threads; after ``PROVIDERS`` applications (not timed), ``RecordProfileChange``
   commands (a provider's address, round robin) are sent at a steady ``--rate`` per
   second for ``--seconds`` (by ``--clients`` threads, group commit on, each command
   sent on schedule whatever the earlier replies); for each command, the time from its reply
   to the commit of the consumer transaction that applied its event to the Kafka-fed
   read models. p50 and p99.

The schemas are dropped at the end; the topics stay (their names are printed).
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from consumers.projections import PartitionedProjections, ProjectionConsumer
from ledger import wire
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock, SystemClock, business_date
from ledger.cloudevent import CONTENT_TYPE, envelope_dict, subject_of_first, to_json
from ledger.commands.models import RecordProfileChange, SubmitApplication
from ledger.demo import demo_plan, run_demo
from ledger.relay import PARTITIONS, Relay
from ledger.rules import credit_code
from ledger.settings import Settings
from tests.conftest import postgres_schema

#: providers applied before the latency run (each command then changes one's address)
PROVIDERS = 100

PRODUCER = {"acks": "all", "enable_idempotence": True, "linger_ms": 5, "batch_size": 256 * 1024}


def create_topic(bootstrap_servers: str, name: str) -> str:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        admin.close()
    return name


def throughput(database_url: str, bootstrap_servers: str, providers: int, prefix: str, rounds: int) -> dict[str, Any]:
    plan = demo_plan(seed=2024, providers=providers)
    with bootstrap(Settings(database_url=database_url), clock=ManualClock(plan[0][0]), projections=False) as app:
        run_demo(app.ledger, plan)
        store = app.store
        events = list(store.read_all())
        subjects: dict = {}
        messages = []
        for event in events:
            if event.originator_version == 1:
                subjects[event.originator_id] = subject_of_first(wire.event_type(event), wire.decode_state(event))
            body = envelope_dict(event, subjects[event.originator_id])
            messages.append((body["partitionkey"].encode(), to_json(body)))  # the very bytes the relay sends

        headers = [("content-type", CONTENT_TYPE.encode())]
        rounds_done = []
        for round_number in range(1, rounds + 1):  # alternating: a bare producer, then the relay, on fresh topics
            base_topic = create_topic(bootstrap_servers, f"{prefix}baseline{round_number}")
            producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **PRODUCER)  # bytes as they are: no serializer
            producer.partitions_for(base_topic)  # metadata before the clock starts
            started, cpu = time.perf_counter(), time.process_time()
            for key, message in messages:
                producer.send(base_topic, key=key, value=message, headers=headers)
            producer.flush()
            baseline_seconds, baseline_cpu = time.perf_counter() - started, time.process_time() - cpu
            producer.close()

            relay_topic = create_topic(bootstrap_servers, f"{prefix}relay{round_number}")
            relay = Relay(store, bootstrap_servers, relay_topic, producer_config={"linger_ms": PRODUCER["linger_ms"], "batch_size": PRODUCER["batch_size"]})
            relay.start()  # the topic, the producer's metadata and the builder process, before the clock starts
            started, cpu = time.perf_counter(), time.process_time()
            relay.run(until_caught_up=True)
            relay_seconds, relay_cpu = time.perf_counter() - started, time.process_time() - cpu
            published = relay.published
            relay.close()
            assert published == len(messages), (published, len(messages))
            rounds_done.append((baseline_seconds, relay_seconds, baseline_cpu, relay_cpu, base_topic, relay_topic))
    n = len(messages)
    ratios = [b / r for b, r, *_ in rounds_done]
    median = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    baseline_seconds, relay_seconds, baseline_cpu, relay_cpu, base_topic, relay_topic = rounds_done[median]
    return {
        "events": n,
        "rounds": [round(r, 3) for r in ratios],
        "baseline_msgs_per_s": round(n / baseline_seconds),
        "relay_msgs_per_s": round(n / relay_seconds),
        "ratio": round(ratios[median], 3),
        "baseline_cpu_us_per_msg": round(baseline_cpu * 1e6 / n, 1),
        "relay_cpu_us_per_msg": round(relay_cpu * 1e6 / n, 1),  # the relay's own process (its builder's is apart)
        "topics": [base_topic, relay_topic],
    }


class TimedProjections(PartitionedProjections):
    """Notes when each command's events became visible (after the transaction committed), by command id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visible: dict[str, float] = {}

    def apply(self, topic: str, partition: int, messages: Any) -> int:
        applied = super().apply(topic, partition, messages)
        now = time.perf_counter()
        for _, message in messages:
            self.visible.setdefault(message.causationid, now)
        return applied


def latency(database_url: str, read_models_url: str, bootstrap_servers: str, rate: float, seconds: float, poll_ms: float, prefix: str, clients: int) -> dict[str, Any]:
    topic = create_topic(bootstrap_servers, f"{prefix}latency")
    settings = Settings(database_url=database_url, group_commit=True, pool_size=clients + 2)
    with bootstrap(settings, clock=SystemClock(), projections=False) as app:
        relay = Relay(app.store, bootstrap_servers, topic)
        consumer = ProjectionConsumer(bootstrap_servers, topic, read_models_url, group_id=f"{prefix}latency")
        consumer.target = TimedProjections(consumer.db, f"{prefix}latency")
        stop = threading.Event()
        failures: list[str] = []

        def keep_failure(run: Any, *args: Any, **kwargs: Any) -> None:
            try:
                run(*args, **kwargs)
            except Exception as error:  # reported with the figures: a dead thread would look like a slow one
                failures.append(f"{run.__qualname__}: {type(error).__name__}: {error}")
                raise

        threads = [
            threading.Thread(target=keep_failure, args=(relay.run, stop), kwargs={"poll_interval": poll_ms / 1000}, daemon=True),
            threading.Thread(target=keep_failure, args=(consumer.run, stop), daemon=True),
        ]
        for t in threads:
            t.start()
        replied: dict[str, float] = {}
        count = int(rate * seconds)
        providers = [f"TJ-B{i:04d}" for i in range(PROVIDERS)]
        for i, provider_id in enumerate(providers):  # not timed
            app.ledger.execute(SubmitApplication(command_id=f"bench-{provider_id}", provider_id=provider_id, jurisdiction="tianjin",
                                                 name=f"天津基准{i}科技有限公司", kind="数字化解决方案服务商",
                                                 credit_code=credit_code.complete(f"91120116MA{i:07d}")))  # fmt: skip
        today = business_date(app.ledger.clock.now())

        def submit(i: int) -> None:
            command_id = f"bench-change-{i}"
            app.ledger.execute(RecordProfileChange(command_id=command_id, provider_id=providers[i % len(providers)], field="address",
                                                   new_value=f"天津市滨海新区基准路{i}号", changed_on=today, reported_on=today, major=False))  # fmt: skip
            replied[command_id] = time.perf_counter()

        wait_until_seen = time.monotonic() + 60
        while len(consumer.target.visible) < len(providers) and time.monotonic() < wait_until_seen:
            time.sleep(0.05)  # the set-up reached the read models: the member has joined
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:  # commands are sent on schedule, whatever the replies
            futures = []
            for i in range(count):
                pause = started + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                futures.append(pool.submit(submit, i))
            for future in futures:
                future.result()
        achieved = count / (time.perf_counter() - started)
        deadline = time.monotonic() + 60
        while len(consumer.target.visible) < count + len(providers) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(10)
        relay.close()
        consumer.close()
    if not consumer.target.visible:
        raise SystemExit(f"nothing reached the read models: relay published {relay.published}, consumer applied {consumer.applied},"
                         f" partitions assigned to it {sorted(consumer.assigned)}" + "".join(f"; {failure}" for failure in failures))  # fmt: skip
    delays = sorted((consumer.target.visible[p] - t) * 1000 for p, t in replied.items() if p in consumer.target.visible)
    return {
        "commands": count,
        "rate_requested": rate,
        "rate_achieved": round(achieved, 1),
        "relay_poll_ms": poll_ms,
        "client_threads": clients,
        "seen": len(delays),
        "p50_ms": round(statistics.median(delays), 1),
        "p99_ms": round(delays[int(0.99 * (len(delays) - 1))], 1),
        "max_ms": round(delays[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to create schemas in")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--providers", type=int, default=600, help="the demo data set's providers (600: about 18,800 messages)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of the throughput figure (the median is the figure)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16, help="threads sending the commands (group commit on)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    with postgres_schema(args.database_url) as ledger_url:
        relay_figures = throughput(ledger_url, args.bootstrap, args.providers, prefix, args.rounds)
    print(json.dumps({"relay_throughput": relay_figures}, ensure_ascii=False))
    with postgres_schema(args.database_url) as ledger_url, postgres_schema(args.database_url) as read_models_url:
        latency_figures = latency(ledger_url, read_models_url, args.bootstrap, args.rate, args.seconds, args.poll_ms, prefix, args.clients)
    figures = {"date": date.today().isoformat(), "relay_throughput": relay_figures, "latency": latency_figures}
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
