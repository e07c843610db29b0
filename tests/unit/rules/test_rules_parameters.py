"""A regulator's parameter change (SetRulebookParameters) takes effect from its own day, never earlier.

Dates come from the facts: a threshold, a period or a grade band the regulator changes on a day
applies to what happens from that day on — a fact entered after the change but dated before it is
judged by the parameters in force on its day; a count is judged on each day with the threshold of
that day, the whole record counting (a lowered threshold never dates a sanction before its own day,
and earlier facts count with later ones)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.commands import models as m

CHANGED = date(2025, 6, 1)
ORDERS = ["第十二条（一）", "第十二条（二）", "第十二条（三）", "第十二条（五）"]


@pytest.fixture
def lowered(scenario):
    """唐山 第十三条（一） 限期整改超过 2 次, lowered by the bureau to 超过 1 次 from 2025-06-01; today 2025-06-20."""
    scenario.admit("TS-1", "tangshan", on=date(2025, 3, 1))
    scenario.on(date(2025, 6, 20))
    scenario.run(m.SetRulebookParameters, jurisdiction="tangshan", params={"rectification_orders": 1}, reference="notice", effective_on=CHANGED)
    return scenario


@pytest.mark.parametrize(
    "before, after, blacklisted_on, threshold",
    [
        (2, 0, None, None),  # entered late: judged by 超过 2 次, in force in March
        (3, 0, date(2025, 3, 3), 2),  # the third March order, under the document's number
        (1, 0, None, None),
        (1, 1, date(2025, 6, 1), 1),  # the June order makes two: more than 1, in force that day
        (2, 1, date(2025, 6, 1), 1),  # the March orders count too; the June one completes the count
        (0, 1, None, None),
        (0, 2, date(2025, 6, 2), 1),
    ],
)
def test_a_lowered_threshold_judges_the_days_from_its_own_on(lowered, before, after, blacklisted_on, threshold):
    """The whole record counts; each day is judged by the threshold in force that day. March's two
    orders were not 超过 2 次 in March and never become a March blacklisting; an order after the change
    is judged by 超过 1 次, counting the March ones with it."""
    days = [date(2025, 3, 1 + i) for i in range(before)] + [CHANGED + timedelta(days=i) for i in range(after)]
    refs = [lowered.finding("TS-1", ORDERS[i], on=day, deadline_days=10) for i, day in enumerate(days)]
    blacklistings = [s for s in lowered.sanctions("TS-1") if s["sanction"] == "blacklisting"]
    if blacklisted_on is None:
        assert blacklistings == []
        assert lowered.provider("TS-1").in_pool
        return
    [blacklisting] = blacklistings
    assert (blacklisting["effective_on"], blacklisting["params"]) == (blacklisted_on, {"rectification_orders": threshold})
    assert blacklisting["evidence"] == refs


@pytest.mark.parametrize("back_on, blacklisted_on", [(date(2025, 7, 1), date(2025, 7, 1)), (None, date(2025, 6, 2))])
def test_a_threshold_set_back_to_the_documents_counts_on(lowered, back_on, blacklisted_on):
    """超过 1 次 from June; set back to 超过 2 次 from July: one March order and one on 06-02 blacklist on
    06-02 (more than 1 that day); set back first, a July order makes three, more than 2 on 07-01."""
    if back_on is not None:
        lowered.on(date(2025, 7, 5))
        lowered.run(m.SetRulebookParameters, jurisdiction="tangshan", params={"rectification_orders": 2}, reference="notice", effective_on=back_on)
    lowered.finding("TS-1", ORDERS[0], on=date(2025, 3, 1), deadline_days=10)
    if back_on is None:
        lowered.finding("TS-1", ORDERS[1], on=date(2025, 6, 2), deadline_days=10)
    else:
        lowered.finding("TS-1", ORDERS[1], on=date(2025, 5, 20), deadline_days=10)  # before any change: 2 orders, not more than 2
        assert lowered.provider("TS-1").in_pool
        lowered.finding("TS-1", ORDERS[2], on=date(2025, 7, 1), deadline_days=10)
    [blacklisting] = [s for s in lowered.sanctions("TS-1") if s["sanction"] == "blacklisting"]
    assert blacklisting["effective_on"] == blacklisted_on


@pytest.mark.parametrize("rated_on, deadline", [(CHANGED - timedelta(days=1), date(2025, 6, 30)), (CHANGED, date(2025, 6, 23))])
def test_a_derived_warnings_period_follows_the_day_it_took_effect(scenario, rated_on, deadline):
    """新乡 第十五条（四） 通过验收，但…“不满意”: the ledger derives the warning, with the bureau's period
    (warning_rectification_days), 30 → 20 from 2025-06-01. A rating of 2025-05-31, entered after the
    change, keeps 30 days (due 2025-06-30); one of 2025-06-01 gets 20 (2025-06-21, a Saturday: due
    Monday 23)."""
    scenario.bureau_period("xinxiang", 30)
    scenario.admit("XX-1", "xinxiang", on=date(2025, 3, 1))
    scenario.on(date(2025, 6, 10))
    scenario.run(m.SetRulebookParameters, jurisdiction="xinxiang", params={"warning_rectification_days": 20}, reference="notice", effective_on=CHANGED)
    scenario.unsatisfied("XX-1", "E-1", on=rated_on)
    [warning] = scenario.sanctions("XX-1")
    assert (warning["effective_on"], warning["deadline"]) == (rated_on, deadline)


@pytest.mark.parametrize("scored_on, grade", [(CHANGED - timedelta(days=1), "C"), (CHANGED, "B")])
def test_a_score_is_graded_by_the_bands_of_its_day(scenario, scored_on, grade):
    """天津 第十一条 70 分以上为 B: lowered to 65 from 2025-06-01; a 67 dated the day before is C (removed)."""
    scenario.admit("TJ-1", "tianjin", on=date(2025, 3, 1))
    scenario.on(date(2025, 6, 10))
    scenario.run(m.SetRulebookParameters, jurisdiction="tianjin", params={"grade_b_min": 65}, reference="notice", effective_on=CHANGED)
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2025, score=67, effective_on=scored_on)
    [score] = [f for f in scenario.provider("TJ-1").facts.values() if f["kind"] == "score"]
    assert score["data"]["grade"] == grade
    assert scenario.provider("TJ-1").in_pool is (grade == "B")


def test_a_rulebook_state_from_before_dated_changes_keeps_its_parameters_at_the_next_change():
    """A snapshot taken before the Rulebook kept its changes apart holds only ``params``: those stand
    from the start, and the next change is dated."""
    from ledger.aggregates import Rulebook

    rulebook = Rulebook(jurisdiction="tangshan", effective_on=date(2025, 1, 1))
    rulebook.set_parameters(params={"rectification_orders": 1}, reference="old notice", effective_on=date(2025, 2, 1))
    del rulebook.__dict__["parameter_changes"]  # as a state snapshotted before the list existed
    assert rulebook.changes() == [(date.min, {"rectification_orders": 1})]
    rulebook.set_parameters(params={"unsatisfied_ratings": 3}, reference="notice", effective_on=CHANGED)
    assert rulebook.changes() == [(date.min, {"rectification_orders": 1}), (CHANGED, {"unsatisfied_ratings": 3})]


def test_voiding_the_order_that_completed_a_count_under_a_lowered_threshold_rescinds_what_it_completed(lowered):
    """超过 1 次 from June: orders of 03-01, 03-02 and 06-02 blacklist on 06-02. An appeal (唐山 第十六条（一）)
    voids the June order: the two March orders were never more than 2 in March, so the blacklisting goes."""
    refs = [lowered.finding("TS-1", ORDERS[i], on=day, deadline_days=10) for i, day in enumerate([date(2025, 3, 1), date(2025, 3, 2), date(2025, 6, 2)])]
    [blacklisting] = [s for s in lowered.sanctions("TS-1") if s["sanction"] == "blacklisting"]
    assert blacklisting["effective_on"] == date(2025, 6, 2)
    lowered.appeal("TS-1", "第十六条（一）", refs[2], on=date(2025, 6, 15))
    assert lowered.provider("TS-1").sanctions[blacklisting["ref"]]["rescinded_on"] == date(2025, 6, 15)
    assert lowered.provider("TS-1").in_pool
