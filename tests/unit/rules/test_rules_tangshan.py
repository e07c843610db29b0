"""唐山市中小企业数字化转型试点城市数字化服务商管理规范（试行）: every counted threshold at its boundary."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError, Project
from ledger.commands import models as m
from ledger.rules.base import FINDING, RECTIFICATION_OVERDUE, RECTIFICATION_REFUSED
from ledger.standing import standing
from tests.integration.scenario import summary

VERSION = "tangshan-trial.1"
BLACKLISTED = ["disqualified", "blacklisted", "announced_on_bureau_website", "no_subsidies"]
ORDER_ARTICLES = ["第十二条（一）", "第十二条（二）", "第十二条（三）", "第十二条（五）"]


@pytest.mark.parametrize("orders, blacklisted", [(2, False), (3, True), (4, True)])
def test_blacklisted_when_ordered_to_rectify_more_than_twice(scenario, orders, blacklisted):
    """第十三条（一）限期整改超过 2 次 (strict: the third order blacklists)."""
    scenario.admit("TS-1", "tangshan")
    refs = [scenario.finding("TS-1", article) for article in ORDER_ARTICLES[: min(orders, 3)]]
    if orders == 4:  # a blacklisted provider is out of the pool: no fourth order can be given
        with pytest.raises(DomainError, match=r"was out of the pool that day \(blacklisting"):
            scenario.finding("TS-1", ORDER_ARTICLES[3])

    provider = scenario.provider("TS-1")
    assert standing(provider)["counters"]["rectification_orders"]["count"] == min(orders, 3)
    if blacklisted:
        blacklisting = scenario.sanctions("TS-1")[-1]
        assert summary(blacklisting) == {
            "sanction": "blacklisting",
            "article": "第十三条（一）",
            "pack_version": VERSION,
            "params": {"rectification_orders": 2},
            "evidence": refs,
        }
        assert blacklisting["consequences"] == BLACKLISTED
        assert provider.status == "blacklisted"
    else:
        assert [s["sanction"] for s in scenario.sanctions("TS-1")] == ["rectification_order"] * 2
        assert (provider.status, standing(provider)["standing"]) == ("in_pool", "rectifying")


@pytest.mark.parametrize("ratings, blacklisted", [(1, False), (2, True), (3, True)])
def test_blacklisted_at_the_second_unsatisfied_rating(scenario, ratings, blacklisted):
    """第十三条（二）“不满意”次数达到 2 次 (inclusive, occurrences: the same enterprise twice counts twice)."""
    scenario.admit("TS-1", "tangshan")
    projects = [scenario.project("TS-1", "E-1") for _ in range(ratings)]
    noted = [scenario.rate(project_id, "TS-1") for project_id in projects]

    provider = scenario.provider("TS-1")
    counters = standing(provider)["counters"]["unsatisfied_ratings"]
    assert (counters["occurrences"], counters["distinct_enterprises"]) == (ratings, 1)
    if blacklisted:
        [blacklisting] = scenario.sanctions("TS-1")
        assert summary(blacklisting) == {
            "sanction": "blacklisting",
            "article": "第十三条（二）",
            "pack_version": VERSION,
            "params": {"unsatisfied_ratings": 2},
            "evidence": [n.fact for n in noted[:2]],
        }
        assert provider.status == "blacklisted"
    else:
        assert scenario.sanctions("TS-1") == []
        assert provider.status == "in_pool"


def test_an_unsatisfied_rating_before_acceptance_counts_too(scenario):
    """第十三条（二） counts every 不满意, unlike 新乡 第十五条（四）."""
    scenario.admit("TS-1", "tangshan")
    scenario.unsatisfied("TS-1", "E-1", accepted=False)
    scenario.unsatisfied("TS-1", "E-2", accepted=True)
    assert scenario.provider("TS-1").status == "blacklisted"


@pytest.mark.parametrize(
    "days, exceptional_reason, accepted",
    [(30, None, True), (31, None, False), (31, "equipment delivery takes six weeks", True)],
)
def test_rectification_deadline_normally_at_most_30_days(scenario, days, exceptional_reason, accepted):
    """第十二条 应限期整改，整改期限一般不超过 30 日."""
    scenario.admit("TS-1", "tangshan")
    fields = {"deadline_days": days, "exceptional_reason": exceptional_reason}
    if accepted:
        ref = scenario.finding("TS-1", "第十二条（二）", **fields)
        [finding] = scenario.provider("TS-1").live_facts(FINDING)
        [order] = scenario.sanctions("TS-1")
        assert order["ref"] == ref
        assert summary(order) == {
            "sanction": "rectification_order",
            "article": "第十二条（二）",
            "pack_version": VERSION,
            "params": {"deadline_days": days, **({"exceptional_reason": exceptional_reason} if exceptional_reason else {})},
            "evidence": [finding.ref],
        }
        assert order["deadline"] == scenario.today + timedelta(days=days)
    else:
        with pytest.raises(DomainError, match="唐山 第十二条: 整改期限一般不超过30日 — 31 days needs an exceptional_reason"):
            scenario.finding("TS-1", "第十二条（二）", **fields)
        assert scenario.sanctions("TS-1") == []


@pytest.mark.parametrize("days_after_deadline, overdue", [(-1, False), (0, False), (1, True), (30, True)])
def test_an_overdue_order_is_shown_overdue_but_is_not_a_refusal(scenario, days_after_deadline, overdue):
    """第十三条（一）"限期拒不进行整改": lateness alone does not blacklist — the day before, on and after
    the deadline the provider stays in the pool; from the day after, the order shows overdue."""
    scenario.admit("TS-1", "tangshan")
    order = scenario.finding("TS-1", "第十二条（三）", deadline_days=10)
    deadline = scenario.today + timedelta(days=10)
    scenario.passed_deadlines(deadline + timedelta(days=days_after_deadline))

    provider = scenario.provider("TS-1")
    assert provider.status == "in_pool"
    assert [s["sanction"] for s in scenario.sanctions("TS-1")] == ["rectification_order"]
    [state] = [s["state"] for s in standing(provider)["sanctions"]]
    if overdue:
        [fact] = provider.live_facts(RECTIFICATION_OVERDUE)
        assert (fact.data["order"], fact.effective_on) == (order, deadline + timedelta(days=1))
        assert state == "overdue"
    else:
        assert provider.live_facts(RECTIFICATION_OVERDUE) == []
        assert state == "open"


def test_an_overdue_order_blacklists_once_the_regulator_records_the_refusal(scenario):
    """第十三条（一）: the finding of refusal, recorded after the deadline, blacklists from its own date."""
    scenario.admit("TS-1", "tangshan")
    order = scenario.finding("TS-1", "第十二条（三）", deadline_days=10)
    scenario.passed_deadlines(scenario.today + timedelta(days=12))
    scenario.run(m.RecordRectificationRefusal, provider_id="TS-1", sanction_ref=order)
    [refusal] = scenario.provider("TS-1").live_facts(RECTIFICATION_REFUSED)
    blacklisting = scenario.sanctions("TS-1")[-1]
    assert summary(blacklisting) == {
        "sanction": "blacklisting",
        "article": "第十三条（一）",
        "pack_version": VERSION,
        "params": {},
        "evidence": [refusal.ref],
    }
    assert blacklisting["effective_on"] == scenario.today
    assert scenario.provider("TS-1").status == "blacklisted"


def test_a_completed_rectification_is_never_overdue(scenario):
    scenario.admit("TS-1", "tangshan")
    order = scenario.finding("TS-1", "第十二条（三）", deadline_days=10)
    scenario.run(m.CompleteRectification, provider_id="TS-1", sanction_ref=order)
    scenario.passed_deadlines(scenario.today + timedelta(days=30))
    assert scenario.provider("TS-1").status == "in_pool"
    assert standing(scenario.provider("TS-1"))["standing"] == "in_pool"


def test_blacklisted_when_refusing_to_rectify(scenario):
    scenario.admit("TS-1", "tangshan")
    order = scenario.finding("TS-1", "第十二条（三）")
    scenario.run(m.RecordRectificationRefusal, provider_id="TS-1", sanction_ref=order)

    [refusal] = scenario.provider("TS-1").live_facts(RECTIFICATION_REFUSED)
    blacklisting = scenario.sanctions("TS-1")[-1]
    assert (blacklisting["citation"]["article"], blacklisting["evidence"]) == ("第十三条（一）", [refusal.ref])
    assert scenario.provider("TS-1").status == "blacklisted"


@pytest.mark.parametrize(
    "declared, rated_on, blacklisted",
    [
        (None, date(2025, 3, 1), False),  # 自印发之日起实施: the issue date is not in the text
        ((date(2025, 3, 1), None), date(2025, 2, 28), False),
        ((date(2025, 3, 1), None), date(2025, 3, 1), True),
        ((date(2025, 1, 1), date(2025, 6, 30)), date(2025, 6, 30), True),  # 试点城市工作完成
        ((date(2025, 1, 1), date(2025, 6, 30)), date(2025, 7, 1), False),
    ],
)
def test_no_sanction_outside_the_validity_window(bare_scenario, declared, rated_on, blacklisted):
    """第十八条 自印发之日起实施，有效期至唐山市中小企业数字化转型试点城市工作完成为止."""
    scenario = bare_scenario
    if declared is not None:
        scenario.run(m.DeclareRulebookValidity, jurisdiction="tangshan", valid_from=declared[0], valid_until=declared[1], reference="notice")
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    projects = [scenario.project("TS-1", f"E-{i}", on=date(2025, 2, 1)) for i in (1, 2)]
    scenario.on(max(rated_on, scenario.today))
    for project_id in projects:
        scenario.rate(project_id, "TS-1", on=rated_on)

    assert [s["sanction"] for s in scenario.sanctions("TS-1")] == (["blacklisting"] if blacklisted else [])


def test_ratings_before_the_date_of_effect_are_not_counted(bare_scenario):
    """Two 不满意 before the rulebook took effect neither blacklist nor keep it from counting after."""
    scenario = bare_scenario
    scenario.run(m.DeclareRulebookValidity, jurisdiction="tangshan", valid_from=date(2025, 3, 1), reference="notice")
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    projects = [scenario.project("TS-1", f"E-{i}", on=date(2025, 2, 1)) for i in range(1, 5)]
    for project_id in projects[:2]:
        scenario.rate(project_id, "TS-1", on=date(2025, 2, 20))
    third = scenario.rate(projects[2], "TS-1")
    assert scenario.sanctions("TS-1") == []
    fourth = scenario.rate(projects[3], "TS-1")

    [blacklisting] = scenario.sanctions("TS-1")
    assert blacklisting["evidence"] == [third.fact, fourth.fact]
    assert scenario.provider("TS-1").status == "blacklisted"


def test_a_threshold_the_regulator_raises_applies_to_new_decisions_only(scenario):
    """SetRulebookParameters: a blacklisting derived with 达到 2 次 stays when the bureau asks for 3 from a
    later day (from the blacklisting's own day or before, it would be judged by 3: test_rules_validity_declared_late)."""
    from datetime import timedelta

    scenario.admit("TS-1", "tangshan")
    scenario.admit("TS-2", "tangshan")
    projects = {pid: [scenario.project(pid, f"E-{i}") for i in (1, 2, 3)] for pid in ("TS-1", "TS-2")}
    for project_id in projects["TS-1"][:2]:
        scenario.rate(project_id, "TS-1")
    assert scenario.provider("TS-1").status == "blacklisted"

    scenario.on(scenario.today + timedelta(days=1))
    scenario.run(m.SetRulebookParameters, jurisdiction="tangshan", params={"unsatisfied_ratings": 3}, reference="notice")
    scenario.rate(projects["TS-1"][2], "TS-1")  # a later fact about TS-1 reconciles its record
    [blacklisting] = scenario.sanctions("TS-1")
    assert blacklisting["params"] == {"unsatisfied_ratings": 2}
    assert scenario.provider("TS-1").status == "blacklisted"

    for project_id in projects["TS-2"][:2]:
        scenario.rate(project_id, "TS-2")
    assert scenario.provider("TS-2").status == "in_pool"
    scenario.rate(projects["TS-2"][2], "TS-2")
    [blacklisting] = scenario.sanctions("TS-2")
    assert blacklisting["params"] == {"unsatisfied_ratings": 3}
    assert scenario.provider("TS-2").status == "blacklisted"


@pytest.mark.parametrize("passed", [True, False])
def test_a_failed_acceptance_is_not_paid_and_its_prepayment_is_recoverable(scenario, passed):
    """第十四条 未通过验收的，不予支付服务费用，试点企业有权追回该项目预付款项."""
    scenario.admit("TS-1", "tangshan")
    project_id = scenario.project("TS-1", "E-1", accepted=False)  # filed at a cost of 100000
    scenario.run(m.RecordPayment, project_id=project_id, kind="prepayment", amount="30000", provider_id="TS-1")
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=passed, level_after=2 if passed else 1)

    project = scenario.ledger.load(Project, project_id)
    withheld = [p for p in project.payments if p["kind"] == "fee_withheld"]
    if passed:
        assert withheld == [] and project.prepayment_recoverable is None
    else:
        [fee] = withheld
        assert (fee["amount"], fee["citation"]["article"]) == ("70000", "第十四条")
        assert project.prepayment_recoverable == "30000"


