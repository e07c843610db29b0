"""GET /v1/projects/{id} shows 唐山 第十四条's consequences: 服务商被清退…不予支付服务费用，试点企业有权追回该项目预付款项."""
from __future__ import annotations

from datetime import date

from ledger.commands import models as m
from tests.api.conftest import headers
from tests.integration.scenario import Scenario


def test_a_project_of_a_blacklisted_provider_shows_its_fees_unpaid_from_the_clearance(served):
    scenario = Scenario(served.app.ledger, served.clock)
    scenario.run(m.RegisterProject, project_id="P-OPEN", jurisdiction="tangshan", enterprise_id="E-1", enterprise_name="E-1 Co",
                 integrated_provider_id="TS-2", effective_on=date(2025, 3, 1))  # fmt: skip
    scenario.run(m.RecordPayment, project_id="P-OPEN", kind="prepayment", amount="30000", provider_id="TS-2", effective_on=date(2025, 3, 1))
    blacklisting = scenario.finding("TS-2", "第十三条（四）", on=date(2025, 3, 2))

    answer = served.client.get("/v1/projects/P-OPEN", headers=headers("enterprise"))
    assert answer.status_code == 200, answer.text
    [fees] = answer.json()["fees_after_clearance"]
    assert (fees["removal_ref"], fees["effective_on"], fees["prepayment_recoverable"], fees["amount"]) == (
        blacklisting, "2025-03-02", "30000", None,  # no filing: no planned cost, no figure
    )
    assert fees["citation"]["article"] == "第十四条"
    # the seed's project of TS-2 passed acceptance on 3-01, before the clearance: its fees were earned
    assert served.client.get(f"/v1/projects/{served.seeded.project}", headers=headers("regulator")).json()["fees_after_clearance"] == []
