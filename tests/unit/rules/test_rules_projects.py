"""Projects: what their facts decide, dated from the facts, whatever order they are entered in.

唐山 第十四条 "服务商被清退或未通过验收的，不予支付服务费用，试点企业有权追回该项目预付款项"; 柳州 第十二条（四）
"改造成效与实施方案存在明显偏差，试点企业数字化转型改造后未能达到二级的" (one order per project); 新乡 第十五条（四）
"服务商服务通过验收，但试点企业满意度评价为“不满意”的" and "服务商未经报备即开展改造实施的".
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import Project
from ledger.commands import models as m
from ledger.rules.base import FILING_APPROVED_BY_START, IMPLEMENTED_BEFORE_FILING

# --- 唐山 第十四条 服务商被清退…不予支付服务费用，试点企业有权追回该项目预付款项 --------------------------


def _cleared_fees(scenario, project_id: str) -> list[dict]:
    project = scenario.ledger.load(Project, project_id)
    providers = {pid: scenario.provider(pid) for pid in project.provider_ids}
    return project.fees_after_clearance(providers, scenario.ledger.pack(project.jurisdiction))


def _prepaid_project(scenario, provider_id: str, enterprise_id: str, on: date) -> str:
    project_id = scenario.project(provider_id, enterprise_id, accepted=False, on=on)  # filed at a cost of 100000
    scenario.run(m.RecordPayment, project_id=project_id, kind="prepayment", amount="30000", provider_id=provider_id, effective_on=on)
    return project_id


def test_a_blacklisting_from_two_unsatisfied_ratings_leaves_the_open_project_unpaid(scenario):
    """第十三条（二） blacklists on 2-21: project A, prepaid 30000 of 100000 and not accepted, is not paid
    from that day and its prepayment is recoverable (the audit's repro_1)."""
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    pa = _prepaid_project(scenario, "TS-1", "E-1", date(2025, 2, 10))
    pb = scenario.project("TS-1", "E-2", on=date(2025, 2, 11))
    pc = scenario.project("TS-1", "E-3", on=date(2025, 2, 12))
    scenario.rate(pb, "TS-1", on=date(2025, 2, 20))
    scenario.rate(pc, "TS-1", on=date(2025, 2, 21))
    [blacklisting] = scenario.sanctions("TS-1")

    [fees] = _cleared_fees(scenario, pa)
    assert fees == {
        "provider_id": "TS-1",
        "grounds": "被清退",
        "removal_ref": blacklisting["ref"],
        "removal_article": "第十三条（二）",
        "effective_on": date(2025, 2, 21),
        "rescinded_on": None,
        "fees": "all service fees not yet paid",
        "amount": "70000",
        "prepayment_recoverable": "30000",
        "citation": fees["citation"],
    }
    assert (fees["citation"]["short"], fees["citation"]["article"]) == ("唐山", "第十四条")
    # the projects accepted before the clearance were earned: 被清退 does not reach back to them
    assert _cleared_fees(scenario, pb) == [] and _cleared_fees(scenario, pc) == []


@pytest.mark.parametrize("passed_days_after_the_clearance, unpaid", [(-1, False), (0, False), (1, True)])
@pytest.mark.parametrize("pass_entered_first", [True, False])
def test_only_a_project_not_accepted_by_the_clearance_goes_unpaid(scenario, passed_days_after_the_clearance, unpaid, pass_entered_first):
    """Accepted on or before the day the clearance took effect: paid; accepted after it: not paid — in
    either entry order."""
    cleared_on = date(2025, 3, 10)
    passed_on = cleared_on + timedelta(days=passed_days_after_the_clearance)
    scenario.on(date(2025, 4, 1))
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    project_id = _prepaid_project(scenario, "TS-1", "E-1", date(2025, 2, 10))
    steps = [
        lambda: scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=2, effective_on=passed_on),
        lambda: scenario.finding("TS-1", "第十三条（四）", on=cleared_on),
    ]
    for step in steps if pass_entered_first else reversed(steps):
        step()

    found = _cleared_fees(scenario, project_id)
    if unpaid:
        [fees] = found
        assert (fees["effective_on"], fees["removal_article"], fees["prepayment_recoverable"]) == (cleared_on, "第十三条（四）", "30000")
    else:
        assert found == []


def test_a_project_entered_after_the_clearance_but_dated_before_it_goes_unpaid(scenario):
    scenario.on(date(2025, 4, 1))
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.finding("TS-1", "第十三条（五）", on=date(2025, 3, 10))
    project_id = _prepaid_project(scenario, "TS-1", "E-1", date(2025, 2, 10))  # entered now, dated before

    [fees] = _cleared_fees(scenario, project_id)
    assert (fees["effective_on"], fees["amount"], fees["prepayment_recoverable"]) == (date(2025, 3, 10), "70000", "30000")


