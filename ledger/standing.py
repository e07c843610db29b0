"""A provider's current standing, computed from the Provider aggregate alone.

Used by the CLI (``ledger provider``), the registry projection, history as of a
date and the what-if of an appeal: one definition of "standing".
"""
from __future__ import annotations

from typing import Any

from ledger.aggregates.provider import IN_POOL, Provider, ProviderView
from ledger.rules import PACKS
from ledger.rules.base import (
    COMPLAINT_VERIFIED,
    EVALUATION,
    RECTIFICATION_ORDER,
    SCORE,
    STAR_RATING,
    STATUS_AFTER_REMOVAL,
    UNSATISFIED_RATING,
    WARNING,
    WITH_DEADLINE,
    Item,
    ref_key,
)


def standing_label(provider: Provider) -> str:
    """The registry label: the pool status, or warned / rectifying for a member with an open order."""
    if provider.sanctions and provider.status in IN_POOL:  # no sanction, no open order
        open_orders = provider.open_rectifications()
        if any(s["sanction"] == RECTIFICATION_ORDER for s in open_orders):
            return "rectifying"
        if any(s["sanction"] == WARNING for s in open_orders):
            return "warned"
    return provider.status


#: the rule whose selection the verified-complaints counter shows, by jurisdiction: 天津 第十二条（四）
#: "被企业或其他服务商投诉3次或以上并核实确认属实的" counts complaints by enterprises or other providers,
#: not the public's, nor reports (举报). No other pack counts complaints (唐山 第十二条（二）、柳州 第十二条（一）、
#: 新乡 第十五条（二） "造成试点企业投诉" are a regulator's finding): there the counter lists every verified filing
COMPLAINT_RULES: dict[str, str] = {"tianjin": "tianjin.12.4"}


def verified_complaints(provider: Provider) -> tuple[list[Item], str | None]:
    """The verified complaints a bureau counts for the provider, and the article counting them: the
    selection of the pack's rule itself (:data:`COMPLAINT_RULES`), or every live verified filing where
    no rule counts them (None)."""
    rule_id = COMPLAINT_RULES.get(provider.jurisdiction)
    if rule_id is None:
        return provider.live_facts(COMPLAINT_VERIFIED), None
    rule = PACKS[provider.jurisdiction].rule(rule_id)
    return rule.select(ProviderView(provider)), rule.citation.label


#: the kinds of facts standing() counts or lists
_FACT_KINDS = (UNSATISFIED_RATING, SCORE, EVALUATION, STAR_RATING)


def standing(provider: Provider) -> dict[str, Any]:
    """Everything a bureau asks about one provider, as plain JSON-able values."""
    live = provider.live_facts_of(_FACT_KINDS)
    unsatisfied = live[UNSATISFIED_RATING]
    verified, complaints_article = verified_complaints(provider)
    sanctions = sorted(provider.sanctions.values(), key=lambda s: (s["effective_on"], ref_key(s["ref"])))
    orders = [s for s in sanctions if s["sanction"] == RECTIFICATION_ORDER]
    warnings = [s for s in sanctions if s["sanction"] == WARNING]

    def active(items: list[dict]) -> list[dict]:
        return [s for s in items if s["rescinded_on"] is None]

    def order_state(s: dict) -> str:
        if s["rescinded_on"] is not None:
            return "rescinded"
        if s["completed_on"] is not None:
            return "completed"
        if s["refused_on"] is not None:
            return "refused"
        if s["overdue_on"] is not None:
            return "overdue"
        return "open"

    return {
        "provider_id": provider.provider_id,
        "name": provider.name,
        "jurisdiction": provider.jurisdiction,
        "kind": provider.kind,
        "status": provider.status,
        "standing": standing_label(provider),
        "status_since": provider.status_since.isoformat(),
        "applied_on": provider.applied_on.isoformat(),
        "admitted_on": provider.admitted_on.isoformat() if provider.admitted_on else None,
        "version": provider.version,
        "grades": {
            "scores": [dict(i.data, ref=i.ref) for i in sorted(live[SCORE], key=lambda i: i.data["year"])],
            "evaluations": [dict(i.data, ref=i.ref) for i in sorted(live[EVALUATION], key=lambda i: i.data["year"])],
            "stars": [dict(i.data, ref=i.ref) for i in sorted(live[STAR_RATING], key=lambda i: (i.effective_on, ref_key(i.ref)))],
        },
        "counters": {
            "warnings": {"count": len(active(warnings)), "refs": [s["ref"] for s in active(warnings)]},
            "rectification_orders": {
                "count": len(active(orders)),
                "refs": [s["ref"] for s in active(orders)],
                **{state: sum(1 for s in orders + warnings if order_state(s) == state) for state in ("open", "completed", "overdue", "refused")},
            },
            "verified_complaints": {
                "count": len(verified),
                "refs": sorted((i.ref for i in verified), key=ref_key),
                "article": complaints_article,  # the article counting them, None where none does
            },
            "unsatisfied_ratings": {
                "occurrences": len(unsatisfied),
                "distinct_enterprises": len({i.enterprise_id for i in unsatisfied}),
                "refs": sorted((i.ref for i in unsatisfied), key=ref_key),
            },
        },
        "sanctions": [
            {
                "ref": s["ref"],
                "sanction": s["sanction"],
                "article": f"{s['citation']['short']} {s['citation']['article']}",
                "text": s["citation"]["text"],
                "pack_version": s["pack_version"],
                "derived": s["derived"],
                "params": s["params"],
                "evidence": s["evidence"],
                "effective_on": s["effective_on"].isoformat(),
                "deadline": s["deadline"].isoformat() if s["deadline"] else None,
                "state": order_state(s) if s["sanction"] in WITH_DEADLINE else ("rescinded" if s["rescinded_on"] else "in_force"),
                "rescinded_on": s["rescinded_on"].isoformat() if s["rescinded_on"] else None,
                "removes": s["sanction"] in STATUS_AFTER_REMOVAL,
                "consequences": s["consequences"],
            }
            for s in sanctions
        ],
        "voided": dict(provider.voided),
        "profile": dict(provider.profile),
        "late_profile_reports": list(provider.late_profile_reports),
        "fees_withheld": [dict(f, effective_on=f["effective_on"].isoformat()) for f in provider.fees_withheld],
    }
