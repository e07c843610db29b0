"""Dates come from the facts: deadlines run from the order, appeal outcomes take effect when the
appeal is decided, effective dates are bounded, and 民法典 第二百零三条 moves a last day off a holiday.

Every test runs on SQLite and on PostgreSQL (the ``scenario`` fixture)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from ledger.projections.history import standing_as_of
from ledger.rules.base import GRAY_LISTING, RECTIFICATION_OVERDUE


def _gray(scenario, provider_id: str) -> list[dict]:
    return [s for s in scenario.sanctions(provider_id) if s["sanction"] == GRAY_LISTING]


# --- deadlines run from the order ----------------------------------------------------------


@pytest.mark.parametrize("as_of, overdue", [(date(2025, 4, 2), False), (date(2025, 4, 3), True)])
def test_a_backdated_order_is_due_from_the_day_it_took_effect(scenario, as_of, overdue):
    """An order effective 2025-03-03 with 30 days is due 2025-04-02 — also when typed in on 2025-05-06."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    scenario.on(date(2025, 5, 6))
    ref = scenario.finding("LZ-1", "第十二条（一）", on=date(2025, 3, 3), deadline_days=30)
    order = scenario.provider("LZ-1").sanctions[ref]
    assert (order["effective_on"], order["deadline"]) == (date(2025, 3, 3), date(2025, 4, 2))

    scenario.run(m.RecordPassedDeadlines, provider_id="LZ-1", as_of=as_of)  # the deadline's day, or the day after
    gray = _gray(scenario, "LZ-1")
    assert bool(gray) is overdue
    if overdue:  # 柳州 第十四条（四）未按时完成整改的: effective the day after the deadline, not the day recorded
        [fact] = scenario.provider("LZ-1").live_facts(RECTIFICATION_OVERDUE)
        assert fact.effective_on == gray[0]["effective_on"] == date(2025, 4, 3)


def test_a_derived_order_runs_from_the_day_its_condition_was_met(scenario):
    """柳州 第十二条（四）: acceptance below level 2 on 2025-03-03 (a Monday), recorded in May: due 04-02,
    within the bureau's 30 days."""
    scenario.bureau_period("liuzhou", 30)
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    project_id = scenario.project("LZ-1", "E-1", accepted=False, on=date(2025, 2, 10))
    scenario.on(date(2025, 5, 6))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=1, effective_on=date(2025, 3, 3))
    [order] = scenario.sanctions("LZ-1")
    assert (order["citation"]["article"], order["effective_on"], order["deadline"]) == ("第十二条（四）", date(2025, 3, 3), date(2025, 4, 2))


# --- 民法典 第二百零三条: a last day on a statutory holiday ---------------------------------------


@pytest.mark.parametrize(
    "days, holidays, due",
    [
        (29, True, date(2025, 9, 30)),  # a Tuesday, before the holiday
        (30, True, date(2025, 10, 9)),  # 10-01 National Day; 10-01..10-08 off: the next working day
        (31, True, date(2025, 10, 9)),
        (30, False, date(2025, 10, 1)),  # the regulator switched the rule off
        (40, True, date(2025, 10, 11)),  # a Saturday, but a make-up working day (调休上班)
        (41, True, date(2025, 10, 13)),  # Sunday 10-12 is a day off: Monday
    ],
)
def test_the_last_day_of_a_period_moves_past_a_statutory_holiday(scenario, days, holidays, due):
    """A 30-day order given on 2025-09-01 ends on 2025-10-01 (第二百零一条: the first day is not counted),
    National Day: it is due on the next working day, 2025-10-09."""
    if not holidays:
        scenario.run(m.SetRulebookParameters, jurisdiction="liuzhou", params={"statutory_holidays": False}, reference="notice")
    scenario.admit("LZ-1", "liuzhou")
    scenario.on(date(2025, 9, 1))
    ref = scenario.finding("LZ-1", "第十二条（一）", deadline_days=days, exceptional_reason="long" if days > 30 else None)
    order = scenario.provider("LZ-1").sanctions[ref]
    assert order["deadline"] == due
    last_day = date(2025, 9, 1) + timedelta(days=days)
    if due != last_day:
        assert order["params"]["period_last_day"] == last_day.isoformat()
        assert order["params"]["moved_by"] == "民法典 第二百零三条"
    else:
        assert "period_last_day" not in order["params"]


