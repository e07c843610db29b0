"""A rulebook's validity, or its parameters, declared after facts were recorded: each provider of the
jurisdiction is judged again in the declaring command, dates from the facts.

唐山 第十八条 "本办法自印发之日起实施" and 柳州 第十七条 "有效期至试点工作结束之日" leave their dates to
the regulator (``DeclareRulebookValidity``); the bureau often declares them after the facts are on
record. Before, the declaration decided nothing: what the facts meant appeared only with the
provider's next fact, and a sanction derived on a day the pack turned out not to be in force stayed."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.commands import models as m

MARCH_1 = date(2025, 3, 1)
PILOT_END = date(2025, 6, 30)


def _declare(scenario, jurisdiction: str, *, valid_from: date, valid_until: date | None = None, on: date) -> None:
    scenario.on(on)
    scenario.run(
        m.DeclareRulebookValidity, jurisdiction=jurisdiction, valid_from=valid_from, valid_until=valid_until,
        reference="印发通知", effective_on=on,
    )  # fmt: skip


@pytest.mark.parametrize(
    "valid_from, blacklisted",
    [(MARCH_1 - timedelta(days=1), True), (MARCH_1, True), (MARCH_1 + timedelta(days=1), False)],
)
def test_a_late_declaration_of_the_start_derives_what_the_facts_decided_from_their_own_day(bare_scenario, valid_from, blacklisted):
    """唐山 第十三条（二） "“不满意”次数达到 2 次": two 不满意 of 03-01 recorded while the date was undeclared.
    Declared on 04-01 in force from 02-28 or 03-01: blacklisted from 03-01 by the declaring command
    itself; from 03-02: the ratings are before the pack, nothing is derived."""
    scenario = bare_scenario
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.unsatisfied("TS-1", "E-1", on=MARCH_1)
    scenario.unsatisfied("TS-1", "E-2", on=MARCH_1)
    assert scenario.sanctions("TS-1") == []  # undeclared: a draft derives nothing

    _declare(scenario, "tangshan", valid_from=valid_from, on=date(2025, 4, 1))

    sanctions = scenario.sanctions("TS-1")
    if blacklisted:
        [blacklisting] = sanctions
        assert (blacklisting["sanction"], blacklisting["effective_on"]) == ("blacklisting", MARCH_1)
        assert "第十三条（二）" in blacklisting["citation"]["article"]
        assert (scenario.provider("TS-1").status, scenario.provider("TS-1").status_since) == ("blacklisted", MARCH_1)
    else:
        assert sanctions == []
        assert scenario.provider("TS-1").status == "in_pool"


def _gray_listed_on(scenario, day: date) -> None:
    """柳州 第十四条（五） "超过10家试点企业…“不满意”": the eleventh enterprise's 不满意 on ``day``."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    for i in range(10):
        scenario.unsatisfied("LZ-1", f"E-{i}", on=MARCH_1)
    scenario.on(max(day, scenario.today))
    scenario.unsatisfied("LZ-1", "E-10", on=day)


@pytest.mark.parametrize(
    "gray_listed_on, stands",
    [(PILOT_END - timedelta(days=1), True), (PILOT_END, True), (PILOT_END + timedelta(days=1), False)],
)
def test_a_late_declared_end_rescinds_what_was_derived_after_it_from_its_own_day(scenario, gray_listed_on, stands):
    """柳州 第十七条 "有效期至试点工作结束之日": the end declared on 08-01 as 06-30. A gray listing derived on
    06-29 or 06-30 stands; one derived on 07-01 never had a text behind it: rescinded from its own day,
    the provider back in the pool that day (so history as of any day after shows it in the pool)."""
    _gray_listed_on(scenario, gray_listed_on)
    [listing] = [s for s in scenario.sanctions("LZ-1") if s["sanction"] == "gray_listing"]
    assert listing["effective_on"] == gray_listed_on

    _declare(scenario, "liuzhou", valid_from=date(2025, 1, 1), valid_until=PILOT_END, on=date(2025, 8, 1))

    provider = scenario.provider("LZ-1")
    after = provider.sanctions[listing["ref"]]
    if stands:
        assert after["rescinded_on"] is None
        assert provider.status == "gray_listed"
    else:
        assert after["rescinded_on"] == gray_listed_on
        assert (provider.status, provider.status_since) == ("reinstated", gray_listed_on)
        assert provider.in_pool_on(gray_listed_on + timedelta(days=10))


