"""Lateness the record contradicts, and removals while out of the pool.

Bureaus enter history late: the scheduler may record an order overdue (or a report unanswered) before
the completion (or the answer) dated by its deadline is entered. Dates come from the facts: once the
record shows the work done in time, the lateness counts toward nothing and what was derived from it
is rescinded (柳州 第十四条（四） "未按时完成整改的", 新乡 第十六条（四） "在规定期限内仍未按照要求完成整改的",
新乡 第十八条 "被举报服务商未按要求回复"). And a sanction whose condition became true while the provider
was out of the pool takes effect no earlier than its reinstatement.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m


@pytest.mark.parametrize("days_after_the_deadline, stands", [(-1, False), (0, False), (1, True)])
def test_a_completion_dated_by_the_deadline_undoes_a_gray_listing_for_lateness(scenario, days_after_the_deadline, stands):
    """柳州 第十四条（四） 未按时完成整改的: the sweep gray-lists the day after the deadline; the completion,
    entered later, is dated the day before, on, or after the deadline."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 3, 1))
    scenario.on(date(2025, 3, 3))
    order = scenario.finding("LZ-1", "第十二条（一）", on=date(2025, 3, 3), deadline_days=10)
    deadline = scenario.provider("LZ-1").sanctions[order]["deadline"]
    scenario.passed_deadlines(deadline + timedelta(days=1))
    [gray] = [s for s in scenario.sanctions("LZ-1") if s["sanction"] == "gray_listing"]
    assert scenario.provider("LZ-1").status == "gray_listed"

    scenario.on(deadline + timedelta(days=5))
    scenario.run(m.CompleteRectification, provider_id="LZ-1", sanction_ref=order, effective_on=deadline + timedelta(days=days_after_the_deadline))

    provider = scenario.provider("LZ-1")
    if stands:
        assert provider.status == "gray_listed" and provider.sanctions[gray["ref"]]["rescinded_on"] is None
    else:
        # as if never: rescinded, and back in the pool, from the day it took effect; the reason says why
        assert provider.sanctions[gray["ref"]]["rescinded_on"] == gray["effective_on"]
        [rescission] = [e for e in scenario.ledger.store.read_aggregate(provider.id) if e.topic == "provider.sanction-rescinded.v1"]
        from ledger.wire import decode_state

        assert f"{order} was completed on {deadline + timedelta(days=days_after_the_deadline)}, by its deadline {deadline}" in decode_state(rescission)["reason"]
        assert (provider.status, provider.status_since) == ("reinstated", gray["effective_on"])
        assert provider.sanctions[order]["overdue_on"] is not None  # the sweep's record stays


@pytest.mark.parametrize("days_after_the_deadline, stands", [(0, False), (1, True)])
def test_a_report_answered_by_its_deadline_undoes_the_exit_for_no_answer(scenario, days_after_the_deadline, stands):
    """新乡 第十八条 被举报服务商未按要求回复…退出服务商库: an answer dated by the deadline, entered after
    the sweep recorded the report unanswered."""
    scenario.admit("XX-1", "xinxiang", on=date(2025, 3, 1))
    scenario.on(date(2025, 3, 5))
    complaint_id = scenario.report("XX-1", on=date(2025, 3, 5))
    deadline = date(2025, 3, 12)
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline, effective_on=date(2025, 3, 5))
    scenario.passed_deadlines(deadline + timedelta(days=1))
    [exit_] = [s for s in scenario.sanctions("XX-1") if s["sanction"] == "pool_exit"]
    assert exit_["effective_on"] == deadline + timedelta(days=1)

    scenario.on(date(2025, 3, 20))
    scenario.run(m.RecordAnswer, complaint_id=complaint_id, summary="核实说明", effective_on=deadline + timedelta(days=days_after_the_deadline))

    provider = scenario.provider("XX-1")
    assert (provider.sanctions[exit_["ref"]]["rescinded_on"] is None) is stands
    assert provider.in_pool is not stands