@pytest.mark.parametrize("cleared", [False, True])
def test_fees_withheld_at_a_failed_acceptance_are_lifted_when_the_project_passes_later(scenario, cleared):
    """第十四条 "服务商被清退或未通过验收的，不予支付服务费用": passing the next acceptance ends 未通过验收;
    a provider cleared meanwhile stays unpaid, and the ledger says why."""
    scenario.admit("TS-1", "tangshan")
    project_id = scenario.project("TS-1", "E-1", accepted=False)
    scenario.run(m.RecordPayment, project_id=project_id, kind="prepayment", amount="30000", provider_id="TS-1")
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1)
    if cleared:
        scenario.finding("TS-1", "第十三条（五）")
    scenario.on(scenario.today + timedelta(days=40))
    result = scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=2)

    assert "project.withholding-reviewed.v1" in result.events
    project = scenario.ledger.load(Project, project_id)
    if cleared:
        assert (project.withholding_lifted, project.prepayment_recoverable) == (None, "30000")
    else:
        assert (project.withholding_lifted, project.prepayment_recoverable) == ("70000", None)
    event = [e for e in scenario.ledger.store.read_aggregate(project.id) if e.topic == "project.withholding-reviewed.v1"][-1]
    from ledger.wire import decode_state

    reviewed = decode_state(event)
    assert (reviewed["lifted"], reviewed["amount"], reviewed["citation"]["article"]) == (not cleared, "70000", "第十四条")
    assert ("被清退" in reviewed["reason"]) is cleared
