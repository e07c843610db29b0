"""The provider-centric read models: registry, grades, counters and published lists.

A fold over Provider events only. Per provider it keeps the aggregate's
snapshot (``rm_provider_state``: eventsourcing's ``Snapshot`` state, encoded
with the ledger's JSON transcoder), applies each new event to it with the
aggregate's own ``mutate`` and, once per provider per batch, recomputes
:func:`ledger.standing.standing` and rewrites that provider's rows. It never
reads the event store, so any source of ``RecordedEvent`` (the store's log, a
Kafka topic) can drive it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from ledger.aggregates.provider import IN_POOL, Provider
from ledger.projections.db import Tx, dumps, iso, loads
from ledger.rules.base import (
    BLACKLISTING,
    CLEARANCE,
    DISQUALIFICATION,
    GRAY_LISTING,
    POOL_EXIT,
    RECTIFICATION_ORDER,
    REMOVAL,
    WARNING,
)
from ledger.standing import standing, standing_label
from ledger.store.base import RecordedEvent
from ledger import wire


#: the list a bureau publishes for each removing sanction
LIST_OF_SANCTION: dict[str, str] = {
    BLACKLISTING: "blacklist",
    GRAY_LISTING: "gray_list",
    DISQUALIFICATION: "disqualified",
    REMOVAL: "removed",
    CLEARANCE: "removed",
    POOL_EXIT: "removed",
}
LIST_KINDS = ("blacklist", "gray_list", "disqualified", "removed")

COUNTERS = (
    "warnings",
    "rectification_orders",
    "rectification_open",
    "rectification_completed",
    "rectification_overdue",
    "rectification_refused",
    "verified_complaints",
    "unsatisfied_occurrences",
    "unsatisfied_enterprises",
)


def encode_snapshot(provider: Provider) -> str:
    return wire.encode_snapshot(provider)


def decode_snapshot(originator_id: UUID, version: int, state: str) -> Provider:
    provider: Provider = wire.decode_snapshot(originator_id, version, state)
    return provider


@dataclass
class _Entry:
    provider: Provider
    meta: dict[str, Any]
    last_position: int
    last_recorded_at: str
    dirty: bool = False
    new: bool = False


@dataclass
class ProviderRows:
    """What one provider contributes to each read model."""

    registry: dict[str, Any]
    grades: list[dict[str, Any]] = field(default_factory=list)
    counters: list[dict[str, Any]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)


def standing_since(provider: Provider) -> date:
    """When the registry label began: the status date, or the oldest open order behind warned/rectifying."""
    label = standing_label(provider)
    kind = {"rectifying": RECTIFICATION_ORDER, "warned": WARNING}.get(label)
    if kind is None or provider.status not in IN_POOL:
        return provider.status_since
    opened = [s["effective_on"] for s in provider.open_rectifications() if s["sanction"] == kind]
    return max(provider.status_since, min(opened)) if opened else provider.status_since


def provider_rows(provider: Provider, meta: dict[str, Any], last_position: int, last_recorded_at: str) -> ProviderRows:
    """The rows of every provider read model, from the aggregate alone (pure)."""
    s = standing(provider)
    pid, jurisdiction = provider.provider_id, provider.jurisdiction
    registry = {
        "provider_id": pid,
        "jurisdiction": jurisdiction,
        "name": provider.name,
        "kind": provider.kind,
        "status": provider.status,
        "standing": s["standing"],
        "status_since": iso(provider.status_since),
        "standing_since": iso(standing_since(provider)),
        "applied_on": iso(provider.applied_on),
        "admitted_on": iso(provider.admitted_on),
        "version": provider.version,
        "last_position": last_position,
        "last_recorded_at": last_recorded_at,
        "standing_json": dumps(s),
    }
    rows = ProviderRows(registry)

    def fact_on(ref: str) -> str:
        return iso(provider.facts[ref]["effective_on"])

    for g in s["grades"]["scores"]:  # 天津 第十一条
        rows.grades.append(_grade(pid, jurisdiction, "letter", str(g["year"]), g["grade"], g["score"], {"pack_version": g.get("pack_version")}, g["ref"], fact_on(g["ref"])))
    for g in s["grades"]["stars"]:  # 新乡 第十四条
        rows.grades.append(_grade(pid, jurisdiction, "stars", str(g["rating_round"]), str(g["stars"]), None, {"basis": g.get("basis", {})}, g["ref"], fact_on(g["ref"])))
    for g in s["grades"]["evaluations"]:  # 省指南 四（三）
        verdict = "qualified" if g["qualified"] else "unqualified"
        rows.grades.append(_grade(pid, jurisdiction, "qualification", str(g["year"]), verdict, None, {}, g["ref"], fact_on(g["ref"])))

    c = s["counters"]

    def source_refs(refs: list[str]) -> list[str]:
        return [provider.facts[r].get("source_ref") or r for r in refs if r in provider.facts]

    def counter(name: str, value: int, refs: list[str], sources: list[str] | None = None, detail: Any = None) -> None:
        rows.counters.append(
            {
                "provider_id": pid,
                "jurisdiction": jurisdiction,
                "counter": name,
                "value": value,
                "refs": dumps(refs),
                "source_refs": dumps(sources if sources is not None else []),
                "detail": dumps(detail if detail is not None else {}),
            }
        )

    counter("warnings", c["warnings"]["count"], c["warnings"]["refs"])
    counter("rectification_orders", c["rectification_orders"]["count"], c["rectification_orders"]["refs"])
    deadlines = [x for x in s["sanctions"] if x["sanction"] in (WARNING, RECTIFICATION_ORDER)]
    for state in ("open", "completed", "overdue", "refused"):
        refs = [x["ref"] for x in deadlines if x["state"] == state]
        assert len(refs) == c["rectification_orders"][state], "standing() and the counters disagree"
        counter(f"rectification_{state}", len(refs), refs, detail={"kinds": sorted({x["sanction"] for x in deadlines if x["state"] == state})})
    verified = c["verified_complaints"]["refs"]
    counter("verified_complaints", c["verified_complaints"]["count"], verified, source_refs(verified))
    unsatisfied = c["unsatisfied_ratings"]
    enterprises = sorted({provider.facts[r].get("enterprise_id") or "" for r in unsatisfied["refs"]})
    counter("unsatisfied_occurrences", unsatisfied["occurrences"], unsatisfied["refs"], source_refs(unsatisfied["refs"]))
    counter("unsatisfied_enterprises", unsatisfied["distinct_enterprises"], unsatisfied["refs"], source_refs(unsatisfied["refs"]), {"enterprises": enterprises})

    recorded = meta.get("sanctions", {})
    for x in s["sanctions"]:
        kind = LIST_OF_SANCTION.get(x["sanction"])
        if kind is None or x["rescinded_on"] is not None:
            continue  # rescinded entries leave the list
        position, recorded_at = recorded.get(x["ref"], [0, ""])
        rows.lists.append(
            {
                "sanction_ref": x["ref"],
                "list_kind": kind,
                "provider_id": pid,
                "provider_name": provider.name,
                "jurisdiction": jurisdiction,
                "sanction": x["sanction"],
                "article": x["article"],
                "citation_text": x["text"],
                "document": provider.sanctions[x["ref"]]["citation"].get("document", ""),
                "pack_version": x["pack_version"],
                "derived": 1 if x["derived"] else 0,
                "params": dumps(x["params"]),
                "evidence": dumps(x["evidence"]),
                "consequences": dumps(x["consequences"]),
                "effective_on": x["effective_on"],
                "recorded_at": recorded_at,
                "position": position,
            }
        )
    return rows


def _grade(pid: str, jurisdiction: str, scheme: str, period: str, grade: str, score: float | None, detail: dict, ref: str, on: str) -> dict:
    return {
        "provider_id": pid,
        "jurisdiction": jurisdiction,
        "scheme": scheme,
        "period": period,
        "grade": grade,
        "score": score,
        "detail": dumps(detail),
        "ref": ref,
        "effective_on": on,
    }


def _insert(tx: Tx, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    marks = ", ".join("?" * len(columns))
    tx.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", [[r[c] for c in columns] for r in rows])


def _upsert(tx: Tx, table: str, key: str, row: dict[str, Any]) -> None:
    columns = list(row)
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    tx.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {updates}",
        [row[c] for c in columns],
    )


class ProviderViewsProjection:
    """Registry, grades, counters and lists, folded from Provider events."""

    name = "providers"
    tables = ("provider_state", "registry", "grades", "counters", "lists")

    def apply(self, event: RecordedEvent, tx: Tx) -> None:
        if not wire.is_event_of(event, "provider"):
            return
        entries: dict[UUID, _Entry] = tx.scratch.setdefault(self.name, {})
        entry = entries.get(event.originator_id) or self._load(tx, event.originator_id)
        if entry is not None and entry.provider.version >= event.originator_version:
            return  # already folded (the snapshot is ahead of this event)
        domain_event = wire.decode(event)
        provider = domain_event.mutate(entry.provider if entry else None)  # checks consecutive versions
        if entry is None:
            entry = _Entry(provider, {"sanctions": {}}, event.position, iso(event.recorded_at), new=True)
        entry.provider = provider
        entry.last_position = event.position
        entry.last_recorded_at = iso(event.recorded_at)
        if wire.event_type(event) == "provider.sanction-imposed.v1":
            entry.meta["sanctions"][event.ref] = [event.position, iso(event.recorded_at)]
        entry.dirty = True
        entries[event.originator_id] = entry

    def flush(self, tx: Tx) -> None:
        entries: dict[UUID, _Entry] = tx.scratch.get(self.name, {})
        for entry in entries.values():
            if entry.dirty:
                self._write(tx, entry)
                entry.dirty = False

    def _load(self, tx: Tx, originator_id: UUID) -> _Entry | None:
        row = tx.fetchone(f"SELECT version, snapshot, meta FROM {tx.table('provider_state')} WHERE originator_id = ?", (str(originator_id),))
        if row is None:
            return None
        version, snapshot, meta = row
        provider = decode_snapshot(originator_id, int(version), snapshot)
        registry = tx.fetchone(f"SELECT last_position, last_recorded_at FROM {tx.table('registry')} WHERE provider_id = ?", (provider.provider_id,))
        position, recorded_at = registry if registry else (0, "")
        return _Entry(provider, loads(meta), int(position), recorded_at)

    def _write(self, tx: Tx, entry: _Entry) -> None:
        provider = entry.provider
        pid = provider.provider_id
        _upsert(
            tx,
            tx.table("provider_state"),
            "provider_id",
            {
                "provider_id": pid,
                "originator_id": str(provider.id),
                "version": provider.version,
                "snapshot": encode_snapshot(provider),
                "meta": dumps(entry.meta),
            },
        )
        rows = provider_rows(provider, entry.meta, entry.last_position, entry.last_recorded_at)
        _upsert(tx, tx.table("registry"), "provider_id", rows.registry)
        for name, items in (("grades", rows.grades), ("counters", rows.counters), ("lists", rows.lists)):
            if not entry.new:
                tx.execute(f"DELETE FROM {tx.table(name)} WHERE provider_id = ?", (pid,))
            _insert(tx, tx.table(name), items)
        entry.new = False
