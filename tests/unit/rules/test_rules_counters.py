"""The counters shown to a bureau (standing()["counters"], the rm_counters rows) count what the
rules count: the same selection, imported from the rule pack, not a second definition."""
from __future__ import annotations

import json

import pytest

from ledger.aggregates.provider import ProviderView
from ledger.projections.providers import provider_rows
from ledger.rules import PACKS
from ledger.standing import standing


def _counter_row(provider, name: str) -> dict:
    [row] = [r for r in provider_rows(provider, {}, 0, "").counters if r["counter"] == name]
    return row


@pytest.mark.parametrize("counted, removed", [(2, False), (3, True), (4, True)])
def test_tianjin_counter_counts_only_complaints_by_enterprises_or_providers(scenario, counted, removed):
    """天津 第十二条（四）被企业或其他服务商投诉3次或以上并核实确认属实的: a verified complaint by the public,
    or a verified report (举报), is not counted by the rule, nor by the counter next to its threshold."""
    scenario.admit("TJ-1", "tianjin")
    scenario.verified_complaint("TJ-1", "public")
    scenario.verify(scenario.report("TJ-1"))
    scenario.verify(scenario.complaint("TJ-1", "enterprise", nature="report"))
    kinds = ["enterprise", "provider", "enterprise", "provider"][:counted]
    noted = [scenario.verified_complaint("TJ-1", kind) for kind in kinds]

    provider = scenario.provider("TJ-1")
    counter = standing(provider)["counters"]["verified_complaints"]
    assert counter["count"] == counted
    assert counter["refs"] == [n.fact for n in noted]
    assert counter["article"] == "天津 第十二条（四）"
    row = _counter_row(provider, "verified_complaints")
    assert (row["value"], json.loads(row["detail"])) == (counted, {"article": "天津 第十二条（四）"})
    assert provider.status == ("removed" if removed else "in_pool")
    if removed:
        [removal] = scenario.sanctions("TJ-1")
        assert removal["evidence"] == [n.fact for n in noted[:3]]
        assert set(removal["evidence"]) <= set(counter["refs"])


def test_the_tianjin_counter_uses_the_rules_own_selection(scenario):
    """One definition: the counter's refs are what rule tianjin.12.4 selects."""
    scenario.admit("TJ-1", "tianjin")
    scenario.verified_complaint("TJ-1", "public")
    scenario.verified_complaint("TJ-1", "enterprise")
    provider = scenario.provider("TJ-1")
    selected = PACKS["tianjin"].rule("tianjin.12.4").select(ProviderView(provider))
    assert standing(provider)["counters"]["verified_complaints"]["refs"] == [i.ref for i in selected]


def test_where_no_rule_counts_complaints_the_counter_lists_every_verified_filing(scenario):
    """唐山 counts no complaints (第十二条（二）造成试点企业投诉 is a regulator's finding): the counter
    lists every verified filing, and says that no article counts them."""
    scenario.admit("TS-1", "tangshan")
    scenario.verified_complaint("TS-1", "public")
    scenario.verified_complaint("TS-1", "enterprise")
    counter = standing(scenario.provider("TS-1"))["counters"]["verified_complaints"]
    assert (counter["count"], counter["article"]) == (2, None)