def test_a_late_declaration_changes_nothing_for_another_jurisdiction(scenario):
    _gray_listed_on(scenario, PILOT_END + timedelta(days=1))
    _declare(scenario, "tangshan", valid_from=date(2025, 1, 1), valid_until=PILOT_END, on=date(2025, 8, 1))
    assert scenario.provider("LZ-1").status == "gray_listed"


def test_a_threshold_lowered_from_a_past_day_derives_from_the_day_the_facts_meet_it(scenario):
    """A parameter change dated before facts already recorded applies to them from its day (and
    never before it): 柳州 第十四条（五） lowered from 10 to 3 enterprises from 03-05, recorded on 04-01.
    Four 不满意 of 03-01 do not meet it on 03-01 (the old threshold held then); a fifth of 03-10 does."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    for i in range(4):
        scenario.unsatisfied("LZ-1", f"E-{i}", on=MARCH_1)
    scenario.on(date(2025, 3, 10))
    scenario.unsatisfied("LZ-1", "E-4", on=date(2025, 3, 10))
    assert [s["sanction"] for s in scenario.sanctions("LZ-1")] == []
    scenario.on(date(2025, 4, 1))
    scenario.run(
        m.SetRulebookParameters, jurisdiction="liuzhou", params={"unsatisfied_enterprises_for_gray_list": 3},
        reference="市局通知", effective_on=date(2025, 3, 5),
    )  # fmt: skip
    [listing] = [s for s in scenario.sanctions("LZ-1") if s["sanction"] == "gray_listing"]
    assert listing["effective_on"] == date(2025, 3, 10)


def test_a_declaration_inside_an_import_judges_the_providers_the_import_added(bare_scenario):
    """``ledger import`` decides a whole file in one unit of work: the declaration at its end judges
    the providers added earlier in it, and what it derives is recorded as the declaration's own
    events (it used to be dropped, or recorded with the provider's next command)."""
    from tests.integration.scenario import credit_code_for

    scenario = bare_scenario
    command = scenario.command
    commands = [
        command(m.SubmitApplication, provider_id="TS-1", jurisdiction="tangshan", name="TS-1 Ltd", credit_code=credit_code_for("TS-1"), kind="数字化服务商", effective_on=date(2025, 1, 20)),
        command(m.AdmitProvider, provider_id="TS-1", effective_on=date(2025, 2, 1)),
    ]
    for enterprise in ("E-1", "E-2"):
        project = f"P-{enterprise}"
        commands += [
            command(m.RegisterProject, project_id=project, jurisdiction="tangshan", enterprise_id=enterprise, enterprise_name=enterprise, integrated_provider_id="TS-1", effective_on=MARCH_1),
            command(m.RecordDiagnosis, project_id=project, level_before=1, effective_on=MARCH_1),
            command(m.StartImplementation, project_id=project, effective_on=MARCH_1),
            command(m.RateSatisfaction, project_id=project, provider_id="TS-1", rating="不满意", effective_on=MARCH_1),
        ]
    scenario.on(date(2025, 4, 1))
    declaration = command(m.DeclareRulebookValidity, jurisdiction="tangshan", valid_from=date(2025, 1, 1), reference="印发通知")
    results = scenario.ledger.execute_all([*commands, declaration])

    [blacklisting] = scenario.sanctions("TS-1")
    assert (blacklisting["sanction"], blacklisting["effective_on"]) == ("blacklisting", MARCH_1)
    declared = results[-1]
    assert "provider.sanction-imposed.v1" in declared.events
    imposed = [e for e in scenario.ledger.store.read_all() if e.topic == "provider.sanction-imposed.v1"]
    assert [e.command_id for e in imposed] == [declaration.command_id]


@pytest.mark.parametrize(
    "raised_from, stands",
    [(MARCH_1 - timedelta(days=1), False), (MARCH_1, False), (MARCH_1 + timedelta(days=1), True)],
)
@pytest.mark.parametrize("change_first", [True, False])
def test_a_threshold_raised_from_a_day_judges_what_was_derived_on_or_after_it_in_either_order(scenario, raised_from, stands, change_first):
    """唐山 第十三条（二） "“不满意”次数达到 2 次", raised to 3 by the bureau from ``raised_from``: two 不满意
    of 03-01 blacklist only if the change takes effect after 03-01 — whichever was entered first (a
    change entered after the blacklisting rescinds it from its own day; it used to stand, judged by
    the threshold it was derived with)."""
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.on(date(2025, 4, 1))

    def change() -> None:
        scenario.run(m.SetRulebookParameters, jurisdiction="tangshan", params={"unsatisfied_ratings": 3}, reference="市局通知", effective_on=raised_from)

    if change_first:
        change()
    scenario.unsatisfied("TS-1", "E-1", on=MARCH_1)
    scenario.unsatisfied("TS-1", "E-2", on=MARCH_1)
    if not change_first:
        change()
    provider = scenario.provider("TS-1")
    if stands:
        [blacklisting] = scenario.sanctions("TS-1")
        assert (blacklisting["sanction"], blacklisting["effective_on"]) == ("blacklisting", MARCH_1)
        assert provider.status == "blacklisted"
    else:
        assert scenario.sanctions("TS-1") == []
        assert provider.in_pool_on(MARCH_1) and provider.in_pool_on(date(2025, 4, 1))


@pytest.mark.parametrize("found_on, stands", [(PILOT_END, True), (PILOT_END + timedelta(days=1), False)])
def test_a_finding_dated_after_a_late_declared_end_no_longer_stands(scenario, found_on, stands):
    """柳州 第十二条（三） applied by a finding of 07-01, entered before the bureau declared the pilot
    ended on 06-30: the article was not in force that day, so the order is rescinded from its own
    day — as the finding would have been refused had the end been declared first."""
    scenario.admit("LZ-1", "liuzhou", on=date(2025, 2, 1))
    scenario.on(date(2025, 9, 1))
    scenario.finding("LZ-1", "第十二条（三）", on=found_on, deadline_days=10)
    [order] = scenario.sanctions("LZ-1")
    _declare(scenario, "liuzhou", valid_from=date(2025, 1, 1), valid_until=PILOT_END, on=date(2025, 9, 1))
    after = scenario.provider("LZ-1").sanctions[order["ref"]]
    assert after["rescinded_on"] == (None if stands else found_on)


@pytest.mark.parametrize("valid_from, unpaid", [(date(2025, 2, 19), True), (date(2025, 2, 20), True), (date(2025, 2, 21), False)])
@pytest.mark.parametrize("declared_first", [True, False])
def test_a_failed_acceptance_before_the_declaration_goes_unpaid_from_its_own_day(bare_scenario, valid_from, unpaid, declared_first):
    """唐山 第十四条 "未通过验收的，不予支付服务费用，试点企业有权追回该项目预付款项": a project that failed
    acceptance on 02-20, the pack's date of effect declared on 03-01 — before or after the failure was
    entered — leaves its fees unpaid and its prepayment recoverable from 02-20 if the pack was in force
    that day (it used to, only when the declaration came first)."""
    from ledger.aggregates import Project

    scenario = bare_scenario
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    scenario.run(m.RegisterProject, project_id="P1", jurisdiction="tangshan", enterprise_id="E-1", enterprise_name="E-1 Co",
                 integrated_provider_id="TS-1", effective_on=date(2025, 2, 10))  # fmt: skip
    scenario.run(m.RecordDiagnosis, project_id="P1", level_before=1, effective_on=date(2025, 2, 10))
    scenario.run(m.StartImplementation, project_id="P1", effective_on=date(2025, 2, 11))
    scenario.run(m.RecordPayment, project_id="P1", kind="prepayment", amount="30000", provider_id="TS-1", effective_on=date(2025, 2, 11))
    scenario.on(date(2025, 3, 1))

    def fail() -> None:
        scenario.run(m.RecordAcceptance, project_id="P1", passed=False, level_after=1, effective_on=date(2025, 2, 20))

    if not declared_first:
        fail()
    _declare(scenario, "tangshan", valid_from=valid_from, on=date(2025, 3, 1))
    if declared_first:
        fail()
    project = scenario.ledger.load(Project, "P1")
    if unpaid:
        [named] = project.fees_not_payable
        assert (named["grounds"], named["on"], named["citation"]["article"]) == ("未通过验收", date(2025, 2, 20), "第十四条")
        assert project.prepayment_recoverable == "30000"
    else:
        assert (project.fees_not_payable, project.prepayment_recoverable) == ([], None)
