"""附件2 申报指南 (province): every counted threshold at its boundary."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError, Provider
from ledger.commands import models as m
from ledger.rules.base import EVALUATION
from tests.integration.scenario import credit_code_for, summary

VERSION = "province-guide.1"


@pytest.mark.parametrize(
    "unqualified, qualified, cleared_by",
    [
        ([2025], [], None),  # one year
        ([2025, 2026], [], [2025, 2026]),  # two years in a row
        ([2025, 2027], [], None),  # two years, not in a row
        ([2025, 2027], [2026], None),  # a qualified year in between
        ([2025, 2027, 2028], [], [2027, 2028]),
    ],
)
def test_cleared_after_two_consecutive_unqualified_years(scenario, unqualified, qualified, cleared_by):
    """四（三）连续两年评价为不合格的服务商 … 清退出资源池 (each year evaluated in its December)."""
    scenario.admit("PR-1", "province")
    for year in sorted(unqualified + qualified):
        scenario.on(date(year, 12, 15))
        scenario.run(m.RecordEvaluation, provider_id="PR-1", year=year, qualified=year in qualified)

    provider = scenario.provider("PR-1")
    if cleared_by:
        refs = {i.data["year"]: i.ref for i in provider.live_facts(EVALUATION)}
        [clearance] = scenario.sanctions("PR-1")
        assert summary(clearance) == {
            "sanction": "clearance",
            "article": "四（三）",
            "pack_version": VERSION,
            "params": {"consecutive_unqualified_years": 2},
            "evidence": [refs[year] for year in cleared_by],
        }
        assert clearance["consequences"] == ["restricted_from_pool_services"]
        assert provider.status == "removed"
    else:
        assert scenario.sanctions("PR-1") == []
        assert provider.status == "in_pool"


def test_an_evaluation_needs_a_provider_in_the_pool(scenario):
    """A first evaluation of a year is refused on a day the provider was out of the pool; a later one of
    a year already evaluated corrects it (NOTES, Yearly grades: tests/unit/rules/test_rules_entry_order.py)."""
    scenario.admit("PR-1", "province")
    for year in (2024, 2025):
        scenario.run(m.RecordEvaluation, provider_id="PR-1", year=year, qualified=False)
    scenario.on(date(2026, 1, 10))
    with pytest.raises(DomainError, match="was out of the pool that day"):
        scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2026, qualified=False)


@pytest.mark.parametrize("year, plausible", [(2023, False), (2024, True), (2025, True), (2026, False)])
def test_an_evaluation_is_of_the_year_it_is_made_or_the_year_before(scenario, year, plausible):
    """No evaluation of a year that has not begun, nor of one long past, on 2025-03-01."""
    scenario.admit("PR-1", "province")
    evaluate = scenario.command(m.RecordEvaluation, provider_id="PR-1", year=year, qualified=True)
    if plausible:
        scenario.ledger.execute(evaluate)
        assert [i.data["year"] for i in scenario.provider("PR-1").live_facts(EVALUATION)] == [year]
    else:
        with pytest.raises(DomainError, match=rf"^year {year} is not plausible for an evaluation taking effect on 2025-03-01 \(effective_on\): it is of 2024 or 2025$"):
            scenario.ledger.execute(evaluate)
        assert scenario.provider("PR-1").live_facts(EVALUATION) == []


@pytest.mark.parametrize("enterprises, eligible", [(2, False), (3, True), (4, True)])
def test_smart_equipment_applied_in_three_enterprises(scenario, enterprises, eligible):
    """二（一）4 至少在省内三家及以上企业得到应用 (inclusive)."""
    apply = scenario.command(
        m.SubmitApplication, provider_id="PR-1", jurisdiction="province", name="PR-1 Ltd", credit_code=credit_code_for("PR-1"), kind="智能装备服务商",
        eligibility={"enterprises_in_province": enterprises},
    )  # fmt: skip
    if eligible:
        scenario.ledger.execute(apply)
        assert scenario.provider("PR-1").status == "applied"
    else:
        with pytest.raises(DomainError, match=r"省指南 二（一）4: .*三家及以上.*（申报为 2 家）"):
            scenario.ledger.execute(apply)
        assert scenario.ledger.find(Provider, "PR-1") is None


def test_the_three_enterprises_are_only_asked_of_smart_equipment(scenario):
    scenario.admit("PR-1", "province", kind="网络服务商", enterprises_in_province=0)
    assert scenario.provider("PR-1").status == "in_pool"


@pytest.mark.parametrize(
    "declared, evaluated_on, cleared",
    [
        (None, date(2025, 3, 1), False),  # the guide states no date; nothing declared
        ((date(2025, 3, 1), None), date(2025, 2, 28), False),
        ((date(2025, 3, 1), None), date(2025, 3, 1), True),
        ((date(2025, 1, 1), date(2025, 12, 31)), date(2025, 12, 31), True),
        ((date(2025, 1, 1), date(2025, 12, 31)), date(2026, 1, 1), False),
    ],
)
def test_no_sanction_outside_the_validity_window(bare_scenario, declared, evaluated_on, cleared):
    scenario = bare_scenario
    if declared is not None:
        scenario.run(m.DeclareRulebookValidity, jurisdiction="province", valid_from=declared[0], valid_until=declared[1], reference="notice")
    scenario.admit("PR-1", "province", on=date(2025, 2, 1))
    scenario.on(max(evaluated_on, scenario.today))
    for year in (evaluated_on.year - 1, evaluated_on.year):
        scenario.run(m.RecordEvaluation, provider_id="PR-1", year=year, qualified=False, effective_on=evaluated_on)

    assert [s["sanction"] for s in scenario.sanctions("PR-1")] == (["clearance"] if cleared else [])


def test_evaluations_before_the_date_of_effect_are_not_counted(bare_scenario):
    """The guide does not reach back: an unqualified year recorded before it took effect does not count."""
    scenario = bare_scenario
    scenario.run(m.DeclareRulebookValidity, jurisdiction="province", valid_from=date(2025, 3, 1), reference="notice")
    scenario.admit("PR-1", "province", on=date(2025, 2, 1))
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2024, qualified=False, effective_on=date(2025, 2, 28))
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2025, qualified=False)
    assert scenario.sanctions("PR-1") == []
    scenario.on(date(2026, 3, 1))
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2026, qualified=False)
    [clearance] = scenario.sanctions("PR-1")
    years = {i.ref: i.data["year"] for i in scenario.provider("PR-1").live_facts(EVALUATION)}
    assert [years[ref] for ref in clearance["evidence"]] == [2025, 2026]


@pytest.mark.parametrize("days_after_deadline", [0, 1, 60])
def test_an_overdue_order_clears_nobody_by_itself(scenario, days_after_deadline):
    """四（一）"将给予限期整改或清退等处理" leaves the choice to the regulator: an order past its
    deadline is shown overdue; clearance is the regulator's own finding under 四（一）."""
    scenario.admit("PR-1", "province")
    order = scenario.finding("PR-1", "四（一）整改", deadline_days=10)
    deadline = scenario.provider("PR-1").sanctions[order]["deadline"]
    scenario.passed_deadlines(deadline + timedelta(days=days_after_deadline))
    provider = scenario.provider("PR-1")
    assert provider.status == "in_pool"
    assert [s["sanction"] for s in scenario.sanctions("PR-1")] == ["rectification_order"]
    assert (provider.sanctions[order]["overdue_on"] is not None) is (days_after_deadline > 0)

    scenario.finding("PR-1", "四（一）清退")
    clearance = scenario.sanctions("PR-1")[-1]
    assert (clearance["sanction"], clearance["citation"]["article"], clearance["derived"]) == ("clearance", "四（一）", False)
    assert scenario.provider("PR-1").status == "removed"


@pytest.mark.parametrize("re_evaluated, cleared", [(False, True), (True, False)])
def test_a_years_later_evaluation_replaces_the_earlier_one(scenario, re_evaluated, cleared):
    """四（三） 连续两年评价为不合格: a year has one verdict, the latest. 2025 unqualified, re-evaluated
    qualified two weeks later, then 2026 unqualified: not two unqualified years in a row."""
    scenario.admit("PR-1", "province", on=date(2025, 3, 1))
    scenario.on(date(2027, 1, 20))
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2025, qualified=False, effective_on=date(2025, 12, 1))
    if re_evaluated:
        scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2025, qualified=True, effective_on=date(2025, 12, 15))
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2026, qualified=False, effective_on=date(2026, 12, 1))
    assert scenario.provider("PR-1").in_pool is not cleared
