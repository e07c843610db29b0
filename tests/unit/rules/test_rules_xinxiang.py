"""新乡市中小企业数字化转型城市试点数字化服务商管理办法（试行）: every counted threshold at its boundary."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import Complaint, DomainError
from ledger.commands import models as m
from ledger.deadlines import sweep
from ledger.rules.base import (
    COMPLAINT_UNANSWERED,
    IMPLEMENTED_BEFORE_FILING,
    RECTIFICATION_OVERDUE,
    RECTIFICATION_REFUSED,
    UNSATISFIED_RATING,
)
from ledger.standing import standing
from tests.integration.scenario import summary

VERSION = "xinxiang-2025.draft"
DISQUALIFIED = ["advisory_to_other_cities"]


def test_unsatisfied_after_acceptance_is_warned(scenario):
    """第十五条（四）服务商服务通过验收，但试点企业满意度评价为“不满意”的 → 警告并限期整改, within the
    period the bureau set for such warnings."""
    scenario.bureau_period("xinxiang", 30)
    scenario.admit("XX-1", "xinxiang")
    rating = scenario.unsatisfied("XX-1", "E-1", accepted=True)

    [warning] = scenario.sanctions("XX-1")
    assert summary(warning) == {
        "sanction": "warning",
        "article": "第十五条（四）",
        "pack_version": VERSION,
        "params": {"warning_rectification_days": 30},
        "evidence": [rating.fact],
    }
    assert warning["deadline"] == scenario.today + timedelta(days=30)
    provider = scenario.provider("XX-1")
    assert (provider.status, standing(provider)["standing"]) == ("in_pool", "warned")


def test_unsatisfied_before_acceptance_is_not_warned(scenario):
    scenario.admit("XX-1", "xinxiang")
    rating = scenario.unsatisfied("XX-1", "E-1", accepted=False)

    provider = scenario.provider("XX-1")
    [fact] = provider.live_facts(UNSATISFIED_RATING)
    assert (fact.ref, fact.data["accepted"]) == (rating.fact, False)
    assert scenario.sanctions("XX-1") == []
    assert standing(provider)["standing"] == "in_pool"


def test_unsatisfied_then_accepted_is_warned_from_the_acceptance(scenario):
    """第十五条（四）通过验收，但…“不满意”: rated first, the project passing later makes it count."""
    scenario.admit("XX-1", "xinxiang")
    rating = scenario.unsatisfied("XX-1", "E-1", accepted=False)
    project_id = scenario.provider("XX-1").facts[rating.fact]["data"]["project_id"]
    assert scenario.sanctions("XX-1") == []
    scenario.on(scenario.today + timedelta(days=10))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=2)

    [warning] = scenario.sanctions("XX-1")
    assert summary(warning)["evidence"] == [rating.fact]
    assert warning["effective_on"] == scenario.today


@pytest.mark.parametrize("filing, warned", [(None, True), ("submitted", True), ("rejected", True), ("approved", False), ("changed", True)])
def test_implementing_before_the_filing_is_approved_is_warned(scenario, filing, warned):
    """第十五条（四）服务商未经报备即开展改造实施的; 第十二条（三）a major change is filed again first."""
    scenario.admit("XX-1", "xinxiang")
    scenario.run(
        m.RegisterProject, project_id="P-1", jurisdiction="xinxiang", enterprise_id="E-1", enterprise_name="E-1 Co",
        integrated_provider_id="XX-1",
    )  # fmt: skip
    if filing is not None:
        scenario.run(m.SubmitFiling, project_id="P-1", content="plan", cost="100000")
    if filing in ("rejected", "approved", "changed"):
        scenario.run(m.DecideFiling, project_id="P-1", approved=filing != "rejected")
    if filing == "changed":
        scenario.run(m.RecordMajorChange, project_id="P-1", description="fewer scenarios", scenarios_removed=2)
    scenario.run(m.StartImplementation, project_id="P-1")

    provider = scenario.provider("XX-1")
    facts = provider.live_facts(IMPLEMENTED_BEFORE_FILING)
    if warned:
        [fact] = facts
        [warning] = scenario.sanctions("XX-1")
        assert summary(warning) == {
            "sanction": "warning",
            "article": "第十五条（四）",
            "pack_version": VERSION,
            "params": {},  # no period: the bureau set none (see test_rules_periods.py)
            "evidence": [fact.ref],
        }
        assert warning["rule_id"] == "xinxiang.15.4.before_filing"
    else:
        assert facts == [] and scenario.sanctions("XX-1") == []


@pytest.mark.parametrize("ratings, disqualified", [(1, False), (2, True), (3, True)])
def test_disqualified_when_warned_twice(scenario, ratings, disqualified):
    """第十六条（一）受到警告2次及以上的 (inclusive) → 取消服务商资格."""
    scenario.admit("XX-1", "xinxiang")
    projects = [scenario.project("XX-1", f"E-{i}") for i in range(ratings)]
    for project_id in projects:
        scenario.rate(project_id, "XX-1")

    provider = scenario.provider("XX-1")
    warnings = scenario.sanctions("XX-1")[: min(ratings, 2)]
    assert [w["sanction"] for w in warnings] == ["warning"] * min(ratings, 2)
    if disqualified:
        assert provider.status == "disqualified"
        disqualification = scenario.sanctions("XX-1")[-1]
        assert summary(disqualification) == {
            "sanction": "disqualification",
            "article": "第十六条（一）",
            "pack_version": VERSION,
            "params": {"warnings_for_disqualification": 2},
            "evidence": [w["ref"] for w in warnings],
        }
        assert disqualification["consequences"] == DISQUALIFIED
        # the third rating is on record, but a provider out of the pool is not warned again
        assert len(provider.live_facts(UNSATISFIED_RATING)) == ratings
        assert len(scenario.sanctions("XX-1")) == 3
    else:
        assert provider.status == "in_pool"
        assert len(scenario.sanctions("XX-1")) == 1


def test_warnings_from_findings_and_ratings_count_together(scenario):
    scenario.admit("XX-1", "xinxiang")
    first = scenario.finding("XX-1", "第十五条（三）")
    scenario.unsatisfied("XX-1", "E-1")
    *warnings, disqualification = scenario.sanctions("XX-1")
    assert disqualification["citation"]["article"] == "第十六条（一）"
    assert disqualification["evidence"] == [first, warnings[1]["ref"]]


def test_refusing_to_rectify_after_a_warning_disqualifies(scenario):
    """第十六条（二）受到警告拒不进行整改的."""
    scenario.admit("XX-1", "xinxiang")
    warning = scenario.finding("XX-1", "第十五条（三）")
    scenario.run(m.RecordRectificationRefusal, provider_id="XX-1", sanction_ref=warning)

    provider = scenario.provider("XX-1")
    [refusal] = provider.live_facts(RECTIFICATION_REFUSED)
    disqualification = scenario.sanctions("XX-1")[-1]
    assert summary(disqualification) == {
        "sanction": "disqualification",
        "article": "第十六条（二）",
        "pack_version": VERSION,
        "params": {},
        "evidence": [refusal.ref],
    }
    assert provider.status == "disqualified"


@pytest.mark.parametrize("days_after_deadline, disqualified", [(0, False), (1, True)])
def test_contract_work_not_rectified_by_the_deadline_disqualifies(scenario, days_after_deadline, disqualified):
    """第十六条（四）未按合同约定完成服务事项，提出整改要求后，在规定期限内仍未按照要求完成整改的."""
    scenario.admit("XX-1", "xinxiang")
    warning = scenario.finding("XX-1", "第十五条（四）", deadline_days=20)
    deadline = scenario.today + timedelta(days=20)
    scenario.passed_deadlines(deadline + timedelta(days=days_after_deadline))

    provider = scenario.provider("XX-1")
    if disqualified:
        [overdue] = provider.live_facts(RECTIFICATION_OVERDUE)
        assert overdue.data["order"] == warning
        disqualification = scenario.sanctions("XX-1")[-1]
        assert summary(disqualification) == {
            "sanction": "disqualification",
            "article": "第十六条（四）",
            "pack_version": VERSION,
            "params": {},
            "evidence": [overdue.ref],
        }
        assert provider.status == "disqualified"
    else:
        assert provider.status == "in_pool"


def test_an_overdue_warning_for_an_unsatisfied_rating_is_not_contract_work(scenario):
    """A 第十五条（四） warning for 不满意 (or for implementing before filing) that passes its
    deadline is on record as overdue, but 第十六条（四） is about contract work; a refusal or a
    finding is needed."""
    scenario.bureau_period("xinxiang", 30)
    scenario.admit("XX-1", "xinxiang")
    scenario.unsatisfied("XX-1", "E-1")
    [warning] = scenario.sanctions("XX-1")
    scenario.passed_deadlines(warning["deadline"] + timedelta(days=1))

    provider = scenario.provider("XX-1")
    assert [i.data["order"] for i in provider.live_facts(RECTIFICATION_OVERDUE)] == [warning["ref"]]
    assert scenario.sanctions("XX-1") == [dict(warning, overdue_on=warning["deadline"] + timedelta(days=1))]
    assert provider.status == "in_pool"


@pytest.mark.parametrize(
    "report, missing",
    [
        ({"real_name": False, "complainant_name": None, "contact": None, "evidence": []}, "real name, contact details, evidence"),
        ({"real_name": False}, "real name"),
        ({"contact": None}, "contact details"),
        ({"evidence": []}, "evidence"),
    ],
)
def test_reports_must_be_real_name_with_contact_and_evidence(scenario, report, missing):
    """第十八条 实名举报，并提供佐证材料和联系方式."""
    scenario.admit("XX-1", "xinxiang")
    recorded = scenario.ledger.store.max_position()
    with pytest.raises(DomainError, match=rf"^新乡 第十八条: a report needs {missing}$"):
        scenario.report("XX-1", **report)
    assert scenario.ledger.store.max_position() == recorded


def test_a_real_name_report_is_accepted(scenario):
    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    assert scenario.ledger.load(Complaint, complaint_id).status == "filed"


@pytest.mark.parametrize("days_after_deadline, exits", [(-1, False), (0, False), (1, True), (2, True)])
def test_an_unanswered_report_exits_the_pool_after_its_deadline(scenario, days_after_deadline, exits):
    """第十八条 被举报服务商未按要求回复 … 退出服务商库; the deadline day itself is not yet overdue."""
    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    deadline = scenario.today + timedelta(days=15)
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)
    scenario.passed_deadlines(deadline + timedelta(days=days_after_deadline))

    provider = scenario.provider("XX-1")
    if exits:
        [unanswered] = provider.live_facts(COMPLAINT_UNANSWERED)
        assert unanswered.effective_on == deadline + timedelta(days=1)
        [exit_] = scenario.sanctions("XX-1")
        assert summary(exit_) == {
            "sanction": "pool_exit",
            "article": "第十八条",
            "pack_version": VERSION,
            "params": {},
            "evidence": [unanswered.ref],
        }
        assert exit_["effective_on"] == deadline + timedelta(days=1)
        assert provider.status == "removed"
        assert scenario.ledger.load(Complaint, complaint_id).status == "answer_overdue"
    else:
        assert provider.live_facts(COMPLAINT_UNANSWERED) == []
        assert scenario.sanctions("XX-1") == []
        assert provider.status == "in_pool"


def test_an_answered_report_is_not_overdue(scenario):
    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    deadline = scenario.today + timedelta(days=15)
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)
    scenario.on(deadline)
    scenario.run(m.RecordAnswer, complaint_id=complaint_id, summary="the listed prices are correct")
    scenario.passed_deadlines(deadline + timedelta(days=1))
    assert scenario.sanctions("XX-1") == []
    assert scenario.provider("XX-1").status == "in_pool"


@pytest.mark.parametrize("answered_after_deadline, exits", [(0, False), (1, True)])
def test_an_answer_after_the_deadline_is_not_the_answer_required(scenario, answered_after_deadline, exits):
    """第十八条 未按要求回复: answered late, before the scheduler ran, still counts as unanswered."""
    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    deadline = scenario.today + timedelta(days=15)
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)
    scenario.on(deadline + timedelta(days=answered_after_deadline))
    scenario.run(m.RecordAnswer, complaint_id=complaint_id, summary="late answer")
    provider = scenario.provider("XX-1")
    assert (provider.status == "removed") is exits
    assert len(provider.live_facts(COMPLAINT_UNANSWERED)) == int(exits)


def test_the_scheduler_cannot_run_ahead_of_the_clock(scenario):
    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    deadline = scenario.today + timedelta(days=15)
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)
    with pytest.raises(DomainError, match="future"):
        sweep(scenario.ledger, deadline + timedelta(days=1))
    with pytest.raises(DomainError, match="future"):
        scenario.run(m.RecordPassedDeadlines, provider_id="XX-1", complaint_ids=[complaint_id], as_of=deadline + timedelta(days=1))
    assert scenario.provider("XX-1").status == "in_pool"


@pytest.mark.parametrize(
    "declared, rated_on, warned",
    [
        (None, date(2025, 3, 1), False),  # the draft's date left blank, nothing declared
        ((date(2025, 3, 1), None), date(2025, 2, 28), False),  # before 发布之日
        ((date(2025, 3, 1), None), date(2025, 3, 1), True),
        ((date(2025, 1, 1), date(2025, 6, 30)), date(2025, 6, 30), True),  # 通过国家验收 on 2025-06-30
        ((date(2025, 1, 1), date(2025, 6, 30)), date(2025, 7, 1), False),
    ],
)
def test_no_sanction_outside_the_validity_window(bare_scenario, declared, rated_on, warned):
    """第二十条 自发布之日起施行，有效期至城市试点工作通过国家验收."""
    scenario = bare_scenario
    if declared is not None:
        scenario.run(m.DeclareRulebookValidity, jurisdiction="xinxiang", valid_from=declared[0], valid_until=declared[1], reference="notice")
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    project_id = scenario.project("XX-1", "E-1", on=date(2025, 2, 1))
    scenario.on(max(rated_on, scenario.today))
    scenario.rate(project_id, "XX-1", on=rated_on)

    assert [s["sanction"] for s in scenario.sanctions("XX-1")] == (["warning"] if warned else [])


def test_no_finding_applies_a_rulebook_whose_date_is_undeclared(bare_scenario):
    bare_scenario.admit("XX-1", "xinxiang")
    with pytest.raises(DomainError, match=r"^新乡 第二十条: the rulebook is not in force on 2025-03-01 \(its date of effect has not been declared\)$"):
        bare_scenario.finding("XX-1", "第十五条（三）")
    assert bare_scenario.sanctions("XX-1") == []


def test_a_disqualification_withholds_nothing_until_the_regulator_decides_an_amount(scenario):
    """第十六条 "视情况不予支付或扣除部分服务费用": the regulator's decision, with its amount, under the
    article the provider was disqualified by — not written on every disqualification."""
    scenario.admit("XX-1", "xinxiang")
    scenario.admit("XX-2", "xinxiang")
    with pytest.raises(DomainError, match=r"^新乡 第十六条（五）: provider XX-1 was not removed under 第十六条（五）; 新乡 第十六条 withholds fees only then$"):
        scenario.run(m.WithholdFees, provider_id="XX-1", amount="50000", reason="deduct", article="第十六条（五）")
    scenario.finding("XX-1", "第十六条（五）")
    provider = scenario.provider("XX-1")
    [disqualification] = scenario.sanctions("XX-1")
    assert (provider.status, provider.fees_withheld) == ("disqualified", [])
    assert "fees_withheld_or_deducted" not in disqualification["consequences"]
    with pytest.raises(DomainError, match=r"^新乡 第十六条（一）: provider XX-1 was not removed under 第十六条（一）; 新乡 第十六条 withholds fees only then$"):
        scenario.run(m.WithholdFees, provider_id="XX-1", amount="50000", reason="deduct", article="第十六条（一）")

    scenario.run(m.WithholdFees, provider_id="XX-1", amount="50000", reason="扣除部分服务费用", article="第十六条（五）")
    [withheld] = scenario.provider("XX-1").fees_withheld
    assert (withheld["amount"], withheld["citation"]["article"]) == ("50000", "第十六条（五）")


def test_an_enterprise_complaint_is_not_a_report(scenario):
    """第十八条 concerns real-name reports (举报) on the truth of a provider's information, with
    evidence and contact details; an enterprise's complaint (投诉) about its project needs neither,
    and leaving it unanswered is no 未按要求回复."""
    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.complaint("XX-1", "enterprise", contact=None, evidence=[])
    assert scenario.ledger.load(Complaint, complaint_id).nature == "complaint"
    deadline = scenario.today + timedelta(days=15)
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)
    scenario.passed_deadlines(deadline + timedelta(days=1))
    assert scenario.ledger.load(Complaint, complaint_id).status == "answer_overdue"
    assert scenario.sanctions("XX-1") == []
    assert scenario.provider("XX-1").status == "in_pool"


@pytest.mark.parametrize("jurisdiction, nature", [("xinxiang", "report"), ("tianjin", "complaint")])
def test_a_filing_stored_before_it_had_a_nature_keeps_its_meaning(scenario, jurisdiction, nature):
    """complaint.filed.v1 (no ``nature``) is upcast on read: Xinxiang handled every filing as a
    real-name report, the others as complaints — in the ledger (class_version) and on the wire."""
    import json

    from ledger import cloudevent, wire
    from ledger.store.base import RecordedEvent

    scenario.admit("P-1", jurisdiction)
    complaint_id = scenario.complaint("P-1", "public")
    [stored] = scenario.ledger.store.read_aggregate(Complaint.create_id(complaint_id))
    assert stored.topic == "complaint.filed.v2"
    state = json.loads(stored.state)
    for key in ("nature", "class_version"):
        state.pop(key)
    v1 = RecordedEvent(**{**stored.__dict__, "topic": "complaint.filed.v1", "state": json.dumps(state)})
    assert wire.decode(v1).mutate(None).nature == nature
    assert "nature" not in cloudevent.data_model("complaint.filed.v1").model_fields
    event_type, data = cloudevent.upcast("complaint.filed.v1", {"jurisdiction": jurisdiction})
    assert (event_type, data["nature"]) == ("complaint.filed.v2", nature)


@pytest.mark.parametrize("given, due", [({}, None), ({"deadline": date(2025, 3, 12), "answer_days": 10}, None), ({"answer_days": 10}, date(2025, 3, 11)), ({"deadline": date(2025, 3, 12)}, date(2025, 3, 12))])
def test_the_request_to_answer_a_report_sets_its_own_time(scenario, given, due):
    """第十八条 被举报服务商未按要求回复: the text names no period; the bureau's request gives one (a day, or
    days counted from the day after the request: 2025-03-01 + 10 = 03-11), the ledger supplies none."""
    from ledger.aggregates import Complaint

    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    recorded = scenario.ledger.store.max_position()
    if due is None:
        with pytest.raises(DomainError, match=r"^deadline: the request sets when the answer is due: give deadline or answer_days \(one of them\)$"):
            scenario.run(m.RequestAnswer, complaint_id=complaint_id, **given)
        assert scenario.ledger.store.max_position() == recorded
    else:
        scenario.run(m.RequestAnswer, complaint_id=complaint_id, **given)
        assert scenario.ledger.load(Complaint, complaint_id).answer_deadline == due


@pytest.mark.parametrize("asked_again_on, refused", [(date(2025, 3, 12), False), (date(2025, 3, 13), True)])
def test_a_request_may_move_a_running_deadline_but_not_one_that_passed(scenario, asked_again_on, refused):
    """第十八条 未按要求回复: the first request's deadline is 03-12. Asked again on the deadline day, the new
    deadline stands; asked again the day after, the report was already unanswered: refused, and an
    answer by the new date would not undo the exit."""
    from ledger.aggregates import Complaint

    scenario.admit("XX-1", "xinxiang")
    complaint_id = scenario.report("XX-1")
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=date(2025, 3, 12))
    scenario.on(asked_again_on)
    if refused:
        with pytest.raises(DomainError, match=r"answer was due 2025-03-12, which passed on 2025-03-13 unanswered: a new request cannot undo that$"):
            scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=date(2025, 3, 25), effective_on=asked_again_on)
    else:
        scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=date(2025, 3, 25), effective_on=asked_again_on)
    assert scenario.ledger.load(Complaint, complaint_id).answer_deadline == (date(2025, 3, 12) if refused else date(2025, 3, 25))


def test_a_request_dated_by_the_running_deadline_may_move_it_even_entered_after_the_sweep(scenario):
    """Asked again on 03-10 (the first deadline, 03-12, still running), entered after the sweep recorded
    the report unanswered on 03-13: the new deadline stands, and an answer by it undoes the exit. A
    complaint (投诉), or a report already answered, may be asked again whenever."""
    from ledger.aggregates import Complaint

    scenario.admit("XX-1", "xinxiang")
    report = scenario.report("XX-1")
    scenario.run(m.RequestAnswer, complaint_id=report, deadline=date(2025, 3, 12))
    scenario.passed_deadlines(date(2025, 3, 13))
    assert not scenario.provider("XX-1").in_pool
    scenario.on(date(2025, 3, 20))
    scenario.run(m.RequestAnswer, complaint_id=report, deadline=date(2025, 3, 25), effective_on=date(2025, 3, 10))
    scenario.run(m.RecordAnswer, complaint_id=report, summary="核实说明", effective_on=date(2025, 3, 20))
    assert scenario.provider("XX-1").in_pool
    scenario.run(m.RequestAnswer, complaint_id=report, deadline=date(2025, 4, 5))  # answered: asking again is no undoing

    complaint = scenario.complaint("XX-1", "enterprise", on=date(2025, 3, 1))
    scenario.run(m.RequestAnswer, complaint_id=complaint, deadline=date(2025, 3, 5), effective_on=date(2025, 3, 1))
    scenario.run(m.RequestAnswer, complaint_id=complaint, deadline=date(2025, 3, 30))
    assert scenario.ledger.load(Complaint, complaint).answer_deadline == date(2025, 3, 30)