def test_a_clearance_rescinded_on_appeal_rescinds_its_fee_consequence(scenario):
    """第十六条（三） 被清退、纳入黑名单认定理由存在异议的: upheld, the project's fees are payable again from the decision."""
    scenario.on(date(2025, 4, 1))
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    project_id = _prepaid_project(scenario, "TS-1", "E-1", date(2025, 2, 10))
    blacklisting = scenario.finding("TS-1", "第十三条（六）", on=date(2025, 3, 10))
    [before] = _cleared_fees(scenario, project_id)
    assert before["rescinded_on"] is None

    scenario.appeal("TS-1", "第十六条（三）", blacklisting, on=date(2025, 3, 20))
    [after] = _cleared_fees(scenario, project_id)
    assert (after["effective_on"], after["rescinded_on"]) == (date(2025, 3, 10), date(2025, 3, 20))


def test_without_a_planned_cost_the_fees_are_named_without_a_figure(scenario):
    """唐山 has no filing step (新乡 第十二条（二）备案 is Xinxiang's): nothing gives the fees' sum."""
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.run(m.RegisterProject, project_id="P1", jurisdiction="tangshan", enterprise_id="E-1", enterprise_name="E-1 Co",
                 integrated_provider_id="TS-1", effective_on=date(2025, 2, 10))  # fmt: skip
    scenario.finding("TS-1", "第十三条（七）", on=date(2025, 2, 20))
    [fees] = _cleared_fees(scenario, "P1")
    assert (fees["fees"], fees["amount"], fees["prepayment_recoverable"]) == ("all service fees not yet paid", None, None)


def test_xinxiang_leaves_the_fees_of_a_disqualified_provider_to_the_regulator(scenario):
    """新乡 第十六条 "视情况不予支付或扣除部分服务费用": nothing follows from the disqualification by itself."""
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    project_id = _prepaid_project(scenario, "XX-1", "E-1", date(2025, 2, 10))
    scenario.finding("XX-1", "第十六条（五）", on=date(2025, 2, 20))
    assert _cleared_fees(scenario, project_id) == []


# --- 唐山 第十四条 未通过验收的，不予支付服务费用: no filing, no planned cost ---------------------------------


def _tangshan_project_without_filing(scenario) -> str:
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.run(m.RegisterProject, project_id="P1", jurisdiction="tangshan", enterprise_id="E-1", enterprise_name="E-1 Co",
                 integrated_provider_id="TS-1", effective_on=date(2025, 2, 10))  # fmt: skip
    scenario.run(m.RecordDiagnosis, project_id="P1", level_before=1, effective_on=date(2025, 2, 10))
    scenario.run(m.StartImplementation, project_id="P1", effective_on=date(2025, 2, 11))
    return "P1"


@pytest.mark.parametrize("prepaid", [False, True])
def test_a_failed_acceptance_without_a_planned_cost_records_all_fees_unpaid(scenario, prepaid):
    project_id = _tangshan_project_without_filing(scenario)
    if prepaid:
        scenario.run(m.RecordPayment, project_id=project_id, kind="prepayment", amount="30000", provider_id="TS-1", effective_on=date(2025, 2, 11))
    result = scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1, effective_on=date(2025, 2, 20))

    assert "project.fees-not-payable.v1" in result.events
    project = scenario.ledger.load(Project, project_id)
    [unpaid] = project.fees_not_payable
    assert (unpaid["grounds"], unpaid["amount"], unpaid["fees"], unpaid["on"], unpaid["citation"]["article"]) == (
        "未通过验收", None, "all service fees not yet paid", date(2025, 2, 20), "第十四条",
    )
    assert project.prepayment_recoverable == ("30000" if prepaid else None)
    assert [p for p in project.payments if p["kind"] == "fee_withheld"] == []  # no invented figure

    # passing the next batch ends 未通过验收: lifted
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=2, effective_on=date(2025, 2, 28))
    project = scenario.ledger.load(Project, project_id)
    assert (project.withholding_lifted, project.prepayment_recoverable) == ("all service fees not yet paid", None)


def test_only_xinxiang_has_a_filing_duty_to_break(scenario):
    """新乡 第十五条（四） 未经报备即开展改造实施: 唐山 names no filing (备案), so starting work is no fact there."""
    _tangshan_project_without_filing(scenario)
    provider = scenario.provider("TS-1")
    assert [f["kind"] for f in provider.facts.values()] == []
    event = [e for e in scenario.ledger.store.read_aggregate(Project.create_id("P1")) if e.topic == "project.implementation-started.v1"]
    from ledger.wire import decode_state

    assert decode_state(event[0])["before_approval"] is False


# --- 柳州 第十二条（四）: one order per enterprise's transformation ------------------------------------------


def test_a_project_below_level_two_at_two_acceptances_is_ordered_once(scenario):
    """Failed at level 1, passed the next batch at level 1: one 第十二条（四） order, and one unrelated order
    more is the second, not the third (第十四条（四） 限期整改超过2次)."""
    scenario.bureau_period("liuzhou", 30, on=date(2025, 1, 1))
    scenario.on(date(2025, 3, 1))
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    project_id = scenario.project("LZ-1", "E-1", accepted=False, on=date(2025, 2, 5))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1, effective_on=date(2025, 2, 10))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=1, effective_on=date(2025, 2, 25))
    [order] = scenario.sanctions("LZ-1")
    assert (order["citation"]["article"], order["effective_on"]) == ("第十二条（四）", date(2025, 2, 10))

    scenario.finding("LZ-1", "第十二条（三）", on=date(2025, 3, 1), deadline_days=20)
    assert [s["sanction"] for s in scenario.sanctions("LZ-1")] == ["rectification_order", "rectification_order"]
    assert scenario.provider("LZ-1").status == "in_pool"