def test_a_disqualification_met_while_out_of_the_pool_takes_effect_at_the_reinstatement(scenario):
    """新乡 第十六条（一） 受到警告2次及以上的: W1 (a 不满意 after acceptance) and W2 disqualify on 3-15; a
    不满意 of 4-01 is given while disqualified; the appeal voiding W1's rating is upheld on 5-01. The
    warning of 4-01 and W2 disqualify again — from 5-01, the day the provider came back, not 4-01."""
    scenario.on(date(2025, 6, 1))
    scenario.admit("XX-1", "xinxiang", on=date(2025, 3, 1))
    first = scenario.unsatisfied("XX-1", "E-1", on=date(2025, 3, 10))
    project = scenario.project("XX-1", "E-3", on=date(2025, 3, 12))
    scenario.finding("XX-1", "第十五条（三）", on=date(2025, 3, 15))
    assert (scenario.provider("XX-1").status, scenario.provider("XX-1").status_since) == ("disqualified", date(2025, 3, 15))
    scenario.rate(project, "XX-1", on=date(2025, 4, 1))

    scenario.appeal("XX-1", "第十七条（二）", first.source, on=date(2025, 5, 1))

    provider = scenario.provider("XX-1")
    assert (provider.status, provider.status_since) == ("disqualified", date(2025, 5, 1))
    imposed_after_appeal = [s for s in scenario.sanctions("XX-1") if s["rescinded_on"] is None and s["effective_on"] >= date(2025, 4, 1)]
    assert [(s["sanction"], s["effective_on"]) for s in imposed_after_appeal] == [("warning", date(2025, 5, 1)), ("disqualification", date(2025, 5, 1))]


@pytest.fixture
def reinstated(scenario):
    """新乡: W1 (a 不满意 of 3-10) and W2 (3-15) disqualify on 3-15; the appeal voiding W1's rating is
    upheld on 5-01: back in the pool from 5-01 (out of it 3-15 … 4-30). Today 6-01."""
    scenario.on(date(2025, 6, 1))
    scenario.admit("XX-1", "xinxiang", on=date(2025, 3, 1))
    first = scenario.unsatisfied("XX-1", "E-1", on=date(2025, 3, 10))
    scenario.finding("XX-1", "第十五条（三）", on=date(2025, 3, 15))
    scenario.appeal("XX-1", "第十七条（二）", first.source, on=date(2025, 5, 1))
    assert (scenario.provider("XX-1").status, scenario.provider("XX-1").status_since) == ("reinstated", date(2025, 5, 1))
    return scenario


@pytest.mark.parametrize("found_on, refused", [(date(2025, 3, 14), False), (date(2025, 3, 15), True), (date(2025, 4, 30), True), (date(2025, 5, 1), False)])
def test_a_finding_may_not_concern_a_day_the_provider_was_out_of_the_pool(reinstated, found_on, refused):
    """A finding dated inside 3-15 … 4-30, entered after the reinstatement, is refused naming the removal."""
    if refused:
        with pytest.raises(DomainError, match=rf"^effective_on {found_on}: provider XX-1 was out of the pool that day \(disqualification .* from 2025-03-15, until 2025-05-01\)$"):
            reinstated.finding("XX-1", "第十六条（五）", on=found_on)
        assert reinstated.provider("XX-1").in_pool
    else:
        reinstated.finding("XX-1", "第十六条（五）", on=found_on)
        assert reinstated.provider("XX-1").status_since == found_on


def test_a_condition_met_while_in_the_pool_keeps_its_day_after_a_reinstatement(reinstated):
    """A 不满意 of 3-12 (in the pool then), entered after the reinstatement: its warning is dated 3-12,
    with its own deadline; it was not met while out of the pool, so nothing moves it."""
    project = reinstated.project("XX-1", "E-2", on=date(2025, 3, 5))
    reinstated.rate(project, "XX-1", on=date(2025, 3, 12))
    warnings = [s for s in reinstated.sanctions("XX-1") if s["sanction"] == "warning" and s["condition_on"] == date(2025, 3, 12)]
    assert [w["effective_on"] for w in warnings] == [date(2025, 3, 12)]


@pytest.mark.parametrize("valid_until, warned", [(date(2025, 4, 30), False), (date(2025, 5, 1), True)])
def test_a_decision_moved_to_the_reinstatement_is_checked_against_the_window_that_day(reinstated, valid_until, warned):
    """第二十条: a 不满意 given on 4-01, while disqualified, counts from the reinstatement of 5-01 — if
    the rulebook is still in force on 5-01."""
    project = reinstated.project("XX-1", "E-3", on=date(2025, 3, 12))
    reinstated.run(m.DeclareRulebookValidity, jurisdiction="xinxiang", valid_from=date(2025, 1, 1), valid_until=valid_until, reference="notice")
    reinstated.rate(project, "XX-1", on=date(2025, 4, 1))
    moved = [s for s in reinstated.sanctions("XX-1") if s["effective_on"] == date(2025, 5, 1) and s["sanction"] == "warning"]
    assert bool(moved) is warned


# --- the order facts are entered in: a removal entered first but dated later ---------------------------


