"""Facts judged on their own dates, whatever order they are entered in.

A bureau enters history late and in any order: a verdict before or after the scheduler ran, a
refusal before or after the sweep, a removal before an earlier exit, a corrected evaluation after
the clearance it undoes. Each test enters the same facts in both orders (or at the boundary day and
the days beside it) and expects one outcome.
"""
from __future__ import annotations

from datetime import date

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from tests.integration.scenario import credit_code_for


def _standing(scenario, provider_id: str) -> tuple[str, date, list[tuple[str, str, date]]]:
    """The provider's status, its day, and its live sanctions (kind, article, day), in date order."""
    provider = scenario.provider(provider_id)
    live = sorted((s["sanction"], s["citation"]["article"], s["effective_on"]) for s in scenario.sanctions(provider_id))
    return ("in_pool" if provider.in_pool else provider.status), provider.status_since if not provider.in_pool else provider.admitted_on, live


# --- 新乡 第十八条 被举报服务商未按要求回复…退出服务商库 ---------------------------------------------

ANSWER_DUE = date(2025, 4, 11)


@pytest.mark.parametrize("sweep_first", [True, False])
@pytest.mark.parametrize(
    "verified_on, exits",
    [(date(2025, 4, 10), False), (ANSWER_DUE, False), (date(2025, 4, 12), True), (date(2025, 4, 20), True)],
)
def test_a_report_unanswered_by_its_deadline_exits_whether_the_verdict_came_before_the_sweep_or_not(scenario, sweep_first, verified_on, exits):
    """An answer due 4-11 never given. A verdict dated after the deadline does not undo the lateness:
    the provider exits from 4-12 whether the scheduler ran before the verdict was entered or not. A
    verdict dated by the deadline ends the verification (及时向被举报服务商核实) before the answer was due:
    nothing was left to answer, in either order."""
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    scenario.on(date(2025, 4, 25))
    complaint_id = scenario.report("XX-1", on=date(2025, 4, 1))
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=ANSWER_DUE, effective_on=date(2025, 4, 1))
    if sweep_first:
        scenario.run(m.RecordPassedDeadlines, provider_id="XX-1", complaint_ids=[complaint_id], as_of=date(2025, 4, 15))
    scenario.run(m.VerifyComplaint, complaint_id=complaint_id, verdict="unfounded", effective_on=verified_on)
    scenario.passed_deadlines(date(2025, 4, 25))

    status, since, live = _standing(scenario, "XX-1")
    if exits:
        assert (status, since, live) == ("removed", date(2025, 4, 12), [("pool_exit", "第十八条", date(2025, 4, 12))])
    else:
        assert (status, live) == ("in_pool", [])


@pytest.mark.parametrize("answered_on, exits", [(ANSWER_DUE, False), (date(2025, 4, 12), True)])
def test_an_answer_dated_before_the_verdict_is_recorded_after_it(scenario, answered_on, exits):
    """The verdict dated 4-20 is entered first (the lateness is recorded from 4-12); the answer, dated
    before the verdict, entered after it: dated by its deadline it undoes the exit, as it would have
    entered before the verdict; dated after the deadline it changes nothing. An answer dated after the
    verdict is refused."""
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    scenario.on(date(2025, 4, 25))
    complaint_id = scenario.report("XX-1", on=date(2025, 4, 1))
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=ANSWER_DUE, effective_on=date(2025, 4, 1))
    scenario.run(m.VerifyComplaint, complaint_id=complaint_id, verdict="unfounded", effective_on=date(2025, 4, 20))
    with pytest.raises(DomainError, match=r"^complaint .* was already verified \(unfounded\) on 2025-04-20"):
        scenario.run(m.RecordAnswer, complaint_id=complaint_id, summary="核实说明", effective_on=date(2025, 4, 21))
    scenario.run(m.RecordAnswer, complaint_id=complaint_id, summary="核实说明", effective_on=answered_on)
    status, since, live = _standing(scenario, "XX-1")
    assert (status == "removed") is exits
    assert live == ([("pool_exit", "第十八条", date(2025, 4, 12))] if exits else [])


# --- 新乡 第十六条（四） 在规定期限内仍未按照要求完成整改的 / （二） 受到警告拒不进行整改的 --------------------

