"""An example subscriber to copy: one jurisdiction's live counts of provider status and of sanctions by article.

It needs nothing of the ledger's code — only kafka-python and the published
contract (``contracts/asyncapi.yaml``): a dashboard team can copy this file.
What it relies on:

- the value is a CloudEvents JSON envelope; ``source`` is ``/ledger/<jurisdiction>``;
- each provider's events come in order within one partition (the key is the
  provider), so folding them per provider as they arrive is correct;
- a message may come twice after a relay crash, with the same ``id``: it keeps
  the ids it has counted and skips a repeat;
- a sanction counts from ``provider.sanction-imposed.v1`` (its ``citation``, the
  article as written, e.g. ``唐山 第十三条（二）``) until a
  ``provider.sanction-rescinded.v1`` names it (``data.sanction_ref`` is the
  imposed event's ``id``).

Run: ``python -m consumers dashboard tangshan`` prints the counts as they change.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer
from kafka.serializer import Deserializer

#: the provider status each event leaves (the sanctions that remove a provider: by kind)
STATUS_AFTER = {
    "provider.applied.v1": "applied",
    "provider.public-notice-opened.v1": "under_notice",
    "provider.admitted.v1": "in_pool",
    "provider.admission-refused.v1": "refused",
    "provider.application-lapsed.v1": "lapsed",
    "provider.reinstated.v1": "reinstated",
    "provider.exited.v1": "exited",
}
STATUS_AFTER_SANCTION = {
    "removal": "removed", "clearance": "removed", "pool_exit": "removed",
    "disqualification": "disqualified", "blacklisting": "blacklisted", "gray_listing": "gray_listed",
}  # fmt: skip


class JsonDeserializer(Deserializer):
    def deserialize(self, topic: str, headers: Any, data: bytes) -> dict[str, Any]:
        return json.loads(data)


@dataclass
class JurisdictionCounts:
    """What the dashboard shows for one jurisdiction."""

    jurisdiction: str
    status_of: dict[str, str] = field(default_factory=dict)  # provider (the message key) -> status
    article_of: dict[str, str] = field(default_factory=dict)  # sanction event id -> article, while in force
    seen: set[str] = field(default_factory=set)

    def apply(self, key: str, event: dict[str, Any]) -> bool:
        """Fold one envelope; returns True when the counts changed."""
        if event["source"] != f"/ledger/{self.jurisdiction}" or event["id"] in self.seen:
            return False
        self.seen.add(event["id"])
        kind, data = event["type"], event["data"]
        if kind in STATUS_AFTER:
            self.status_of[key] = STATUS_AFTER[kind]
        elif kind == "provider.sanction-imposed.v1":
            self.article_of[event["id"]] = event.get("citation") or data["citation"]["article"]
            if data["sanction"] in STATUS_AFTER_SANCTION:
                self.status_of[key] = STATUS_AFTER_SANCTION[data["sanction"]]
        elif kind == "provider.sanction-rescinded.v1":
            self.article_of.pop(data["sanction_ref"], None)
        else:
            return False
        return True

    @property
    def by_status(self) -> dict[str, int]:
        return dict(sorted(Counter(self.status_of.values()).items()))

    @property
    def sanctions_by_article(self) -> dict[str, int]:
        return dict(sorted(Counter(self.article_of.values()).items()))


def follow(
    bootstrap_servers: str,
    topic: str,
    jurisdiction: str,
    stop: threading.Event,
    on_change: Callable[[JurisdictionCounts], None] | None = None,
    group_id: str | None = None,
) -> JurisdictionCounts:
    """Read the topic from its beginning and keep the counts until ``stop`` is set."""
    counts = JurisdictionCounts(jurisdiction)
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, group_id=group_id, auto_offset_reset="earliest",
        enable_auto_commit=False, value_deserializer=JsonDeserializer(), client_id=f"dashboard-{jurisdiction}",
    )  # fmt: skip
    try:
        while not stop.is_set():
            changed = False
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    changed |= counts.apply(record.key.decode(), record.value)
            if changed and on_change is not None:
                on_change(counts)
    finally:
        consumer.close()
    return counts