@pytest.mark.parametrize("holidays", [True, False])
@pytest.mark.parametrize("days_after_deadline", [-1, 0, 1])
def test_overdue_the_day_after_the_moved_deadline(scenario, holidays, days_after_deadline):
    """The day before, on and after the deadline, with and without the holiday rule."""
    if not holidays:
        scenario.run(m.SetRulebookParameters, jurisdiction="liuzhou", params={"statutory_holidays": False}, reference="notice")
    scenario.admit("LZ-1", "liuzhou")
    scenario.on(date(2025, 9, 1))
    scenario.finding("LZ-1", "第十二条（一）", deadline_days=30)
    deadline = date(2025, 10, 9) if holidays else date(2025, 10, 1)
    scenario.passed_deadlines(deadline + timedelta(days=days_after_deadline))
    facts = scenario.provider("LZ-1").live_facts(RECTIFICATION_OVERDUE)
    if days_after_deadline < 1:
        assert facts == [] and _gray(scenario, "LZ-1") == []
    else:
        [fact] = facts
        assert fact.effective_on == deadline + timedelta(days=1)
        assert scenario.provider("LZ-1").status == "gray_listed"


def test_a_report_answer_period_moves_past_a_holiday_too(scenario):
    """新乡 第十八条: 15 days to answer a report asked on 2025-09-16 end 10-01 → 10-09."""
    scenario.admit("XX-1", "xinxiang")
    scenario.on(date(2025, 9, 16))
    complaint_id = scenario.report("XX-1")
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, answer_days=15)
    from ledger.aggregates import Complaint

    assert scenario.ledger.load(Complaint, complaint_id).answer_deadline == date(2025, 10, 9)


# --- appeal outcomes take effect when the appeal is decided ---------------------------------------


def _backdated_appeal(scenario):
    """TS-1 blacklisted by two 不满意 on 2025-03-03; the appeal, filed 03-10 and upheld 03-20, is
    entered on 2025-05-06 from the bureau's spreadsheet."""
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.on(date(2025, 5, 6))
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}", on=date(2025, 3, 3)) for i in (1, 2)]
    [blacklisting] = scenario.sanctions("TS-1")
    assert blacklisting["effective_on"] == date(2025, 3, 3)
    scenario.run(
        m.FileAppeal, appeal_id="A-1", provider_id="TS-1", ground="第十六条（二）", evidence_refs=[ratings[0].source],
        matter="不满意评价", reasons="the enterprise rated the wrong provider", purpose="void the rating",
        supporting_evidence=["the enterprise's letter of 2025-03-08"], effective_on=date(2025, 3, 10),
    )  # fmt: skip
    scenario.run(m.DecideAppeal, appeal_id="A-1", upheld=True, effective_on=date(2025, 3, 20))
    return blacklisting


def test_a_backdated_appeal_takes_effect_on_its_decision_date(scenario):
    blacklisting = _backdated_appeal(scenario)
    provider = scenario.provider("TS-1")
    assert provider.sanctions[blacklisting["ref"]]["rescinded_on"] == date(2025, 3, 20)
    assert (provider.status, provider.status_since) == ("reinstated", date(2025, 3, 20))
    for day, status in [(date(2025, 3, 2), "in_pool"), (date(2025, 3, 19), "blacklisted"), (date(2025, 3, 20), "reinstated")]:
        assert standing_as_of(scenario.ledger, "TS-1", effective_at=day)["status"] == status


def test_ledger_history_effective_at_shows_what_was_in_effect(scenario, database_url):
    """``ledger history ID --effective-at D`` (the command line, on this backend's database)."""
    _backdated_appeal(scenario)

    def history(day: str) -> dict:
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop("LEDGER_DATABASE_URL", None)
        out = subprocess.run(
            [sys.executable, "-m", "ledger", "history", "TS-1", "--effective-at", day, "-d", database_url, "--json"],
            capture_output=True, text=True, env=env, timeout=120, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)["standing"]

    assert history("2025-03-19")["status"] == "blacklisted"
    after = history("2025-03-21")
    assert (after["status"], after["status_since"]) == ("reinstated", "2025-03-20")