WARNING_DUE = date(2025, 3, 11)  # a 第十五条（四） contract warning of 3-01 with 10 days


@pytest.mark.parametrize("sweep_first", [True, False])
@pytest.mark.parametrize(
    "refused_on, article, since",
    [
        (date(2025, 3, 10), "第十六条（二）", date(2025, 3, 10)),
        (WARNING_DUE, "第十六条（二）", WARNING_DUE),
        (date(2025, 3, 12), "第十六条（四）", date(2025, 3, 12)),
        (date(2025, 3, 20), "第十六条（四）", date(2025, 3, 12)),
    ],
)
def test_a_refusal_and_the_lateness_of_one_warning_decide_by_their_days_in_either_order(scenario, sweep_first, refused_on, article, since):
    """The warning is due 3-11. Refused by then, the refusal disqualifies (第十六条（二）) from its day;
    refused later, the warning was overdue first and 第十六条（四） disqualifies from 3-12 (the refusal is
    recorded but counts toward nothing while that disqualification stands). The same whether the
    scheduler ran before the refusal was entered or after."""
    scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    order = scenario.finding("XX-1", "第十五条（四）", on=date(2025, 3, 1), deadline_days=10)
    assert scenario.provider("XX-1").sanctions[order]["deadline"] == WARNING_DUE
    scenario.on(date(2025, 4, 1))
    if sweep_first:
        scenario.run(m.RecordPassedDeadlines, provider_id="XX-1", as_of=date(2025, 3, 15))
    scenario.run(m.RecordRectificationRefusal, provider_id="XX-1", sanction_ref=order, effective_on=refused_on)
    scenario.passed_deadlines(date(2025, 4, 1))

    status, on, live = _standing(scenario, "XX-1")
    assert (status, on) == ("disqualified", since)
    assert live == [("disqualification", article, since), ("warning", "第十五条（四）", date(2025, 3, 1))]
    assert scenario.provider("XX-1").sanctions[order]["refused_on"] == refused_on


