"""Sanctions recorded under an earlier reading of a rulebook keep their meaning.

Until 2026-12 the ledger derived 唐山 第十三条（一） blacklisting and 省指南 四（一） clearance from an
order that was merely overdue. Those readings are gone (lateness is not refusal; 四（一） leaves the
choice to the regulator), but a blacklisting or clearance already recorded under them is not
silently rescinded by the next fact about the provider: it stands until an appeal voids it.
"""
from __future__ import annotations

from datetime import date

import pytest

from ledger.aggregates import Provider
from ledger.rules import PACKS
from ledger.rules.base import BLACKLISTING, CLEARANCE, RECTIFICATION_ORDER
from ledger.rules.engine import reconcile


@pytest.mark.parametrize(
    "jurisdiction, old_rule, sanction, status",
    [
        ("tangshan", "tangshan.13.1.refused", BLACKLISTING, "blacklisted"),
        ("province", "province.4.1.overdue", CLEARANCE, "removed"),
    ],
)
def test_a_sanction_derived_from_lateness_alone_stays_recorded(jurisdiction, old_rule, sanction, status):
    pack = PACKS[jurisdiction].with_validity(date(2025, 1, 1), None)
    provider = Provider(
        provider_id="P-1", jurisdiction=jurisdiction, name="P-1 Ltd", kind=pack.provider_kinds[0],
        profile={}, eligibility={}, effective_on=date(2025, 1, 2),
    )  # fmt: skip
    provider.admit(citation=None, effective_on=date(2025, 1, 10))
    common = {"citation": {"short": pack.short, "article": "第十二条（一）", "text": "", "document": ""}, "pack_version": pack.version, "consequences": []}
    provider.impose(
        sanction=RECTIFICATION_ORDER, rule_id=f"{jurisdiction}.finding.x", key="finding@x", params={}, evidence=[],
        condition_on=date(2025, 2, 1), deadline=date(2025, 3, 3), derived=False, effective_on=date(2025, 2, 1), **common,
    )  # fmt: skip
    order_ref = next(iter(provider.sanctions))
    provider.record_overdue(sanction_ref=order_ref, deadline=date(2025, 3, 3), effective_on=date(2025, 3, 4))
    overdue_ref = next(iter(provider.facts))
    provider.impose(
        sanction=sanction, rule_id=old_rule, key=old_rule, params={}, evidence=[overdue_ref],
        condition_on=date(2025, 3, 4), deadline=None, derived=True, effective_on=date(2025, 3, 4), **common,
    )  # fmt: skip
    assert provider.status == status

    assert reconcile(provider, pack, date(2025, 6, 1)) == []
    assert provider.status == status
    assert [s["rule_id"] for s in provider.active_sanctions()] == [f"{jurisdiction}.finding.x", old_rule]
