"""The provider-centric read models: registry, grades, counters and published lists.

A fold over Provider events only. Per provider it keeps the aggregate's
snapshot (``rm_provider_state``: eventsourcing's ``Snapshot`` state, encoded
with the ledger's JSON transcoder), applies each new event to it with the
aggregate's own ``mutate`` and, once per provider per batch, recomputes
:func:`ledger.standing.standing` and rewrites that provider's rows. It never
reads the event store, so any source of ``RecordedEvent`` (the store's log, a
Kafka topic) can drive it.

Two things keep a long history cheap:

- the Provider keeps only the profile changes reported late (standing() lists
  them); every change is a row of ``rm_profile_changes``, written once from its
  event. A provider with 10,000 on-time profile changes does not re-encode them
  on every event;
- the projection keeps the providers it folded in memory between batches and
  reuses one when ``rm_provider_state`` still holds the same version (one
  small query instead of decoding the snapshot). A batch that rolled back, or
  another process projecting, leaves a different version there: the snapshot
  is decoded again. With it the projection keeps the rows it last wrote for the
  provider, and writes only those that changed (:data:`ROW_KEYS`): a score adds
  one grade row to a provider of fifty instead of writing all fifty again.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from ledger import wire
from ledger.aggregates.provider import IN_POOL, Provider, days_late
from ledger.projections.db import Tx, dumps, iso, loads
from ledger.rules import PACKS
from ledger.rules.base import (
    BLACKLISTING,
    CLEARANCE,
    DISQUALIFICATION,
    GRAY_LISTING,
    POOL_EXIT,
    RECTIFICATION_ORDER,
    REMOVAL,
    VOLUNTARY_EXIT,
    WARNING,
)
from ledger.standing import standing, standing_label
from ledger.store.base import RecordedEvent
from ledger.wire import DecodedEvent

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


PROFILE_CHANGE_COLUMNS = (
    "provider_id", "ref", "position", "field", "old_value", "new_value", "changed_on", "reported_on", "major", "days_late",
)  # fmt: skip

#: the scratch key of a transaction's profile-change rows not written yet (PROFILE_CHANGE_COLUMNS)
PROFILE_CHANGES = "providers.profile_changes"
#: likewise for rm_registry_history and rm_registry_out_of_order (see :meth:`ProviderViewsProjection.apply`)
REGISTRY_HISTORY = "providers.registry_history"
OUT_OF_ORDER = "providers.registry_out_of_order"
#: tx.scratch key: originator id (text) -> the version rm_provider_state holds (None: no row), read
#: for a whole batch by ProviderViewsProjection.prefetch
STORED_VERSIONS = "providers.stored_versions"
OUT_OF_ORDER_COLUMNS = ("provider_id", "position", "recorded_at", "effective_on", "recorded_before", "effective_before")
#: the tables a provider's events only ever add rows to, each row written with the batch of its event
APPENDED = ("profile_changes", "registry_history", "registry_out_of_order")

#: providers kept in memory between batches by one projection instance
CACHE_SIZE = 4096

#: the tables of which a provider has many rows, and the column that tells its rows apart (with
#: ``provider_id``, the table's key; ``rm_lists``' alone): a provider folded on from the rows this
#: projection last wrote has only the rows that changed deleted and written again, not all of them —
#: a command adds a grade to a provider of fifty, changes a counter or two of its nine
ROW_KEYS = {"grades": "ref", "counters": "counter", "lists": "sanction_ref", "rectification_deadlines": "sanction_ref"}


def decode_snapshot(originator_id: UUID, version: int, state: str) -> Provider:
    provider: Provider = wire.decode_snapshot(originator_id, version, state)
    state_of = vars(provider)
    if "profile_changes" in state_of:
        # a read model written before the Provider kept only its late reports: this projection
        # already left the on-time ones out of its snapshots, so what is there is the late ones
        state_of["late_profile_reports"] = [c for c in state_of.pop("profile_changes") if c["days_late"] > 0]
    return provider


@dataclass
class _Entry:
    provider: Provider
    meta: dict[str, Any]
    last_position: int
    last_recorded_at: str
    dirty: bool = False
    new: bool = False
    #: the provider's registry line (:func:`registry_line`) after the last event applied, and the latest
    #: instant recorded and effective date ('' for none) of its events so far (kept in the meta)
    line: tuple[Any, ...] | None = None
    recorded_max: str = ""
    effective_max: str = ""
    #: the rows of each :data:`ROW_KEYS` table as last written for this provider, by their key (None:
    #: not known, as for a provider read back from its snapshot: all its rows are written again)
    written: dict[str, dict[Any, tuple[Any, ...]]] | None = None
    #: the generation they were written to (a replay's switch makes another live)
    generation: int = 0


@dataclass
class ProviderRows:
    """What one provider contributes to each read model."""

    registry: dict[str, Any]
    grades: list[dict[str, Any]] = field(default_factory=list)
    counters: list[dict[str, Any]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[dict[str, Any]] = field(default_factory=list)


#: the kind of open order behind each label that has one
_ORDER_BEHIND = {"rectifying": RECTIFICATION_ORDER, "warned": WARNING}


def standing_since(provider: Provider, label: str | None = None) -> date:
    """When the registry label began: the status date, or the oldest open order behind warned/rectifying."""
    label = standing_label(provider) if label is None else label
    kind = _ORDER_BEHIND.get(label)
    if kind is None or provider.status not in IN_POOL:
        return provider.status_since
    opened = [s["effective_on"] for s in provider.open_rectifications() if s["sanction"] == kind]
    return max(provider.status_since, min(opened)) if opened else provider.status_since


#: a provider's line in the registry (``rm_registry``'s columns of the same names), as of a state: what
#: ``rm_registry_history`` keeps each time it changes, and what the registry as of a past instant lists
LINE_COLUMNS = ("jurisdiction", "name", "kind", "status", "standing", "status_since", "standing_since", "applied_on", "admitted_on")


def registry_line(provider: Provider) -> tuple[Any, ...]:
    """The provider's :data:`LINE_COLUMNS` in that order, dates as dates (pure; the projection
    computes it after every provider event)."""
    label = standing_label(provider)
    return (
        provider.jurisdiction, provider.name, provider.kind, provider.status, label, provider.status_since,
        standing_since(provider, label), provider.applied_on, provider.admitted_on,
    )  # fmt: skip


def line_text(line: tuple[Any, ...]) -> dict[str, Any]:
    """A :func:`registry_line` as the read models write it: column -> value, dates in ISO form."""
    return dict(zip(LINE_COLUMNS, (*line[:5], *(iso(day) for day in line[5:])), strict=True))


HISTORY_COLUMNS = ("provider_id", "position", "recorded_max", "effective_max", *LINE_COLUMNS)


def provider_rows(provider: Provider, meta: dict[str, Any], last_position: int, last_recorded_at: str) -> ProviderRows:
    """The rows of every provider read model, from the aggregate alone (pure)."""
    s = standing(provider)
    pid, jurisdiction = provider.provider_id, provider.jurisdiction
    registry = {
        "provider_id": pid,
        **line_text(registry_line(provider)),
        "version": provider.version,
        "last_position": last_position,
        "last_recorded_at": last_recorded_at,
        "standing_json": dumps(s),
    }
    rows = ProviderRows(registry)
    # every order still to be recorded overdue: not one of a provider out of the pool since before its deadline
    for order in provider.rectifications_due(date.max):
        rows.deadlines.append({"provider_id": pid, "sanction_ref": order["ref"], "deadline": iso(order["deadline"])})

    def fact_on(ref: str) -> str:
        on: date = provider.facts[ref]["effective_on"]
        return on.isoformat()

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
    # what the pack's rule counts (天津 第十二条（四）: complaints by enterprises or other providers), named in the detail
    counter("verified_complaints", c["verified_complaints"]["count"], verified, source_refs(verified), {"article": c["verified_complaints"]["article"]})
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
    exited = meta.get("exit")
    if exited and exited["citation"] and provider.status == "exited" and PACKS[jurisdiction].voluntary_exit_announced:
        # 天津 第十二条 "不再列入资源池，并向社会公示" heads （八） "主动退出资源池的": listed and announced with the removals
        rows.lists.append(
            {
                "sanction_ref": exited["ref"],
                "list_kind": "removed",
                "provider_id": pid,
                "provider_name": provider.name,
                "jurisdiction": jurisdiction,
                "sanction": VOLUNTARY_EXIT,
                "article": f"{exited['citation']['short']} {exited['citation']['article']}",
                "citation_text": exited["citation"]["text"],
                "document": exited["citation"].get("document", ""),
                "pack_version": PACKS[jurisdiction].version,
                "derived": 0,
                "params": dumps({}),
                "evidence": dumps([]),
                "consequences": dumps(["public_notice"]),
                "effective_on": iso(provider.status_since),
                "recorded_at": exited["recorded_at"],
                "position": exited["position"],
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


def _insert(tx: Tx, name: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        tx.insert_rows(name, columns, [[r[c] for c in columns] for r in rows])


class ProviderViewsProjection:
    """Registry, grades, counters and lists, folded from Provider events."""

    name = "providers"
    tables: tuple[str, ...] = (
        "provider_state", "registry", "grades", "counters", "lists", "profile_changes", "rectification_deadlines",
        "registry_history", "registry_out_of_order",
    )  # fmt: skip

    def __init__(self, *, deferred: bool = False, fresh: bool = False, by_aggregate: bool = False) -> None:
        #: originator id (text) -> the entry as last written (valid while rm_provider_state has its version)
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        #: a replay's build: providers are folded in memory across batches and written once, by
        #: :meth:`finish` (an interrupted build leaves a generation that is never made live)
        self.deferred = deferred
        #: a replay's build process: the generation's tables hold no provider this projection did not
        #: fold itself (they were empty, and it alone writes them), so a provider not in memory is new
        self.fresh = fresh and deferred
        #: a fresh build fed each aggregate's events together (``EventStore.scan(by_aggregate=True)``):
        #: a provider is complete once another provider's event came, and is written with the batch
        #: then and dropped (its state is still in the CPU's caches; memory holds one provider, not all)
        self.by_aggregate = by_aggregate and self.fresh
        self._pending: dict[str, _Entry] = {}
        self._last = ""  # the provider of the last event applied

    def prefetch(self, events: Sequence[RecordedEvent], tx: Tx) -> None:
        """The stored versions of the batch's providers not yet in this transaction, in one query,
        for :meth:`_load` (which read each provider's on its own: a statement per provider a batch)."""
        if self.fresh:
            return  # nothing is stored that this projection did not fold itself
        entries: dict[str, _Entry] = self._pending if self.deferred else tx.scratch.get(self.name, {})
        keys = [key for key in dict.fromkeys(str(e.originator_id) for e in events if wire.is_event_of(e, "provider")) if key not in entries]
        stored: dict[str, int | None] = dict.fromkeys(keys)
        rows = tx.select_keys(tx.table("provider_state"), "originator_id, version", "originator_id", keys)
        stored.update((str(key), int(version)) for key, version in rows)
        tx.scratch[STORED_VERSIONS] = stored  # until this batch's flush

    def apply(self, event: DecodedEvent, tx: Tx) -> None:
        if not wire.is_event_of(event, "provider"):
            return
        key = event.originator_text
        entries: dict[str, _Entry] = self._pending if self.deferred else tx.scratch.setdefault(self.name, {})
        entry = entries.get(key) or (None if self.fresh else self._load(tx, event.originator_id, key))
        if entry is None and self.by_aggregate and event.originator_version != 1:
            raise RuntimeError(f"provider event {event.ref} after its provider was written: this build is fed aggregate by aggregate")
        if entry is not None and entry.provider.version >= event.originator_version:
            return  # already folded (the snapshot is ahead of this event)
        provider: Provider = event.mutate(entry.provider if entry else None)  # type: ignore[assignment]  # checks consecutive versions
        if entry is None:
            entry = _Entry(provider, {"sanctions": {}}, event.position, event.recorded_at_iso, new=True)
        entry.provider = provider
        entry.last_position = event.position
        entry.last_recorded_at = event.recorded_at_iso
        name = event.name
        if name == "provider.sanction-imposed.v1":
            entry.meta["sanctions"][event.ref] = [event.position, event.recorded_at_iso]
        elif name == "provider.exited.v1":  # listed where the text announces it (天津 第十二条（八）)
            entry.meta["exit"] = {"ref": event.ref, "position": event.position, "recorded_at": event.recorded_at_iso, "citation": event.attributes["citation"]}
        elif name == "provider.profile-changed.v1":
            change = event.attributes
            tx.scratch.setdefault(PROFILE_CHANGES, []).append(
                (
                    provider.provider_id, event.ref, event.position, change["field"], dumps(change["old"]), dumps(change["new"]),
                    iso(change["changed_on"]), iso(change["reported_on"]), 1 if change["major"] else 0,
                    days_late(change["changed_on"], change["reported_on"]),
                )
            )  # fmt: skip
        self._registry_past(entry, event, tx)
        entry.dirty = True
        entries[key] = entry
        self._last = key

    @staticmethod
    def _registry_past(entry: _Entry, event: DecodedEvent, tx: Tx) -> None:
        """What the registry as of a past window needs (``ReadModels.registry_as_of``): a row of
        rm_registry_history when the event changed the provider's line, and a row of
        rm_registry_out_of_order when it was recorded, or takes effect, before an earlier event of
        the provider."""
        recorded, effective = event.recorded_at_iso, event.effective_on_iso or ""
        recorded_before, effective_before = entry.recorded_max, entry.effective_max
        if recorded < recorded_before or effective < effective_before:
            rows = (entry.provider.provider_id, event.position, recorded, effective, recorded_before, effective_before)
            tx.scratch.setdefault(OUT_OF_ORDER, []).append(rows)
        if recorded > recorded_before:
            entry.recorded_max = recorded
        if effective > effective_before:
            entry.effective_max = effective
        line = registry_line(entry.provider)
        if line != entry.line:
            row = (entry.provider.provider_id, event.position, entry.recorded_max, entry.effective_max, *line_text(line).values())
            tx.scratch.setdefault(REGISTRY_HISTORY, []).append(row)
            entry.line = line

    def flush(self, tx: Tx) -> None:
        tx.scratch.pop(STORED_VERSIONS, None)  # read for this batch: the rows written now change them
        # a profile change is a row of its own, written with the batch of its event (a deferred fold too);
        # so are the registry's past lines and its events out of order
        tx.insert_rows("profile_changes", PROFILE_CHANGE_COLUMNS, tx.scratch.pop(PROFILE_CHANGES, []))
        tx.insert_rows("registry_history", HISTORY_COLUMNS, tx.scratch.pop(REGISTRY_HISTORY, []))
        tx.insert_rows("registry_out_of_order", OUT_OF_ORDER_COLUMNS, tx.scratch.pop(OUT_OF_ORDER, []))
        if self.by_aggregate:  # every provider but the last is complete
            complete = [key for key in self._pending if key != self._last]
            self._write(tx, [self._pending[key] for key in complete])
            for key in complete:
                del self._pending[key]
        if self.deferred:
            return  # the providers are written by finish()
        entries: dict[str, _Entry] = tx.scratch.get(self.name, {})
        self._write(tx, [entry for entry in entries.values() if entry.dirty])
        for key, entry in entries.items():
            entry.dirty = False
            self._cache[key] = entry
            self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def finish(self, tx: Tx) -> None:
        """Write every provider a deferred fold holds (a replay, before its switch)."""
        self._write(tx, [entry for entry in self._pending.values() if entry.dirty])
        for entry in self._pending.values():
            entry.dirty = False

    def _load(self, tx: Tx, originator_id: UUID, key: str) -> _Entry | None:
        table = tx.table("provider_state")
        stored: dict[str, int | None] = tx.scratch.get(STORED_VERSIONS, {})
        if key in stored:
            version = stored.pop(key)
        else:
            row = tx.fetchone(f"SELECT version FROM {table} WHERE originator_id = ?", (key,))
            version = None if row is None else int(row[0])
        if version is None:
            return None
        cached = self._cache.pop(key, None)
        if cached is not None and cached.provider.version == version and not cached.dirty:
            if cached.generation != tx.generation:
                cached.written = None  # its rows there are a replay's
            return cached  # as this projection last wrote it
        version, snapshot, meta = tx.fetchone(f"SELECT version, snapshot, meta FROM {table} WHERE originator_id = ?", (key,))  # type: ignore[misc]  # the row exists (above)
        provider = decode_snapshot(originator_id, int(version), snapshot)
        registry = tx.fetchone(f"SELECT last_position, last_recorded_at FROM {tx.table('registry')} WHERE provider_id = ?", (provider.provider_id,))
        position, recorded_at = registry if registry else (0, "")
        meta_of = loads(meta)
        maxima = {"recorded_max": meta_of.pop("recorded_max", ""), "effective_max": meta_of.pop("effective_max", "")}
        return _Entry(provider, meta_of, int(position), recorded_at, line=registry_line(provider), **maxima)

    def _write(self, tx: Tx, entries: list[_Entry]) -> None:
        """Every changed provider's rows, set-based: one DELETE and one COPY/INSERT per table
        for the whole batch, however many providers it touched; of a provider's grades, counters,
        list entries and deadlines, only those that changed (:meth:`_changed`)."""
        if not entries:
            return
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in self.tables if name not in APPENDED}
        stale: dict[str, list[tuple[str, Any]]] = {name: [] for name in ROW_KEYS}  # (provider, key) of rows gone or changed
        known = [entry.provider.provider_id for entry in entries if not entry.new]
        rewritten = [entry.provider.provider_id for entry in entries if not entry.new and entry.written is None]
        for entry in entries:
            provider = entry.provider
            tables["provider_state"].append(
                {
                    "provider_id": provider.provider_id,
                    "originator_id": str(provider.id),
                    "version": provider.version,
                    "snapshot": wire.encode_snapshot(provider),
                    "meta": dumps({**entry.meta, "recorded_max": entry.recorded_max, "effective_max": entry.effective_max}),
                }
            )
            rows = provider_rows(provider, entry.meta, entry.last_position, entry.last_recorded_at)
            tables["registry"].append(rows.registry)
            for name, rows_of_table in (
                ("grades", rows.grades), ("counters", rows.counters), ("lists", rows.lists), ("rectification_deadlines", rows.deadlines),
            ):  # fmt: skip
                tables[name] += self._changed(entry, name, rows_of_table, stale[name])
        for name in ("provider_state", "registry"):
            tx.delete_keys(tx.table(name), "provider_id", known)
        for name in ROW_KEYS:
            tx.delete_keys(tx.table(name), "provider_id", rewritten)
        tx.delete_keys(tx.table("lists"), "sanction_ref", [key for _, key in stale.pop("lists")])
        for name, pairs in stale.items():
            tx.delete_pairs(tx.table(name), ("provider_id", ROW_KEYS[name]), pairs)
        for name, rows_of_table in tables.items():
            _insert(tx, name, rows_of_table)
        for entry in entries:
            entry.new = False
            entry.generation = tx.generation

    def _changed(self, entry: _Entry, name: str, rows: list[dict[str, Any]], stale: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """The rows of :data:`ROW_KEYS` table ``name`` to write for ``entry``'s provider, given all of
        them now; adds to ``stale`` the (provider, key) of its rows to delete. Where the rows as last
        written are known (:attr:`_Entry.written`), the changed and new ones, the gone and changed
        ones to delete; else all (the caller deletes them all first, unless the provider is new).
        Remembers what is written, except in a deferred fold (each provider written once)."""
        if self.deferred:
            return rows
        key = ROW_KEYS[name]
        values = {row[key]: tuple(row.values()) for row in rows}
        before = None if entry.new or entry.written is None else entry.written.get(name)
        if entry.written is None:
            entry.written = {}
        entry.written[name] = values
        if before is None:
            return rows
        pid = entry.provider.provider_id
        stale += [(pid, k) for k, v in before.items() if values.get(k) != v]
        return [row for row in rows if before.get(row[key]) != values[row[key]]]