@pytest.mark.parametrize("removal_first", [True, False])
def test_complaints_dated_before_a_removal_entered_first_remove_from_their_own_day(scenario, removal_first):
    """天津 第十二条（四） 被企业或其他服务商投诉3次或以上并核实确认属实的: complaints verified on 3-01, 3-02 and
    3-03 remove the provider from 3-03, whether the removal under 第十二条（1） dated 4-10 was entered
    before them or not. Entered first, it stands beside the earlier removal (the status keeps its
    name, since 3-03); entered last, it is refused: the provider was out of the pool on 4-10."""
    scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 20))
    scenario.on(date(2025, 4, 20))

    def complaints() -> None:
        for day in (1, 2, 3):
            scenario.verified_complaint("TJ-1", on=date(2025, 3, day))

    if removal_first:
        scenario.finding("TJ-1", "第十二条（1）", on=date(2025, 4, 10))
        complaints()
    else:
        complaints()
        with pytest.raises(DomainError, match=r"effective_on 2025-04-10: provider TJ-1 was out of the pool that day \(removal .* from 2025-03-03, since\)"):
            scenario.finding("TJ-1", "第十二条（1）", on=date(2025, 4, 10))
    removals = [(s["citation"]["article"], s["effective_on"]) for s in scenario.sanctions("TJ-1") if s["sanction"] == "removal"]
    assert removals == ([("第十二条（1）", date(2025, 4, 10)), ("第十二条（四）", date(2025, 3, 3))] if removal_first else [("第十二条（四）", date(2025, 3, 3))])
    provider = scenario.provider("TJ-1")
    assert (provider.status, provider.status_since) == ("removed", date(2025, 3, 3))


@pytest.mark.parametrize("verified_on, removed_on", [(date(2025, 4, 9), date(2025, 4, 9)), (date(2025, 4, 10), None)])
def test_a_fact_entered_late_counts_only_on_a_day_the_provider_was_in_the_pool(scenario, verified_on, removed_on):
    """The third complaint, entered after the 4-10 removal, dated the day before it removes from that
    day; dated on it, it is on record but the count it completes was met while the provider was out of
    the pool: nothing is derived."""
    scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 20))
    scenario.on(date(2025, 4, 20))
    scenario.finding("TJ-1", "第十二条（1）", on=date(2025, 4, 10))
    for day in (date(2025, 3, 1), date(2025, 3, 2)):
        scenario.verified_complaint("TJ-1", on=day)
    scenario.verified_complaint("TJ-1", on=verified_on)
    derived = [s["effective_on"] for s in scenario.sanctions("TJ-1") if s["citation"]["article"] == "第十二条（四）"]
    assert derived == ([removed_on] if removed_on else [])


