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
