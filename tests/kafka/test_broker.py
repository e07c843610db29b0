"""The test broker itself: a real KRaft broker that acknowledges with acks=all and that an outside client reads."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from kafka import KafkaProducer
from kafka.admin import NewTopic

pytestmark = pytest.mark.kafka


def test_an_idempotent_acks_all_write_is_read_back_by_kcat(kafka_bootstrap: str, admin, topic_prefix: str) -> None:
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is missing (apt-get install kcat)", pytrace=False)
    topic = f"{topic_prefix}smoke"
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    try:
        for i in range(3):
            producer.send(topic, key=b"k", value=f"message {i}".encode()).get(timeout=30)
    finally:
        producer.close()
    out = subprocess.run(
        [kcat, "-C", "-b", kafka_bootstrap, "-t", topic, "-e", "-q", "-f", "%k=%s\\n"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert out.splitlines() == ["k=message 0", "k=message 1", "k=message 2"]