def test_a_rederived_sanction_is_dated_when_the_remaining_evidence_met_the_threshold(scenario):
    """Three 不满意 (03-03, 03-04, 03-05); the first voided on 03-20: the second and third blacklist,
    from 03-05, with no reinstatement in between."""
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.on(date(2025, 5, 6))
    projects = [scenario.project("TS-1", f"E-{d}", on=date(2025, 2, 10)) for d in (3, 4, 5)]
    ratings = [scenario.rate(p, "TS-1", on=date(2025, 3, d)) for p, d in zip(projects, (3, 4, 5))]
    [first] = scenario.sanctions("TS-1")
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source, on=date(2025, 3, 20))
    provider = scenario.provider("TS-1")
    [again] = scenario.sanctions("TS-1")
    assert provider.sanctions[first["ref"]]["rescinded_on"] == date(2025, 3, 20)
    assert (again["effective_on"], again["evidence"]) == (date(2025, 3, 5), [ratings[1].fact, ratings[2].fact])
    assert provider.status == "blacklisted"


# --- bounds on effective dates ------------------------------------------------------------------


def test_no_fact_takes_effect_in_the_future(scenario):
    scenario.admit("TS-1", "tangshan")
    with pytest.raises(DomainError, match=r"^effective_on 2025-03-02 is in the future \(today is 2025-03-01\)$"):
        scenario.finding("TS-1", "第十二条（一）", on=date(2025, 3, 2))
    scenario.finding("TS-1", "第十二条（一）", on=date(2025, 3, 1))  # today is fine


@pytest.mark.parametrize("day, accepted", [(date(2025, 2, 20), False), (date(2025, 2, 21), True)])
def test_no_fact_takes_effect_before_the_provider_applied(scenario, day, accepted):
    scenario.admit("TS-1", "tangshan")  # applied 2025-02-21
    file = scenario.command(
        m.FileComplaint, complaint_id="C-1", provider_id="TS-1", complainant_kind="enterprise", subject="late",
        enterprise_id="E-1", effective_on=day,
    )  # fmt: skip
    if accepted:
        scenario.ledger.execute(file)
    else:
        with pytest.raises(DomainError, match=r"^effective_on 2025-02-20 is before provider TS-1 applied \(2025-02-21\)$"):
            scenario.ledger.execute(file)


@pytest.mark.parametrize("day, accepted", [(date(2025, 2, 9), False), (date(2025, 2, 10), True)])
def test_no_rating_before_its_project_was_registered(scenario, day, accepted):
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    project_id = scenario.project("TS-1", "E-1", on=date(2025, 2, 10))
    rate = scenario.command(m.RateSatisfaction, project_id=project_id, provider_id="TS-1", rating="满意", effective_on=day)
    if accepted:
        scenario.ledger.execute(rate)
    else:
        with pytest.raises(DomainError, match=rf"^effective_on 2025-02-09 is before project {project_id} was registered \(2025-02-10\)$"):
            scenario.ledger.execute(rate)


def test_an_appeal_is_not_decided_before_it_was_filed_nor_filed_before_what_it_names(scenario):
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    rating = scenario.unsatisfied("TS-1", "E-1", on=date(2025, 2, 15))
    fields = {
        "appeal_id": "A-1", "provider_id": "TS-1", "ground": "第十六条（二）", "evidence_refs": [rating.source],
        "matter": "不满意", "reasons": "wrong provider", "purpose": "void it", "supporting_evidence": ["letter"],
    }  # fmt: skip
    with pytest.raises(DomainError, match=rf"^effective_on 2025-02-14 is before {rating.fact} took effect \(2025-02-15\)$"):
        scenario.run(m.FileAppeal, **fields, effective_on=date(2025, 2, 14))
    scenario.run(m.FileAppeal, **fields, effective_on=date(2025, 2, 16))
    with pytest.raises(DomainError, match=r"^effective_on 2025-02-15 is before appeal A-1 was filed \(2025-02-16\)$"):
        scenario.run(m.DecideAppeal, appeal_id="A-1", upheld=True, effective_on=date(2025, 2, 15))


@pytest.mark.parametrize("year, plausible", [(2023, False), (2024, True), (2025, True), (2026, False)])
def test_a_tianjin_score_is_of_the_year_it_is_made_or_the_year_before(scenario, year, plausible):
    """天津 第十一条 每年…评价评级: on 2025-03-01, a score of 2024 or 2025; not of 2026, nor of 2023."""
    scenario.admit("TJ-1", "tianjin")
    score = scenario.command(m.RecordScore, provider_id="TJ-1", year=year, score=90)
    if plausible:
        scenario.ledger.execute(score)
    else:
        with pytest.raises(DomainError, match=rf"^year {year} is not plausible .* on 2025-03-01 \(effective_on\)"):
            scenario.ledger.execute(score)
