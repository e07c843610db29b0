"""What-if for an appeal: the standing a provider would have if named evidence were voided.

Loads the Provider aggregate from the store, and in memory only calls
``provider.void_evidence(...)`` and :func:`ledger.rules.engine.reconcile` with
the pack as the ledger sees it now (``Ledger.pack``: declared validity and
parameters), exactly what an upheld appeal would do. The events this produces
are collected and thrown away: nothing is written.

The refs may name the provider's facts or sanctions, or the project/complaint
events its facts came from (as an appeal may); unlike an appeal, no ground of
appeal is required, so a bureau can also ask "what if" for packs without one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger import wire
from ledger.aggregates.provider import Provider
from ledger.clock import FixedClock, business_date, clock_scope
from ledger.rules.engine import reconcile
from ledger.standing import standing
from ledger.store.base import event_ref

WHAT_IF_APPEAL = "what-if"


@dataclass
class WhatIf:
    provider_id: str
    refs: list[str]  # as asked
    voided: list[str]  # the provider's own refs they resolve to
    as_of: str  # the day the reconciliation was run for
    status_before: str
    status_after: str
    standing_before: str
    standing_after: str
    would_rescind: list[dict[str, Any]] = field(default_factory=list)
    would_impose: list[dict[str, Any]] = field(default_factory=list)
    would_reinstate: bool = False
    counters_before: dict[str, Any] = field(default_factory=dict)
    counters_after: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # names of the events an upheld appeal would record
    before: dict[str, Any] = field(default_factory=dict, repr=False)  # full standing()
    after: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def counters_changed(self) -> dict[str, tuple[Any, Any]]:
        return {k: (self.counters_before[k], self.counters_after.get(k)) for k in self.counters_before if self.counters_before[k] != self.counters_after.get(k)}

    def render(self) -> str:
        lines = [f"what if {', '.join(self.refs)} were voided for provider {self.provider_id} (as of {self.as_of}):"]
        lines.append(f"  standing: {self.standing_before} -> {self.standing_after}" + ("  (unchanged)" if self.standing_before == self.standing_after else ""))
        if self.status_before != self.status_after:
            lines.append(f"  status:   {self.status_before} -> {self.status_after}")
        for s in self.would_rescind:
            lines.append(f"  would rescind {s['ref']}  {s['sanction']} — {s['article']}")
        for s in self.would_impose:
            lines.append(f"  would impose  {s['sanction']} — {s['article']} on evidence {', '.join(s['evidence'])}")
        if self.would_reinstate:
            lines.append("  would reinstate the provider")
        for name, (before, after) in self.counters_changed.items():
            lines.append(f"  {name}: {before} -> {after}")
        lines.append("  (nothing was recorded)")
        return "\n".join(lines)


def _counters(s: dict[str, Any]) -> dict[str, Any]:
    c = s["counters"]
    return {
        "warnings": c["warnings"]["count"],
        "rectification_orders": c["rectification_orders"]["count"],
        **{f"rectification_{state}": c["rectification_orders"][state] for state in ("open", "completed", "overdue", "refused")},
        "verified_complaints": c["verified_complaints"]["count"],
        "unsatisfied_occurrences": c["unsatisfied_ratings"]["occurrences"],
        "unsatisfied_enterprises": c["unsatisfied_ratings"]["distinct_enterprises"],
    }


def _summary(s: dict[str, Any]) -> dict[str, Any]:
    citation = s["citation"]
    return {
        "ref": s["ref"],
        "sanction": s["sanction"],
        "article": f"{citation['short']} {citation['article']}",
        "evidence": list(s["evidence"]),
        "effective_on": s["effective_on"].isoformat(),
    }


def what_if(ledger: Any, provider_id: str, refs: list[str]) -> WhatIf:
    """The difference an upheld appeal voiding ``refs`` would make today. Writes nothing."""
    from ledger.commands.handlers import resolve_appeal_targets

    provider: Provider = ledger.load(Provider, provider_id)
    before = standing(provider)
    targets = resolve_appeal_targets(provider, list(refs), ("*",))
    pack = ledger.pack(provider.jurisdiction)
    now = ledger.clock.now()
    today = business_date(now)
    known = set(provider.sanctions)
    with clock_scope(FixedClock(now)):
        provider.void_evidence(refs=targets, appeal_ref=WHAT_IF_APPEAL, effective_on=today)
        rescinded = reconcile(provider, pack, today, appeal_ref=WHAT_IF_APPEAL)
    pending = provider.collect_events()  # discarded: never appended to the store
    after = standing(provider)
    names = [wire.name_of(type(e)) for e in pending]
    imposed = [provider.sanctions[event_ref(e.originator_id, e.originator_version)] for e in pending if wire.name_of(type(e)) == "provider.sanction-imposed.v1"]
    return WhatIf(
        provider_id=provider_id,
        refs=list(refs),
        voided=targets,
        as_of=today.isoformat(),
        status_before=before["status"],
        status_after=after["status"],
        standing_before=before["standing"],
        standing_after=after["standing"],
        would_rescind=[_summary(provider.sanctions[r]) for r in rescinded if r in known],
        would_impose=[_summary(s) for s in imposed],
        would_reinstate="provider.reinstated.v1" in names,
        counters_before=_counters(before),
        counters_after=_counters(after),
        events=names,
        before=before,
        after=after,
    )
