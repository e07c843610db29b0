"""天津市制造业数字化转型服务商管理规范（试行）: every counted threshold at its boundary."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from ledger.rules.base import SCORE
from ledger.standing import standing
from tests.integration.scenario import credit_code_for, summary

VERSION = "tianjin-2023.1"


@pytest.mark.parametrize(
    "score, grade, removed",
    [(59.99, "D", True), (60, "C", True), (69.99, "C", True), (70, "B", False), (79.99, "B", False), (80, "A", False)],
)
def test_grade_boundaries_and_removal_on_c_or_d(scenario, score, grade, removed):
    """第十一条 A ≥ 80 > B ≥ 70 > C ≥ 60 > D; 第十二条（2）评级结果为C级与D级的 → removal."""
    scenario.admit("TJ-1", "tianjin")
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=score)

    provider = scenario.provider("TJ-1")
    [fact] = provider.live_facts(SCORE)
    assert fact.data["grade"] == grade
    assert standing(provider)["grades"]["scores"][0]["grade"] == grade
    if removed:
        assert provider.status == "removed"
        [removal] = scenario.sanctions("TJ-1")
        assert summary(removal) == {
            "sanction": "removal",
            "article": "第十二条（2）",
            "pack_version": VERSION,
            "params": {},
            "evidence": [fact.ref],
        }
        assert removal["consequences"] == ["public_notice"]
    else:
        assert provider.status == "in_pool"
        assert scenario.sanctions("TJ-1") == []


@pytest.mark.parametrize("verified, removed", [(2, False), (3, True), (4, True)])
def test_verified_complaints_remove_at_the_third(scenario, verified, removed):
    """第十二条（四）被企业或其他服务商投诉3次或以上并核实确认属实的 (inclusive, occurrences)."""
    scenario.admit("TJ-1", "tianjin")
    kinds = ["enterprise", "provider", "enterprise", "provider"][:verified]
    noted = [scenario.verified_complaint("TJ-1", kind) for kind in kinds]

    provider = scenario.provider("TJ-1")
    assert standing(provider)["counters"]["verified_complaints"]["count"] == verified
    if removed:
        assert provider.status == "removed"
        [removal] = scenario.sanctions("TJ-1")
        assert summary(removal) == {
            "sanction": "removal",
            "article": "第十二条（四）",
            "pack_version": VERSION,
            "params": {"verified_complaints": 3},
            "evidence": [n.fact for n in noted[:3]],
        }
    else:
        assert provider.status == "in_pool"
        assert scenario.sanctions("TJ-1") == []


def test_a_verified_public_complaint_does_not_count(scenario):
    """Only complaints 被企业或其他服务商 count."""
    scenario.admit("TJ-1", "tianjin")
    counted = [scenario.verified_complaint("TJ-1", kind) for kind in ("enterprise", "provider")]
    scenario.verified_complaint("TJ-1", "public")
    assert scenario.provider("TJ-1").status == "in_pool"

    counted.append(scenario.verified_complaint("TJ-1", "enterprise"))
    [removal] = scenario.sanctions("TJ-1")
    assert removal["evidence"] == [n.fact for n in counted]
    assert scenario.provider("TJ-1").status == "removed"


def test_an_unfounded_complaint_does_not_count(scenario):
    """并核实确认属实的: a complaint found unfounded is not evidence."""
    scenario.admit("TJ-1", "tianjin")
    scenario.verified_complaint("TJ-1")
    scenario.verified_complaint("TJ-1")
    assert scenario.verify(scenario.complaint("TJ-1"), "unfounded") is None
    assert scenario.verify(scenario.complaint("TJ-1", "provider"), "unfounded") is None

    provider = scenario.provider("TJ-1")
    assert provider.status == "in_pool"
    assert standing(provider)["counters"]["verified_complaints"]["count"] == 2
    assert scenario.sanctions("TJ-1") == []


@pytest.mark.parametrize("admitted_after_the_last_day, accepted", [(0, False), (1, True), (2, True)])
def test_admission_takes_effect_once_the_notice_is_over(scenario, admitted_after_the_last_day, accepted):
    """第十条 公示期满无异议的纳入资源池: not on the notice's last day, while objections may still come in;
    from the day after (the default), or later as the bureau's decision says."""
    opened = scenario.today
    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1")
    last_day = opened + timedelta(days=6)
    scenario.on(last_day + timedelta(days=5))
    admitted_on = last_day + timedelta(days=admitted_after_the_last_day)
    close = scenario.command(m.ClosePublicNotice, provider_id="TJ-1", last_day=last_day, effective_on=admitted_on)
    if not accepted:
        with pytest.raises(DomainError, match=rf"effective_on {last_day} is before the public notice's last day \({last_day}\) was over") as refused:
            scenario.ledger.execute(close)
        assert refused.value.field == "effective_on"
        assert scenario.provider("TJ-1").status == "under_notice"
    else:
        scenario.ledger.execute(close)
        assert scenario.provider("TJ-1").admitted_on == admitted_on


@pytest.mark.parametrize("days, admitted", [(6, False), (7, True), (8, True)])
def test_public_notice_lasts_at_least_seven_days(scenario, days, admitted):
    """第十条 公示期不少于7天，公示期满无异议的纳入资源池 (days counted inclusively)."""
    opened = scenario.today
    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1")
    last_day = opened + timedelta(days=days - 1)
    scenario.on(last_day + timedelta(days=1))
    close = scenario.command(m.ClosePublicNotice, provider_id="TJ-1", last_day=last_day)

    if admitted:
        result = scenario.ledger.execute(close)
        assert result.events == ["provider.public-notice-closed.v1", "provider.admitted.v1"]
        provider = scenario.provider("TJ-1")
        assert (provider.status, provider.admitted_on, provider.notice["days"]) == ("in_pool", last_day + timedelta(days=1), days)
    else:
        with pytest.raises(DomainError, match=r"天津 第十条.*at least 7 days.* is 6"):
            scenario.ledger.execute(close)
        assert scenario.provider("TJ-1").status == "under_notice"