def test_the_order_dates_from_the_earliest_acceptance_below_level_two_whatever_the_entry_order(scenario):
    scenario.on(date(2025, 3, 1))
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    project_id = scenario.project("LZ-1", "E-1", accepted=False, on=date(2025, 2, 5))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1, effective_on=date(2025, 2, 25))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1, effective_on=date(2025, 2, 10))
    [order] = scenario.sanctions("LZ-1")
    assert order["effective_on"] == date(2025, 2, 10)


def test_two_enterprises_below_level_two_are_two_orders(scenario):
    scenario.admit("LZ-1", "liuzhou")
    scenario.project("LZ-1", "E-1", level_after=1)
    scenario.project("LZ-1", "E-2", level_after=1)
    assert len(scenario.sanctions("LZ-1")) == 2


# --- 新乡 第十五条（四） 通过验收，但…“不满意”: the later of the two facts, in either order --------------------


@pytest.mark.parametrize("rated_days_after_the_pass", [-1, 0, 1])
@pytest.mark.parametrize("pass_entered_first", [True, False])
def test_unsatisfied_and_passed_warns_from_the_later_of_the_two(scenario, rated_days_after_the_pass, pass_entered_first):
    passed_on = date(2025, 4, 10)
    rated_on = passed_on + timedelta(days=rated_days_after_the_pass)
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    project_id = scenario.project("XX-1", "E-1", accepted=False, on=date(2025, 2, 5))
    scenario.on(date(2025, 5, 1))
    steps = [
        lambda: scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, effective_on=passed_on),
        lambda: scenario.run(m.RateSatisfaction, project_id=project_id, provider_id="XX-1", rating="不满意", effective_on=rated_on),
    ]
    for step in steps if pass_entered_first else reversed(steps):
        step()

    [warning] = scenario.sanctions("XX-1")
    assert (warning["rule_id"], warning["effective_on"]) == ("xinxiang.15.4.unsatisfied", max(passed_on, rated_on))


def test_unsatisfied_on_a_project_that_never_passed_warns_nobody(scenario):
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    project_id = scenario.project("XX-1", "E-1", accepted=False, on=date(2025, 2, 5))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, effective_on=date(2025, 2, 20))
    scenario.run(m.RateSatisfaction, project_id=project_id, provider_id="XX-1", rating="不满意", effective_on=date(2025, 2, 21))
    assert scenario.sanctions("XX-1") == []


# --- 新乡 第十五条（四） 未经报备即开展改造实施: judged against the approval's date, in either order --------------


@pytest.mark.parametrize("started_days_after_the_approval, warned", [(-1, True), (0, False), (1, False)])
@pytest.mark.parametrize("start_entered_first", [True, False])
def test_implementation_is_judged_against_the_day_the_filing_was_approved(scenario, started_days_after_the_approval, warned, start_entered_first):
    approved_on = date(2025, 2, 10)
    started_on = approved_on + timedelta(days=started_days_after_the_approval)
    scenario.admit("XX-1", "xinxiang", on=date(2025, 1, 20))
    scenario.run(m.RegisterProject, project_id="P", jurisdiction="xinxiang", enterprise_id="E", enterprise_name="E Co",
                 integrated_provider_id="XX-1", effective_on=date(2025, 2, 1))  # fmt: skip
    scenario.run(m.RecordDiagnosis, project_id="P", level_before=1, effective_on=date(2025, 2, 1))
    scenario.run(m.SubmitFiling, project_id="P", content="plan", cost="100000", effective_on=date(2025, 2, 3))
    steps = [
        lambda: scenario.run(m.StartImplementation, project_id="P", effective_on=started_on),
        lambda: scenario.run(m.DecideFiling, project_id="P", approved=True, effective_on=approved_on),
    ]
    for step in steps if start_entered_first else reversed(steps):
        step()

    provider = scenario.provider("XX-1")
    live = provider.live_facts(IMPLEMENTED_BEFORE_FILING)
    warnings = scenario.sanctions("XX-1")
    if warned:
        [warning] = warnings
        assert (warning["rule_id"], warning["effective_on"]) == ("xinxiang.15.4.before_filing", started_on)
    else:
        assert warnings == []
        # a warning recorded while the approval was not yet entered is rescinded as if never (from its own day)
        for s in scenario.sanctions("XX-1", active=False):
            assert s["rescinded_on"] == s["effective_on"] == started_on
        # the start noted before the approval was entered stays on record, contradicted by the approval
        contradicted = {f["data"]["contradicts"] for f in provider.facts.values() if f["kind"] == FILING_APPROVED_BY_START}
        assert {i.ref for i in live} == contradicted
