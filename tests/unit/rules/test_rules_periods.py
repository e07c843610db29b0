"""The period to rectify a warning or order the ledger derives (新乡 第十五条（四） "予以警告并限期整改",
柳州 第十二条（四）（六） "责令其限期整改，整改期限一般不超过30日"): the texts name no period, so it is
the bureau's (a standing period, ``SetRulebookParameters``) or the regulator's for the one order
(``SetRectificationPeriod``) — never one the ledger supplies."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from ledger.rules.base import RECTIFICATION_OVERDUE
from ledger.standing import standing

WARNED_ON = date(2025, 3, 10)  # a Monday
DUE_IN_10 = date(2025, 3, 20)  # a Thursday: ten days on, 民法典 第二百零一条


def _warned(scenario) -> dict:
    """新乡 第十五条（四）: a 不满意 after the project passed, on WARNED_ON (with the bureau's period if it set one)."""
    scenario.on(max(WARNED_ON, scenario.today))
    scenario.admit("XX-1", "xinxiang", on=date(2025, 3, 3))
    scenario.unsatisfied("XX-1", "E-1", on=WARNED_ON)
    [warning] = scenario.sanctions("XX-1")
    return warning


def _ordered(scenario) -> dict:
    """柳州 第十二条（四）: accepted below level 2 on WARNED_ON, the bureau having set no period."""
    scenario.on(max(WARNED_ON, scenario.today))
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 3, 3))
    scenario.project("LZ-1", "E-1", level_after=1, on=WARNED_ON)
    [order] = scenario.sanctions("LZ-1")
    return order


def test_a_derived_warning_without_a_period_stands_and_never_falls_due(scenario):
    warning = _warned(scenario)
    assert (warning["sanction"], warning["effective_on"], warning["deadline"], warning["params"]) == ("warning", WARNED_ON, None, {})
    provider = scenario.provider("XX-1")
    [listed] = standing(provider)["sanctions"]
    assert (listed["state"], listed["deadline"], standing(provider)["standing"]) == ("open", None, "warned")
    assert standing(provider)["counters"]["rectification_orders"]["open"] == 1

    result = scenario.passed_deadlines(date(2026, 3, 10))  # a year on: nothing is overdue without a period
    assert result.results == {}
    assert scenario.provider("XX-1").live_facts(RECTIFICATION_OVERDUE) == []


@pytest.mark.parametrize("set_on, accepted", [(DUE_IN_10 - timedelta(days=1), True), (DUE_IN_10, True), (DUE_IN_10 + timedelta(days=1), False)])
def test_the_regulators_period_runs_from_the_day_the_warning_took_effect(scenario, set_on, accepted):
    """Ten days from 03-10 end on 03-20, however late the period is set; a period that would end
    before the day it is set is refused."""
    warning = _warned(scenario)
    scenario.on(date(2025, 4, 1))
    command = {"provider_id": "XX-1", "sanction_ref": warning["ref"], "deadline_days": 10, "effective_on": set_on}
    if not accepted:
        with pytest.raises(DomainError, match="end on 2025-03-20, before the period is set") as refused:
            scenario.run(m.SetRectificationPeriod, **command)
        assert refused.value.field == "deadline_days"
        assert scenario.sanctions("XX-1")[0]["deadline"] is None
        return
    scenario.run(m.SetRectificationPeriod, **command)
    [set_] = scenario.sanctions("XX-1")
    assert (set_["deadline"], set_["params"]["deadline_days"], set_["effective_on"]) == (DUE_IN_10, 10, WARNED_ON)


@pytest.mark.parametrize("swept_on, overdue", [(DUE_IN_10, False), (DUE_IN_10 + timedelta(days=1), True), (DUE_IN_10 + timedelta(days=2), True)])
def test_a_warning_falls_due_the_day_after_the_regulators_period(scenario, swept_on, overdue):
    warning = _warned(scenario)
    scenario.on(date(2025, 3, 12))
    scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=warning["ref"], deadline_days=10)
    scenario.passed_deadlines(swept_on)
    facts = scenario.provider("XX-1").live_facts(RECTIFICATION_OVERDUE)
    assert [f.effective_on for f in facts] == ([DUE_IN_10 + timedelta(days=1)] if overdue else [])