def test_a_standing_objection_refuses_admission(scenario):
    """公示期满无异议的 are admitted: an objection upheld during the notice refuses admission."""
    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1")
    scenario.run(m.RaiseObjection, provider_id="TJ-1", objection_id="O-1", raised_by="E-1", grounds="unpaid wages")
    last_day = scenario.today + timedelta(days=6)
    scenario.on(last_day + timedelta(days=1))
    with pytest.raises(DomainError, match="resolve objection"):
        scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=last_day)
    scenario.run(m.ResolveObjection, provider_id="TJ-1", objection_id="O-1", stands=True)
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=last_day)
    assert scenario.provider("TJ-1").status == "refused"


@pytest.mark.parametrize("third_on, removed", [(date(2025, 12, 31), True), (date(2026, 1, 1), False)])
def test_nothing_is_derived_after_the_rulebook_expires(scenario, third_on, removed):
    """第十四条 有效期至2025年12月31日: the third verified complaint counts only inside the window."""
    scenario.admit("TJ-1", "tianjin")
    scenario.on(date(2025, 12, 1))
    first_two = [scenario.verified_complaint("TJ-1") for _ in range(2)]
    scenario.on(third_on)
    third = scenario.verified_complaint("TJ-1")

    provider = scenario.provider("TJ-1")
    if removed:
        [removal] = scenario.sanctions("TJ-1")
        assert removal["evidence"] == [n.fact for n in [*first_two, third]]
        assert removal["effective_on"] == third_on
        assert provider.status == "removed"
    else:
        assert scenario.sanctions("TJ-1") == []
        assert provider.status == "in_pool"
        # and later evidence does not bring the expired rulebook back
        scenario.verified_complaint("TJ-1")
        assert scenario.sanctions("TJ-1") == []


@pytest.mark.parametrize(
    "graded_on, removed",
    [(date(2023, 1, 28), False), (date(2023, 1, 29), True), (date(2025, 12, 31), True), (date(2026, 1, 1), False)],
)
def test_no_sanction_outside_the_validity_window(scenario, graded_on, removed):
    """自印发之日起施行（2023年1月29日），有效期至2025年12月31日: a D grade counts only inside."""
    scenario.admit("TJ-1", "tianjin", on=date(2023, 1, 20))
    scenario.on(max(graded_on, scenario.today))
    scenario.run(m.RecordScore, provider_id="TJ-1", year=graded_on.year, score=50, effective_on=graded_on)

    assert [s["citation"]["article"] for s in scenario.sanctions("TJ-1")] == (["第十二条（2）"] if removed else [])
    assert scenario.provider("TJ-1").status == ("removed" if removed else "in_pool")


def test_the_notice_is_closed_only_once_its_last_day_is_over(scenario):
    """公示期满无异议的: until the last day is over an objection may still come in."""
    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1")
    last_day = scenario.today + timedelta(days=6)
    scenario.on(last_day)
    with pytest.raises(DomainError, match=rf"天津 第十条: the public notice runs until {last_day}"):
        scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=last_day)

    scenario.run(m.RaiseObjection, provider_id="TJ-1", objection_id="O-1", raised_by="P-2", grounds="copied our case study")
    scenario.on(last_day + timedelta(days=1))
    scenario.run(m.ResolveObjection, provider_id="TJ-1", objection_id="O-1", stands=False, reasons="not substantiated")
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=last_day)
    assert scenario.provider("TJ-1").status == "in_pool"


@pytest.mark.parametrize("found_on, removed", [(date(2025, 12, 31), True), (date(2026, 1, 1), False)])
def test_a_finding_applies_only_an_article_in_force(scenario, found_on, removed):
    """A regulator's finding under 第十二条（五） applies the rulebook only inside its window."""
    scenario.admit("TJ-1", "tianjin")
    scenario.on(date(2026, 1, 5))
    finding = scenario.command(m.RecordFinding, provider_id="TJ-1", article="第十二条（五）", summary="forged invoices", effective_on=found_on)
    if removed:
        scenario.ledger.execute(finding)
        [removal] = scenario.sanctions("TJ-1")
        assert (removal["citation"]["article"], removal["effective_on"]) == ("第十二条（五）", found_on)
        assert scenario.provider("TJ-1").status == "removed"
    else:
        with pytest.raises(DomainError, match=r"^天津 第十四条: the rulebook is not in force on 2026-01-01 \(it is in force from 2023-01-29 until 2025-12-31\)$") as refused:
            scenario.ledger.execute(finding)
        assert refused.value.field == "effective_on"  # the day is what is wrong, not the article (HTTP: 422 naming it)
        assert scenario.provider("TJ-1").status == "in_pool"


def test_reports_are_not_complaints(scenario):
    """第十二条（四）被企业或其他服务商投诉3次: three verified reports (举报) do not remove."""
    scenario.admit("TJ-1", "tianjin")
    for _ in range(3):
        scenario.verify(scenario.complaint("TJ-1", "enterprise", nature="report"))
    assert scenario.sanctions("TJ-1") == []
    assert scenario.provider("TJ-1").status == "in_pool"
