"""A provider is sanctioned as one of the pool: nothing removes it from the pool before it joined it.

Facts about a pool member (a finding, a score, a project it serves, a withdrawal) take effect no
earlier than its admission, and the counted rules count only what took effect since then (dates
come from the facts: a fact entered late with an early date must not date a removal before the
admission)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m

ADMITTED = date(2025, 3, 1)


@pytest.fixture
def admitted(scenario):
    """TS-1 applied on 2025-02-21 and was admitted on 2025-03-01; today is 2025-03-20."""
    scenario.admit("TS-1", "tangshan", on=ADMITTED)
    scenario.on(ADMITTED + timedelta(days=19))
    return scenario


@pytest.mark.parametrize("days_from_admission, refused", [(-1, True), (0, False), (1, False)])
def test_a_finding_takes_effect_no_earlier_than_the_admission(admitted, days_from_admission, refused):
    on = ADMITTED + timedelta(days=days_from_admission)
    if refused:
        with pytest.raises(DomainError, match=r"^effective_on 2025-02-28 is before provider TS-1 was admitted \(2025-03-01\)$"):
            admitted.finding("TS-1", "第十三条（四）", on=on)
        assert admitted.sanctions("TS-1") == []
    else:
        admitted.finding("TS-1", "第十三条（四）", on=on)
        [blacklisting] = admitted.sanctions("TS-1")
        assert blacklisting["effective_on"] == on


@pytest.mark.parametrize(
    "command, fields",
    [
        (m.RegisterProject, {"project_id": "P-1", "jurisdiction": "tangshan", "enterprise_id": "E-1", "enterprise_name": "E", "integrated_provider_id": "TS-1"}),
        (m.WithdrawFromPool, {"provider_id": "TS-1"}),
    ],
)
def test_a_project_or_a_withdrawal_takes_effect_no_earlier_than_the_admission(admitted, command, fields):
    before = admitted.ledger.store.max_position()
    with pytest.raises(DomainError, match=r"is before provider TS-1 was admitted \(2025-03-01\)$"):
        admitted.run(command, effective_on=ADMITTED - timedelta(days=1), **fields)
    assert admitted.ledger.store.max_position() == before
    admitted.run(command, effective_on=ADMITTED, **fields)


def test_a_score_takes_effect_no_earlier_than_the_admission(scenario):
    """天津 第十条 公示期满无异议的纳入: admitted the day after the notice's last day, 2025-03-01."""
    scenario.admit("TJ-1", "tianjin", on=ADMITTED)
    scenario.on(date(2025, 3, 20))
    assert scenario.provider("TJ-1").admitted_on == date(2025, 3, 1)
    with pytest.raises(DomainError, match=r"^effective_on 2025-02-28 is before provider TJ-1 was admitted \(2025-03-01\)$"):
        scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=55, effective_on=date(2025, 2, 28))
    assert scenario.provider("TJ-1").status == "in_pool"
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=55, effective_on=date(2025, 3, 1))
    assert scenario.provider("TJ-1").status == "removed"


def test_complaints_verified_before_the_admission_are_not_counted(scenario):
    """天津 第十二条（四）被企业或其他服务商投诉3次或以上并核实确认属实的: three complaints verified while
    TJ-1 was still an applicant remove nobody, then or later; three verified after it joined do, on the
    day of the third."""
    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code="9144030071526726XG",
                 kind="云服务商", effective_on=date(2025, 2, 1))  # fmt: skip
    for day in (3, 4, 5):
        scenario.verified_complaint("TJ-1", on=date(2025, 2, day))
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1", effective_on=date(2025, 2, 6))
    scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=date(2025, 2, 12))
    assert scenario.provider("TJ-1").status == "in_pool"
    assert scenario.provider("TJ-1").admitted_on == date(2025, 2, 13)

    scenario.verified_complaint("TJ-1", on=date(2025, 2, 20))
    scenario.verified_complaint("TJ-1", on=date(2025, 2, 25))
    assert scenario.sanctions("TJ-1") == []
    third = scenario.verified_complaint("TJ-1", on=date(2025, 2, 27))
    [removal] = scenario.sanctions("TJ-1")
    assert (removal["citation"]["article"], removal["effective_on"]) == ("第十二条（四）", date(2025, 2, 27))
    assert removal["evidence"][-1] == third.fact and len(removal["evidence"]) == 3


def test_a_notice_closed_on_a_day_before_it_opened_is_refused_naming_last_day(scenario):
    from tests.integration.scenario import credit_code_for

    scenario.run(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1")
    with pytest.raises(DomainError, match="is before the notice opened") as refused:
        scenario.run(m.ClosePublicNotice, provider_id="TJ-1", last_day=scenario.today - timedelta(days=1))
    assert refused.value.field == "last_day"