@pytest.mark.parametrize("days, exceptional_reason, accepted", [(29, None, True), (30, None, True), (31, None, False), (31, "设备供货周期长", True)])
def test_liuzhou_caps_the_regulators_period_at_thirty_days(scenario, days, exceptional_reason, accepted):
    """柳州 第十二条 整改期限一般不超过30日: longer only with a reason, as for a finding."""
    order = _ordered(scenario)
    command = {"provider_id": "LZ-1", "sanction_ref": order["ref"], "deadline_days": days, "exceptional_reason": exceptional_reason}
    if not accepted:
        with pytest.raises(DomainError, match="整改期限一般不超过30日 — 31 days needs an exceptional_reason") as refused:
            scenario.run(m.SetRectificationPeriod, **command)
        assert refused.value.field == "deadline_days"
        return
    scenario.run(m.SetRectificationPeriod, **command)
    [set_] = scenario.sanctions("LZ-1")
    assert set_["deadline"] == scenario.provider("LZ-1").sanctions[order["ref"]]["deadline"] is not None
    assert set_["params"].get("exceptional_reason") == exceptional_reason


def test_a_liuzhou_order_not_rectified_within_the_regulators_period_gray_lists(scenario):
    """第十四条（四）未按时完成整改的, from the day after the period the regulator set (20 days from
    03-10: 03-30 is a Sunday, so 03-31)."""
    order = _ordered(scenario)
    scenario.run(m.SetRectificationPeriod, provider_id="LZ-1", sanction_ref=order["ref"], deadline_days=20)
    due = scenario.sanctions("LZ-1")[0]["deadline"]
    assert due == date(2025, 3, 31)
    scenario.passed_deadlines(due)
    assert scenario.provider("LZ-1").status == "in_pool"
    scenario.passed_deadlines(due + timedelta(days=1))
    gray = scenario.sanctions("LZ-1")[-1]
    assert (gray["sanction"], gray["citation"]["article"], gray["effective_on"]) == ("gray_listing", "第十四条（四）", due + timedelta(days=1))


def test_a_period_is_set_once_and_not_for_an_order_that_has_one(scenario):
    warning = _warned(scenario)
    scenario.on(date(2025, 3, 12))
    scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=warning["ref"], deadline_days=10)
    with pytest.raises(DomainError, match="already has its period, due 2025-03-20") as refused:
        scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=warning["ref"], deadline_days=20)
    assert refused.value.field == "sanction_ref"
    finding = scenario.finding("XX-1", "第十五条（一）", deadline_days=15)  # a finding gives its own period
    with pytest.raises(DomainError, match="already has its period"):
        scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=finding, deadline_days=20)


def test_a_period_is_not_set_before_the_warning_nor_for_what_is_not_an_open_order(scenario):
    warning = _warned(scenario)
    with pytest.raises(DomainError, match=r"effective_on 2025-03-09 is before .* took effect \(2025-03-10\)") as refused:
        scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=warning["ref"], deadline_days=10, effective_on=WARNED_ON - timedelta(days=1))
    assert refused.value.field == "effective_on"
    rating = warning["evidence"][0]
    with pytest.raises(DomainError, match="is not a warning or rectification order"):
        scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=rating, deadline_days=10)
    scenario.run(m.RecordRectificationRefusal, provider_id="XX-1", sanction_ref=warning["ref"])
    with pytest.raises(DomainError, match="refused to rectify"):
        scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=warning["ref"], deadline_days=10)


def test_a_completed_order_takes_no_period(scenario):
    warning = _warned(scenario)
    scenario.run(m.CompleteRectification, provider_id="XX-1", sanction_ref=warning["ref"])
    with pytest.raises(DomainError, match="already completed"):
        scenario.run(m.SetRectificationPeriod, provider_id="XX-1", sanction_ref=warning["ref"], deadline_days=10)


@pytest.mark.parametrize("from_, deadline", [(WARNED_ON - timedelta(days=1), DUE_IN_10), (WARNED_ON, DUE_IN_10), (WARNED_ON + timedelta(days=1), None)])
def test_the_bureaus_period_applies_to_warnings_derived_from_its_day(scenario, from_, deadline):
    """The bureau's standing period, in force from ``from_``, gives a warning derived that day or
    later its deadline; one derived before stays the regulator's to set."""
    scenario.bureau_period("xinxiang", 10, on=from_)
    assert _warned(scenario)["deadline"] == deadline


@pytest.mark.parametrize("days, accepted", [(29, True), (30, True), (31, False)])
def test_liuzhou_caps_the_bureaus_standing_period_at_thirty_days(scenario, days, accepted):
    """柳州 第十二条 整改期限一般不超过30日 caps the bureau's period for derived orders as it caps a finding's."""
    command = {"jurisdiction": "liuzhou", "params": {"rectification_days": days}, "reference": "notice"}
    if accepted:
        scenario.run(m.SetRulebookParameters, **command)
        assert scenario.ledger.pack("liuzhou").params.rectification_days == days
    else:
        with pytest.raises(DomainError, match="rectification_days 31 exceeds 第十二条's 整改期限一般不超过30日") as refused:
            scenario.run(m.SetRulebookParameters, **command)
        assert "\n" not in str(refused.value)