@pytest.mark.parametrize("disqualified_on, overdue", [(date(2025, 3, 12), False), (date(2025, 3, 13), True), (date(2025, 4, 15), True)])
def test_a_deadline_that_passed_while_in_the_pool_is_overdue_after_a_later_removal(scenario, disqualified_on, overdue):
    """柳州: an order of 3-01 with 10 days is due 3-11, overdue from 3-12. A disqualification (第十五条) is
    entered before the sweep of 4-20. Dated after 3-12, the order was overdue while the provider was in
    the pool: recorded so, and 第十四条（四） 未按时完成整改的 gray-lists from 3-12, as a sweep run before
    the disqualification would have. Dated 3-12, the provider was out of the pool the day the order
    fell due: moot."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 20))
    scenario.on(date(2025, 3, 1))
    scenario.finding("LZ-1", "第十二条（一）", on=date(2025, 3, 1), deadline_days=10)
    scenario.on(date(2025, 4, 20))
    scenario.finding("LZ-1", "第十五条", on=disqualified_on)
    assert bool(scenario.passed_deadlines(date(2025, 4, 20)).results) is overdue
    gray = [(s["citation"]["article"], s["effective_on"]) for s in scenario.sanctions("LZ-1") if s["sanction"] == "gray_listing"]
    assert gray == ([("第十四条（四）", date(2025, 3, 12))] if overdue else [])
    provider = scenario.provider("LZ-1")
    assert (provider.status, provider.status_since) == ("disqualified", disqualified_on)  # the later removal's status stands


def test_two_standing_removals_the_status_is_the_latest_until_it_is_rescinded():
    """A removal dated before one already standing (facts entered late) keeps the later one's status;
    rescinding the later one leaves the earlier one's, from its day; rescinding that one too puts the
    provider back in the pool from that day (the engine records why, or the removal replacing it)."""
    from ledger.aggregates import Provider

    provider = Provider(provider_id="TS-1", jurisdiction="tangshan", name="n", kind="k", profile={}, eligibility={}, effective_on=date(2025, 2, 1))
    provider.admit(citation=None, effective_on=date(2025, 2, 10))

    def remove(sanction: str, on: date) -> str:
        provider.impose(
            sanction=sanction, rule_id="r", key=f"{sanction}@{on}", citation={"article": "a", "short": "s"}, pack_version="v",
            params={}, evidence=[], condition_on=on, deadline=None, consequences=[], derived=False, effective_on=on,
        )  # fmt: skip
        return [s["ref"] for s in provider.sanctions.values() if s["key"] == f"{sanction}@{on}"][0]

    later = remove("blacklisting", date(2025, 4, 10))
    earlier = remove("clearance", date(2025, 3, 3))
    assert (provider.status, provider.status_since) == ("blacklisted", date(2025, 4, 10))
    assert not provider.in_pool_on(date(2025, 3, 3)) and provider.in_pool_on(date(2025, 3, 2))
    provider.rescind(sanction_ref=later, reason="appeal", appeal_ref=None, effective_on=date(2025, 5, 1))
    assert (provider.status, provider.status_since) == ("removed", date(2025, 3, 3))
    provider.rescind(sanction_ref=earlier, reason="appeal", appeal_ref=None, effective_on=date(2025, 5, 2))
    assert (provider.status, provider.status_since) == ("reinstated", date(2025, 5, 2))
    assert provider.in_pool_on(date(2025, 5, 2)) and not provider.in_pool_on(date(2025, 5, 1))


# --- an exit, and a removal dated before it --------------------------------------------------------


def test_an_exit_is_not_undone_by_a_removal_dated_before_it_and_rescinded(scenario):
    """柳州: an order of 3-03 due 3-13; the provider withdraws on 3-18; the sweep of 3-25 finds the order
    overdue from 3-14 (第十四条（四） gray-lists from 3-14, while it was in the pool); the completion dated
    3-13, entered later, undoes the gray-listing — the provider has still left the pool on 3-18, it is
    not reinstated."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 3, 1))
    scenario.on(date(2025, 3, 25))
    order = scenario.finding("LZ-1", "第十二条（一）", on=date(2025, 3, 3), deadline_days=10)
    scenario.run(m.WithdrawFromPool, provider_id="LZ-1", reason="moving on", effective_on=date(2025, 3, 18))
    scenario.passed_deadlines(date(2025, 3, 25))
    provider = scenario.provider("LZ-1")
    assert (provider.status, provider.status_since, provider.exit_day) == ("gray_listed", date(2025, 3, 14), date(2025, 3, 18))
    scenario.run(m.CompleteRectification, provider_id="LZ-1", sanction_ref=order, effective_on=date(2025, 3, 13))
    provider = scenario.provider("LZ-1")
    assert (provider.status, provider.status_since) == ("exited", date(2025, 3, 18))
    assert not provider.in_pool_on(date(2025, 3, 18)) and provider.in_pool_on(date(2025, 3, 17))
    assert not [s for s in scenario.sanctions("LZ-1", active=False) if s["sanction"] == "reinstatement"]


@pytest.mark.parametrize("day, status", [(date(2025, 3, 2), ("in_pool", "2025-03-01")), (date(2025, 3, 10), ("blacklisted", "2025-03-03")),
                                         (date(2025, 3, 25), ("reinstated", "2025-03-20")), (date(2025, 4, 10), ("blacklisted", "2025-04-10"))])  # fmt: skip
def test_history_between_a_rescinded_removal_and_a_later_dated_one_shows_the_provider_back(scenario, day, status):
    """唐山: a blacklisting under 第十三条（五） dated 4-10 is entered first; 不满意 ratings of 3-01 and 3-03
    then blacklist from 3-03 (第十三条（二）); an appeal decided 3-20 voids the first rating. As in effect
    on 3-25 the provider was back in the pool (nothing was recorded reinstating it, since the 4-10
    blacklisting stood when the appeal was decided); from 4-10, blacklisted again."""
    from ledger.projections.history import standing_as_of

    scenario.admit("TS-1", "tangshan", on=date(2025, 3, 1))
    scenario.on(date(2025, 4, 20))
    projects = [scenario.project("TS-1", f"E-{i}", on=date(2025, 3, 1)) for i in (1, 2)]
    scenario.finding("TS-1", "第十三条（五）", on=date(2025, 4, 10))
    ratings = [scenario.rate(p, "TS-1", on=date(2025, 3, d)) for p, d in zip(projects, (1, 3), strict=True)]
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source, on=date(2025, 3, 20))
    assert scenario.provider("TS-1").in_pool_on(date(2025, 3, 25))
    found = standing_as_of(scenario.ledger, "TS-1", effective_at=day)
    assert (found["status"], found["status_since"]) == status
