"""Readings a regulator would dispute: the entity behind a provider id (统一社会信用代码), and kinds
introduced as examples ("主要包括…等", "主要包含")."""
from __future__ import annotations

import pytest

from ledger.aggregates import DomainError, Provider
from ledger.commands import models as m
from tests.integration.scenario import credit_code_for

CODE = "9144030071526726XG"


def _apply(scenario, provider_id: str, jurisdiction: str = "tangshan", code: str = CODE, kind: str = "数字化服务商"):
    return scenario.command(m.SubmitApplication, provider_id=provider_id, jurisdiction=jurisdiction, name=f"{provider_id} Ltd", credit_code=code, kind=kind)


@pytest.mark.parametrize(
    "how, listed, article",
    [
        ("blacklisted", "blacklisted", "唐山 第十三条（二）"),
        ("finding", "blacklisted", "唐山 第十三条（四）"),
    ],
)
def test_a_blacklisted_entity_may_not_come_back_under_a_new_provider_id(scenario, how, listed, article):
    scenario.admit("TS-1", "tangshan", credit_code=CODE)
    if how == "blacklisted":
        for enterprise in ("E-1", "E-2"):
            scenario.unsatisfied("TS-1", enterprise)
    else:
        scenario.finding("TS-1", "第十三条（四）")
    [entry] = scenario.sanctions("TS-1")
    with pytest.raises(DomainError, match=rf"^{article}: entity {CODE} is {listed} as provider TS-1 since 2025-03-01 \(blacklisting {entry['ref']}\); it may not apply again$"):
        scenario.ledger.execute(_apply(scenario, "TS-2"))
    assert scenario.ledger.find(Provider, "TS-2") is None


def test_a_gray_listed_entity_is_refused_in_its_city_but_may_apply_elsewhere(scenario):
    """柳州 第十四条: 灰名单 is the city's list; Tangshan's pool is another's."""
    scenario.admit("LZ-1", "liuzhou", credit_code=CODE)
    scenario.finding("LZ-1", "第十四条（三）")
    with pytest.raises(DomainError, match=r"^柳州 第十四条（三）: entity .* is gray_listed as provider LZ-1"):
        scenario.ledger.execute(_apply(scenario, "LZ-2", "liuzhou", kind="集成服务商"))
    scenario.ledger.execute(_apply(scenario, "TS-9"))
    assert scenario.provider("TS-9").credit_code == CODE


def test_an_entity_that_left_voluntarily_may_apply_again(scenario):
    """天津 第十二条（八）主动退出资源池的: leaving is no sanction; a new application takes a new id."""
    scenario.admit("TJ-1", "tianjin", credit_code=CODE)
    with pytest.raises(DomainError, match=rf"^entity {CODE} has already applied as provider TJ-1 \(in_pool\)$"):
        scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="云服务商"))
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="业务调整")
    with pytest.raises(DomainError, match=r"^provider TJ-1 has already applied \(exited since 2025-03-01\); a new application takes a new provider id$"):
        scenario.ledger.execute(_apply(scenario, "TJ-1", "tianjin", kind="云服务商"))
    scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="云服务商"))
    assert (scenario.provider("TJ-2").status, scenario.provider("TJ-2").credit_code) == ("applied", CODE)


def test_a_reinstated_entity_is_in_the_pool_and_a_rescinded_removal_bars_nothing(scenario):
    scenario.admit("TS-1", "tangshan", credit_code=CODE)
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)
    with pytest.raises(DomainError, match=r"has already applied as provider TS-1 \(reinstated\)$"):
        scenario.ledger.execute(_apply(scenario, "TS-2"))


@pytest.mark.parametrize("code", ["9144030071526726XH", "9144030071526726X", "914403007152672IXG"])
def test_an_application_carries_a_valid_credit_code(scenario, code):
    with pytest.raises(ValueError, match="credit_code"):
        _apply(scenario, "TS-1", code=code)


@pytest.mark.parametrize(
    "jurisdiction, kind, accepted",
    [
        ("tianjin", "云服务商", True),  # 第四条's own example
        ("tianjin", "数据安全服务商", True),  # 主要包括…等: others are accepted as given
        ("province", "人工智能服务商", True),  # 一（一） 主要包含以下类别
        ("tangshan", "云服务商", False),  # 唐山 names one kind: 数字化服务商
        ("liuzhou", "数据安全服务商", False),  # 柳州 第二条: 集成服务商和产品服务商
    ],
)
def test_kinds_introduced_as_examples_are_an_open_list(scenario, jurisdiction, kind, accepted):
    apply = _apply(scenario, "P-1", jurisdiction, code=credit_code_for("P-1"), kind=kind)
    if accepted:
        scenario.ledger.execute(apply)
        assert scenario.provider("P-1").kind == kind
    else:
        with pytest.raises(DomainError, match=rf"kind '{kind}' is not one of"):
            scenario.ledger.execute(apply)