@pytest.mark.parametrize("sweep_first", [True, False])
@pytest.mark.parametrize("refused_on, since", [(date(2025, 3, 13), date(2025, 3, 13)), (date(2025, 3, 14), date(2025, 3, 14)), (date(2025, 3, 15), date(2025, 3, 14))])
def test_liuzhou_gray_lists_on_the_refusal_or_the_lateness_whichever_came_first(scenario, sweep_first, refused_on, since):
    """柳州 第十四条（四） 限期拒不进行整改的，未按时完成整改的: an order of 3-03 due 3-13. Refused by then, the
    gray-listing is from the refusal; refused after, from 3-14 (overdue), in either order of entry."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 3, 1))
    scenario.on(date(2025, 3, 3))
    order = scenario.finding("LZ-1", "第十二条（一）", on=date(2025, 3, 3), deadline_days=10)
    assert scenario.provider("LZ-1").sanctions[order]["deadline"] == date(2025, 3, 13)
    scenario.on(date(2025, 4, 1))
    if sweep_first:
        scenario.run(m.RecordPassedDeadlines, provider_id="LZ-1", as_of=date(2025, 3, 20))
    scenario.run(m.RecordRectificationRefusal, provider_id="LZ-1", sanction_ref=order, effective_on=refused_on)
    scenario.passed_deadlines(date(2025, 4, 1))

    status, on, live = _standing(scenario, "LZ-1")
    assert (status, on) == ("gray_listed", since)
    assert [s for s in live if s[0] == "gray_listing"] == [("gray_listing", "第十四条（四）", since)]


# --- 天津 第十条 公示期满无异议的纳入 -------------------------------------------------------------------

NOTICE_OPENED, NOTICE_LAST_DAY = date(2025, 3, 1), date(2025, 3, 7)


def _under_notice(scenario) -> None:
    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"),
                 kind="云服务商", effective_on=date(2025, 2, 20))  # fmt: skip
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1", effective_on=NOTICE_OPENED)


@pytest.mark.parametrize("raised_on, admitted", [(date(2025, 3, 6), False), (NOTICE_LAST_DAY, False), (date(2025, 3, 8), True), (date(2025, 3, 9), True)])
def test_only_an_objection_raised_during_the_notice_keeps_the_provider_out(scenario, raised_on, admitted):
    """The notice ran 3-01..3-07. An upheld objection raised on the last day refuses admission; one
    dated after it, recorded before the notice is closed, does not count: admitted from 3-08."""
    _under_notice(scenario)
    scenario.on(date(2025, 3, 10))
    scenario.run(m.RaiseObjection, provider_id="TJ-1", objection_id="O-1", raised_by="someone", grounds="late", effective_on=raised_on)
    scenario.run(m.ResolveObjection, provider_id="TJ-1", objection_id="O-1", stands=True, reasons="upheld")
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=NOTICE_LAST_DAY)
    provider = scenario.provider("TJ-1")
    assert (provider.status, provider.status_since) == (("in_pool" if admitted else "refused"), date(2025, 3, 8))


def test_an_objection_dated_after_the_last_day_need_not_be_resolved_to_close(scenario):
    _under_notice(scenario)
    scenario.on(date(2025, 3, 10))
    scenario.run(m.RaiseObjection, provider_id="TJ-1", objection_id="O-1", raised_by="someone", grounds="late", effective_on=date(2025, 3, 8))
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=NOTICE_LAST_DAY)
    assert (scenario.provider("TJ-1").status, scenario.provider("TJ-1").admitted_on) == ("in_pool", date(2025, 3, 8))


@pytest.mark.parametrize("raised_on", [date(2025, 3, 8), date(2025, 3, 9)])
def test_an_objection_dated_after_the_last_day_of_a_closed_notice_is_refused(scenario, raised_on):
    _under_notice(scenario)
    scenario.on(date(2025, 3, 10))
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=NOTICE_LAST_DAY)
    with pytest.raises(DomainError, match=rf"^effective_on {raised_on} is after the public notice's last day \({NOTICE_LAST_DAY}\): 天津 第十条"):
        scenario.run(m.RaiseObjection, provider_id="TJ-1", objection_id="O-1", raised_by="someone", grounds="late", effective_on=raised_on)
    assert scenario.provider("TJ-1").status == "in_pool"


# --- 天津 第十二条（八） 主动退出资源池的 ------------------------------------------------------------------


@pytest.mark.parametrize("withdrawn_on, recorded", [(date(2025, 4, 1), True), (date(2025, 4, 30), True), (date(2025, 5, 1), False)])
def test_a_withdrawal_dated_before_a_removal_entered_first_is_recorded(scenario, withdrawn_on, recorded):
    """A removal under 第十二条（七） dated 5-01 is entered first. A withdrawal dated before it was made while
    the provider was in the pool: recorded, the provider has left from that day, and the removal, dated
    after it left, is rescinded from its own day (as a finding dated after an exit is refused). Dated
    5-01, the provider was out of the pool that day: refused, naming the removal."""
    scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 1))
    scenario.on(date(2025, 6, 1))
    removal = scenario.finding("TJ-1", "第十二条（七）", on=date(2025, 5, 1))
    if not recorded:
        with pytest.raises(DomainError, match=r"^effective_on 2025-05-01: provider TJ-1 was out of the pool that day \(removal .* from 2025-05-01, since\)$"):
            scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="left", effective_on=withdrawn_on)
        assert _standing(scenario, "TJ-1")[:2] == ("removed", date(2025, 5, 1))
        return
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="left", effective_on=withdrawn_on)
    provider = scenario.provider("TJ-1")
    assert (provider.status, provider.status_since, provider.exit_day) == ("exited", withdrawn_on, withdrawn_on)
    assert provider.sanctions[removal]["rescinded_on"] == date(2025, 5, 1)
    assert scenario.sanctions("TJ-1") == []


@pytest.mark.parametrize("exit_first", [True, False])
def test_an_exit_and_a_later_removal_end_the_same_in_either_order(scenario, exit_first):
    """The exit of 4-01 and complaints verified 4-10, 4-11, 4-12 (第十二条（四） would remove from 4-12)."""
    scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 1))
    scenario.on(date(2025, 6, 1))

    def exit_() -> None:
        scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="left", effective_on=date(2025, 4, 1))

    if exit_first:
        exit_()
    for day in (10, 11, 12):
        scenario.verified_complaint("TJ-1", on=date(2025, 4, day))
    if not exit_first:
        assert _standing(scenario, "TJ-1")[:2] == ("removed", date(2025, 4, 12))
        exit_()
    provider = scenario.provider("TJ-1")
    assert (provider.status, provider.status_since) == ("exited", date(2025, 4, 1))
    assert scenario.sanctions("TJ-1") == []
    # an exit bars nothing: the entity may apply again
    scenario.run(m.SubmitApplication, provider_id="TJ-2", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")


# --- 省指南 四（三） a year's later verdict, after the clearance the earlier derived ---------------------


@pytest.fixture
def cleared(scenario):
    """2025 and 2026 evaluated unqualified: cleared on 2026-12-15 (四（三） 连续两年评价为不合格)."""
    scenario.admit("PV-1", "province", on=date(2025, 3, 1))
    scenario.on(date(2025, 12, 15))
    scenario.run(m.RecordEvaluation, provider_id="PV-1", year=2025, qualified=False)
    scenario.on(date(2026, 12, 15))
    scenario.run(m.RecordEvaluation, provider_id="PV-1", year=2026, qualified=False)
    assert _standing(scenario, "PV-1")[:2] == ("removed", date(2026, 12, 15))
    scenario.on(date(2027, 1, 20))
    return scenario


def test_a_corrected_evaluation_after_the_clearance_rescinds_it(cleared):
    """The province re-evaluates 2026 as qualified on 2027-01-20: the year's verdict is replaced and the
    clearance it derived is rescinded from that day (as a replaced verdict's is), the provider back."""
    [clearance] = cleared.sanctions("PV-1")
    cleared.run(m.RecordEvaluation, provider_id="PV-1", year=2026, qualified=True)
    provider = cleared.provider("PV-1")
    assert provider.sanctions[clearance["ref"]]["rescinded_on"] == date(2027, 1, 20)
    assert (provider.status, provider.status_since) == ("reinstated", date(2027, 1, 20))


@pytest.mark.parametrize("year", [2027])
def test_a_first_evaluation_of_a_year_while_cleared_is_refused(cleared, year):
    with pytest.raises(DomainError, match=r"^effective_on 2027-01-20: provider PV-1 was out of the pool that day \(clearance"):
        cleared.run(m.RecordEvaluation, provider_id="PV-1", year=year, qualified=True)


def test_a_corrected_score_after_the_removal_rescinds_it(scenario):
    """天津 第十一条/第十二条（2）: a D of 2025 removes on 2025-06-02; the score corrected to 85 on 2025-07-01."""
    scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 1))
    scenario.on(date(2025, 7, 1))
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2025, score=50, effective_on=date(2025, 6, 2))
    assert _standing(scenario, "TJ-1")[:2] == ("removed", date(2025, 6, 2))
    with pytest.raises(DomainError, match="was out of the pool that day"):
        scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=85)  # no verdict of 2024 to correct
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2025, score=85)
    provider = scenario.provider("TJ-1")
    assert (provider.status, provider.status_since) == ("reinstated", date(2025, 7, 1))
    assert scenario.sanctions("TJ-1") == []


