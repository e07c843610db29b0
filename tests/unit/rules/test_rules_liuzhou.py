"""柳州市中小企业数字化转型服务商管理办法（试行）: every counted threshold at its boundary."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from ledger.rules.base import BELOW_TARGET_LEVEL
from ledger.standing import standing
from tests.integration.scenario import summary

VERSION = "liuzhou-2025.draft"
GRAY = ["cleared", "public_notice", "gray_listed"]


def _unsatisfied(scenario, enterprises: list[str]):
    """One project per rating, all registered before any rating (a gray-listed provider takes no new projects)."""
    projects = [scenario.project("LZ-1", enterprise) for enterprise in enterprises]
    return [scenario.rate(project_id, "LZ-1") for project_id in projects]


@pytest.mark.parametrize(
    "enterprises, ordered_at",
    [
        (["E-1", "E-2", "E-3", "E-4", "E-5"], None),
        (["E-1", "E-2", "E-3", "E-4", "E-5", "E-1"], None),  # six ratings, five enterprises
        (["E-1", "E-2", "E-3", "E-4", "E-5", "E-6"], 6),
        (["E-1", "E-2", "E-3", "E-4", "E-5", "E-6", "E-7"], 6),
        (["E-1", "E-1", "E-2", "E-3", "E-4", "E-5", "E-6"], 7),  # the repeat is cited, not counted twice
    ],
)
def test_rectification_when_more_than_five_enterprises_are_unsatisfied(scenario, enterprises, ordered_at):
    """第十二条（六）超过5家试点企业对服务商满意度评价为“不满意”的 (strict, distinct enterprises)."""
    scenario.admit("LZ-1", "liuzhou")
    noted = _unsatisfied(scenario, enterprises)

    provider = scenario.provider("LZ-1")
    assert standing(provider)["counters"]["unsatisfied_ratings"]["distinct_enterprises"] == len(set(enterprises))
    if ordered_at:
        [order] = scenario.sanctions("LZ-1")
        assert summary(order) == {
            "sanction": "rectification_order",
            "article": "第十二条（六）",
            "pack_version": VERSION,
            "params": {"unsatisfied_enterprises_for_rectification": 5},
            "evidence": [n.fact for n in noted[:ordered_at]],
        }
        assert order["consequences"] == ["interview"]
        assert order["deadline"] is None  # the bureau set no period: the regulator sets it (test_rules_periods.py)
        assert (provider.status, standing(provider)["standing"]) == ("in_pool", "rectifying")
    else:
        assert scenario.sanctions("LZ-1") == []


@pytest.mark.parametrize("distinct, gray_listed", [(10, False), (11, True), (12, True)])
def test_gray_listed_when_more_than_ten_enterprises_are_unsatisfied(scenario, distinct, gray_listed):
    """第十四条（五）超过10家试点企业对服务商满意度评价为“不满意”的 (strict, distinct enterprises)."""
    scenario.admit("LZ-1", "liuzhou")
    noted = _unsatisfied(scenario, [f"E-{i}" for i in range(1, distinct + 1)])

    order, *rest = scenario.sanctions("LZ-1")
    assert order["citation"]["article"] == "第十二条（六）"  # at the sixth enterprise
    provider = scenario.provider("LZ-1")
    if gray_listed:
        [gray_listing] = rest
        assert summary(gray_listing) == {
            "sanction": "gray_listing",
            "article": "第十四条（五）",
            "pack_version": VERSION,
            "params": {"unsatisfied_enterprises_for_gray_list": 10},
            "evidence": [n.fact for n in noted[:11]],
        }
        assert gray_listing["consequences"] == GRAY
        assert provider.status == "gray_listed"
    else:
        assert rest == []
        assert provider.status == "in_pool"


@pytest.mark.parametrize("orders, gray_listed", [(2, False), (3, True)])
def test_gray_listed_when_ordered_to_rectify_more_than_twice(scenario, orders, gray_listed):
    """第十四条（四）限期整改超过2次 (strict: the third order gray-lists)."""
    scenario.admit("LZ-1", "liuzhou")
    refs = [scenario.finding("LZ-1", article) for article in ["第十二条（一）", "第十二条（二）", "第十二条（三）"][:orders]]

    provider = scenario.provider("LZ-1")
    if gray_listed:
        gray_listing = scenario.sanctions("LZ-1")[-1]
        assert summary(gray_listing) == {
            "sanction": "gray_listing",
            "article": "第十四条（四）",
            "pack_version": VERSION,
            "params": {"rectification_orders": 2},
            "evidence": refs,
        }
        assert provider.status == "gray_listed"
        with pytest.raises(DomainError, match=r"was out of the pool that day \(gray_listing"):
            scenario.finding("LZ-1", "第十二条（五）")
    else:
        assert provider.status == "in_pool"
        assert [s["sanction"] for s in scenario.sanctions("LZ-1")] == ["rectification_order"] * 2


def test_a_derived_order_counts_towards_the_third(scenario):
    """An order derived from 第十二条（六） is a 限期整改 like any other under 第十四条（四）."""
    scenario.admit("LZ-1", "liuzhou")
    _unsatisfied(scenario, [f"E-{i}" for i in range(1, 7)])
    [derived] = scenario.sanctions("LZ-1")
    assert derived["citation"]["article"] == "第十二条（六）"
    first = scenario.finding("LZ-1", "第十二条（一）")
    assert scenario.provider("LZ-1").status == "in_pool"
    second = scenario.finding("LZ-1", "第十二条（三）")

    gray_listing = scenario.sanctions("LZ-1")[-1]
    assert (gray_listing["citation"]["article"], gray_listing["evidence"]) == ("第十四条（四）", [derived["ref"], first, second])
    assert scenario.provider("LZ-1").status == "gray_listed"


@pytest.mark.parametrize("level_after, ordered", [(0, True), (1, True), (2, False), (3, False)])
def test_rectification_when_below_level_two_after_the_project(scenario, level_after, ordered):
    """第十二条（四）试点企业数字化转型改造后未能达到二级的."""
    scenario.admit("LZ-1", "liuzhou")
    scenario.project("LZ-1", "E-1", level_after=level_after)

    provider = scenario.provider("LZ-1")
    below = provider.live_facts(BELOW_TARGET_LEVEL)
    if ordered:
        [fact] = below
        assert (fact.data["level_after"], fact.data["target_level"]) == (level_after, 2)
        [order] = scenario.sanctions("LZ-1")
        assert summary(order) == {
            "sanction": "rectification_order",
            "article": "第十二条（四）",
            "pack_version": VERSION,
            "params": {},
            "evidence": [fact.ref],
        }
    else:
        assert below == [] and scenario.sanctions("LZ-1") == []


def test_gray_listed_when_not_rectified_on_time(scenario):
    """第十四条（四）未按时完成整改的."""
    scenario.bureau_period("liuzhou", 30)
    scenario.admit("LZ-1", "liuzhou")
    scenario.project("LZ-1", "E-1", level_after=1)
    [order] = scenario.sanctions("LZ-1")
    scenario.passed_deadlines(order["deadline"])
    assert scenario.provider("LZ-1").status == "in_pool"
    scenario.passed_deadlines(order["deadline"] + timedelta(days=1))

    gray_listing = scenario.sanctions("LZ-1")[-1]
    assert (gray_listing["sanction"], gray_listing["citation"]["article"]) == ("gray_listing", "第十四条（四）")
    assert scenario.provider("LZ-1").status == "gray_listed"


@pytest.mark.parametrize("completed_after_deadline, gray_listed", [(0, False), (1, True)])
def test_gray_listed_when_rectification_is_completed_late(scenario, completed_after_deadline, gray_listed):
    """第十四条（四）未按时完成整改的: completing after the deadline is not completing on time."""
    scenario.bureau_period("liuzhou", 30)
    scenario.admit("LZ-1", "liuzhou")
    scenario.project("LZ-1", "E-1", level_after=1)
    [order] = scenario.sanctions("LZ-1")
    scenario.on(order["deadline"] + timedelta(days=completed_after_deadline))
    scenario.run(m.CompleteRectification, provider_id="LZ-1", sanction_ref=order["ref"])
    scenario.passed_deadlines(order["deadline"] + timedelta(days=7))

    assert scenario.provider("LZ-1").status == ("gray_listed" if gray_listed else "in_pool")
    if gray_listed:
        gray_listing = scenario.sanctions("LZ-1")[-1]
        assert gray_listing["citation"]["article"] == "第十四条（四）"
        assert gray_listing["effective_on"] == order["deadline"] + timedelta(days=1)


@pytest.mark.parametrize(
    "declared, accepted_on, ordered",
    [
        (None, date(2025, 3, 1), False),  # 本办法自2025年X月X日起施行: the date is blank
        ((date(2025, 3, 1), None), date(2025, 2, 28), False),
        ((date(2025, 3, 1), None), date(2025, 3, 1), True),
        ((date(2025, 1, 1), date(2025, 6, 30)), date(2025, 6, 30), True),  # 试点工作结束之日
        ((date(2025, 1, 1), date(2025, 6, 30)), date(2025, 7, 1), False),
    ],
)
def test_no_sanction_outside_the_validity_window(bare_scenario, declared, accepted_on, ordered):
    """第十七条 本办法自2025年X月X日起施行，有效期至试点工作结束之日."""
    scenario = bare_scenario
    if declared is not None:
        scenario.run(m.DeclareRulebookValidity, jurisdiction="liuzhou", valid_from=declared[0], valid_until=declared[1], reference="notice")
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    project_id = scenario.project("LZ-1", "E-1", accepted=False, on=date(2025, 2, 1))
    scenario.on(max(accepted_on, scenario.today))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=1, effective_on=accepted_on)

    assert [s["sanction"] for s in scenario.sanctions("LZ-1")] == (["rectification_order"] if ordered else [])


@pytest.mark.parametrize(
    "days, exceptional_reason, accepted",
    [(29, None, True), (30, None, True), (31, None, False), (31, "the enterprise's production season", True)],
)
def test_rectification_deadline_normally_at_most_30_days(scenario, days, exceptional_reason, accepted):
    """(From Saturday 2025-03-01, 29 days end on Sunday 03-30, so the order is due Monday 03-31:
    民法典 第二百零三条.)"""
    """第十二条 约谈，责令其限期整改，整改期限一般不超过30日."""
    scenario.admit("LZ-1", "liuzhou")
    fields = {"deadline_days": days, "exceptional_reason": exceptional_reason}
    if accepted:
        scenario.finding("LZ-1", "第十二条（一）", **fields)
        [order] = scenario.sanctions("LZ-1")
        assert (order["sanction"], order["citation"]["article"]) == ("rectification_order", "第十二条（一）")
        assert order["deadline"] == {29: date(2025, 3, 31), 30: date(2025, 3, 31), 31: date(2025, 4, 1)}[days]
        assert "interview" in order["consequences"]
    else:
        with pytest.raises(DomainError, match="柳州 第十二条: 整改期限一般不超过30日 — 31 days needs an exceptional_reason"):
            scenario.finding("LZ-1", "第十二条（一）", **fields)
        assert scenario.sanctions("LZ-1") == []
