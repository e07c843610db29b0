"""The example dashboard subscriber: one jurisdiction's counts equal what the ledger's aggregates say."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from consumers.dashboard import JurisdictionCounts, follow
from ledger import deadlines
from ledger.aggregates import Provider
from ledger.relay import Relay, topic_name
from tests.kafka.support import demo_ledger, wait_until

pytestmark = pytest.mark.kafka


def test_live_counts_of_one_jurisdiction(complete_demo_url, kafka_bootstrap, topic_prefix) -> None:
    ledger, _ = demo_ledger(complete_demo_url)  # reads only
    topic = topic_name(topic_prefix)
    relay = Relay(ledger.store, kafka_bootstrap, topic)
    relay.run(until_caught_up=True)
    relay.close()
    providers = [ledger.load(Provider, pid) for pid in deadlines._business_ids(ledger, "provider", "provider_id")]
    jurisdiction = Counter(p.jurisdiction for p in providers if p.sanctions).most_common(1)[0][0]
    mine = [p for p in providers if p.jurisdiction == jurisdiction]
    expected_status = dict(sorted(Counter(p.status for p in mine).items()))
    expected_articles = dict(sorted(Counter(
        f"{s['citation']['short']} {s['citation']['article']}" for p in mine for s in p.sanctions.values() if s["rescinded_on"] is None
    ).items()))  # fmt: skip
    assert expected_articles and len(expected_status) > 1

    stop = threading.Event()
    latest: dict[str, JurisdictionCounts] = {}
    thread = threading.Thread(
        target=follow, args=(kafka_bootstrap, topic, jurisdiction, stop), kwargs={"on_change": lambda c: latest.update(counts=c)}, daemon=True
    )
    thread.start()
    try:
        wait_until(lambda: "counts" in latest and latest["counts"].sanctions_by_article == expected_articles, 30, "the dashboard's counts")
    finally:
        stop.set()
        thread.join(10)
    counts = latest["counts"]
    assert counts.by_status == expected_status
    assert counts.sanctions_by_article == expected_articles
    ledger.close()
    assert all("第" in article for article in counts.sanctions_by_article)  # the article as the rulebook writes it