def test_a_refusal_of_admission_names_the_objections_it_did_not_count(scenario):
    _under_notice(scenario)
    scenario.on(date(2025, 3, 10))
    for objection_id, raised_on in (("O-1", NOTICE_LAST_DAY), ("O-2", date(2025, 3, 8))):
        scenario.run(m.RaiseObjection, provider_id="TJ-1", objection_id=objection_id, raised_by="someone", grounds="g", effective_on=raised_on)
        scenario.run(m.ResolveObjection, provider_id="TJ-1", objection_id=objection_id, stands=True, reasons="upheld")
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=NOTICE_LAST_DAY)
    from ledger.wire import decode_state

    provider = scenario.provider("TJ-1")
    [refusal] = [e for e in scenario.ledger.store.read_aggregate(provider.id) if e.topic == "provider.admission-refused.v1"]
    assert decode_state(refusal)["reason"] == "objection(s) O-1 stand; raised after the last day, not counted: O-2 (raised 2025-03-08)"


def test_a_second_withdrawal_is_refused_naming_the_first(scenario):
    scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 1))
    scenario.on(date(2025, 6, 1))
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="left", effective_on=date(2025, 5, 1))
    with pytest.raises(DomainError, match=r"^provider TJ-1 already left the pool on 2025-05-01$"):
        scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="left", effective_on=date(2025, 4, 1))
