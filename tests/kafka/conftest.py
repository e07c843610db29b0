"""Fixtures for the tests that talk to a real Kafka broker (scripts/kafka-start.sh starts one).

Every test gets topics of its own (a random prefix), so tests share one broker
and run in parallel without seeing each other's messages.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import service_address

#: The bootstrap address of a broker the tests may create topics on (scripts/kafka-start.sh prints one).
KAFKA_ENV = "LEDGER_TEST_KAFKA"


def kafka_bootstrap_address() -> str:
    """The test broker's address."""
    return service_address(KAFKA_ENV, "scripts/kafka-start.sh", "Kafka")


@pytest.fixture
def kafka_bootstrap() -> str:
    return kafka_bootstrap_address()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses: ``t<hex>.``."""
    return f"t{uuid.uuid4().hex[:12]}."


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[object]:
    from kafka.admin import KafkaAdminClient

    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="ledger-tests")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def complete_demo_url() -> Iterator[str]:
    """A PostgreSQL ledger holding the whole demo data set, built once per test process.

    For tests that only read the log (the relay's own table, ``kafka_relay``, has a
    row per topic, and every test has topics of its own): don't record commands here.
    """
    from tests.conftest import postgres_base_url, postgres_schema
    from tests.kafka.support import demo_ledger, run_plan

    with postgres_schema(postgres_base_url()) as url:
        ledger, plan = demo_ledger(url)
        run_plan(ledger, plan)
        ledger.close()
        yield url
