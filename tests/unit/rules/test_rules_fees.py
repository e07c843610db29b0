"""Fees withheld: only under the two articles that name them, 新乡 第十六条 and 唐山 第十四条.

新乡 第十六条 "取消其服务商资格，视情况不予支付或扣除部分服务费用" (the regulator's decision, after a
disqualification under 第十六条); 唐山 第十四条 "服务商被清退或未通过验收的，不予支付服务费用". Tianjin,
the provincial guide and Liuzhou name no withholding of fees at all.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.aggregates import DomainError, Project
from ledger.commands import models as m
from ledger.wire import decode_state


def _withhold(scenario, provider_id: str, article: str, **fields):
    return scenario.run(m.WithholdFees, provider_id=provider_id, amount="50000", reason="withheld", article=article, **fields)


@pytest.mark.parametrize(
    "jurisdiction, article",
    [("tianjin", "第十二条（五）"), ("province", "四（四）"), ("liuzhou", "第十四条（三）")],
)
def test_a_pack_that_names_no_fees_withholds_none_even_after_a_removal(scenario, jurisdiction, article):
    scenario.admit("P-1", jurisdiction)
    scenario.finding("P-1", article)
    assert not scenario.provider("P-1").in_pool
    recorded = scenario.ledger.store.max_position()
    with pytest.raises(DomainError, match=r"names no withholding of fees"):
        _withhold(scenario, "P-1", article)
    assert scenario.ledger.store.max_position() == recorded


def test_xinxiang_withholds_only_after_a_disqualification_under_article_16(scenario):
    """第十八条's exit (退出服务商库) and a 第十五条 warning name no fees; 第十六条 does."""
    scenario.admit("XX-1", "xinxiang")
    scenario.admit("XX-2", "xinxiang")
    scenario.finding("XX-1", "第十八条")  # 经核实确认该服务商存在弄虚作假行为的，退出服务商库
    assert not scenario.provider("XX-1").in_pool
    with pytest.raises(DomainError, match=r"^新乡 第十八条: fees are withheld under 新乡 第十六条 "):
        _withhold(scenario, "XX-1", "第十八条")
    with pytest.raises(DomainError, match=r"^新乡 第十六条: provider XX-1 was not removed under 第十六条; 新乡 第十六条 withholds fees only then$"):
        _withhold(scenario, "XX-1", "第十六条")

    scenario.finding("XX-2", "第十五条（三）")  # a warning: still in the pool
    with pytest.raises(DomainError, match=r"fees are withheld under 新乡 第十六条"):
        _withhold(scenario, "XX-2", "第十五条（三）")
    scenario.finding("XX-2", "第十六条（三）")
    _withhold(scenario, "XX-2", "第十六条")  # the article itself, after a disqualification under one of its items
    _withhold(scenario, "XX-2", "第十六条（三）")
    assert [w["citation"]["article"] for w in scenario.provider("XX-2").fees_withheld] == ["第十六条", "第十六条（三）"]
    assert scenario.provider("XX-2").fees_withheld[0]["citation"]["text"].endswith("视情况不予支付或扣除部分服务费用")


def test_tangshan_withholds_under_article_14_once_the_provider_is_cleared_not_before(scenario):
    """第十四条 服务商被清退…不予支付服务费用: after a blacklisting under 第十三条, dated no earlier than it."""
    scenario.admit("TS-1", "tangshan")
    with pytest.raises(DomainError, match=r"^唐山 第十四条: provider TS-1 was not removed under 第十三条; 唐山 第十四条 withholds fees only then \(a failed acceptance"):
        _withhold(scenario, "TS-1", "第十四条")
    with pytest.raises(DomainError, match=r"fees are withheld under 唐山 第十四条"):
        _withhold(scenario, "TS-1", "第十二条（一）")

    cleared_on = scenario.today
    scenario.finding("TS-1", "第十三条（四）")
    scenario.on(cleared_on + timedelta(days=10))
    with pytest.raises(DomainError, match=r"effective_on .* is before the removal it follows .* took effect \(" + str(cleared_on) + r"\)"):
        _withhold(scenario, "TS-1", "第十四条", effective_on=cleared_on - timedelta(days=1))
    _withhold(scenario, "TS-1", "第十四条", effective_on=cleared_on)
    [withheld] = scenario.provider("TS-1").fees_withheld
    assert (withheld["citation"]["article"], withheld["effective_on"]) == ("第十四条", cleared_on)


def test_no_fees_are_withheld_on_a_day_the_rulebook_is_not_in_force(scenario):
    """A withholding applies an article: inside the pack's window only (新乡 第二十条: until the pilot's acceptance)."""
    scenario.run(m.DeclareRulebookValidity, jurisdiction="xinxiang", valid_from=date(2025, 1, 1), valid_until=date(2025, 3, 10), reference="notice")
    scenario.admit("XX-1", "xinxiang")
    scenario.finding("XX-1", "第十六条（五）")
    scenario.on(date(2025, 3, 20))
    _withhold(scenario, "XX-1", "第十六条（五）", effective_on=date(2025, 3, 10))
    with pytest.raises(DomainError, match=r"^新乡 第二十条: the rulebook is not in force on 2025-03-11 "):
        _withhold(scenario, "XX-1", "第十六条（五）", effective_on=date(2025, 3, 11))
    assert len(scenario.provider("XX-1").fees_withheld) == 1


@pytest.mark.parametrize("in_force", [True, False])
def test_a_failed_acceptance_withholds_fees_only_while_tangshan_is_in_force(bare_scenario, in_force):
    scenario = bare_scenario
    scenario.run(m.DeclareRulebookValidity, jurisdiction="tangshan", valid_from=date(2025, 1, 1),
                 valid_until=None if in_force else date(2025, 2, 28), reference="notice")  # fmt: skip
    scenario.admit("TS-1", "tangshan", on=date(2025, 2, 1))
    project_id = scenario.project("TS-1", "E-1", accepted=False, on=date(2025, 2, 1))
    scenario.run(m.RecordPayment, project_id=project_id, kind="prepayment", amount="30000", provider_id="TS-1", effective_on=date(2025, 2, 1))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1)  # 2025-03-01
    project = scenario.ledger.load(Project, project_id)
    withheld = [p["amount"] for p in project.payments if p["kind"] == "fee_withheld"]
    assert (withheld, project.prepayment_recoverable) == ((["70000"], "30000") if in_force else ([], None))


@pytest.mark.parametrize("cleared_days_after_the_pass, stays", [(-1, True), (0, True), (1, False)])
def test_the_review_at_a_later_pass_reads_the_clearance_as_of_the_pass(scenario, cleared_days_after_the_pass, stays):
    """第十四条 服务商被清退…: a clearance that took effect after the day the project passed did not keep
    the fees withheld that day (entered late, the pass is reviewed on its own date)."""
    scenario.admit("TS-1", "tangshan")
    project_id = scenario.project("TS-1", "E-1", accepted=False)
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=False, level_after=1)
    passed_on = scenario.today + timedelta(days=20)
    scenario.on(passed_on + timedelta(days=10))
    scenario.finding("TS-1", "第十三条（五）", on=passed_on + timedelta(days=cleared_days_after_the_pass))
    scenario.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=2, effective_on=passed_on)

    project = scenario.ledger.load(Project, project_id)
    event = [e for e in scenario.ledger.store.read_aggregate(project.id) if e.topic == "project.withholding-reviewed.v1"][-1]
    reviewed = decode_state(event)
    assert reviewed["lifted"] is not stays
    assert (project.withholding_lifted is None) is stays
