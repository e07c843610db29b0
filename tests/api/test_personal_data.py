"""Complainants' names and contact details: out of the hash-chained log, seen only by the handling
regulator, erased for good by destroying the person's key — and the chain still verifies."""
from __future__ import annotations

from ledger.audit.verify import verify_store
from tests.api.conftest import headers

NAME, CONTACT = "李四", "13912345678"


def _file(served, expected: int = 201) -> None:
    body = {"complaint_id": "C-pii", "provider_id": "TS-2", "complainant_kind": "enterprise", "enterprise_id": "E-1",
            "complainant_name": NAME, "contact": CONTACT, "subject": "服务未按合同交付"}  # fmt: skip
    answer = served.client.post("/v1/complaints", json=body, headers={**headers("enterprise"), "Idempotency-Key": "pii-1"})
    assert answer.status_code == expected, answer.text


def _log_text(served) -> str:
    store = served.app.ledger.store
    return "\n".join(f"{e.state} {e.command_id}" for e in store.read_all())


def test_personal_data_never_enters_the_log(served):
    _file(served)
    logged = _log_text(served)
    assert NAME not in logged and CONTACT not in logged
    assert "sealed:complaint:C-pii/contact" in logged
    assert NAME not in served.client.get("/v1/providers/TS-2/timeline", headers=headers("auditor")).text


def test_only_the_handling_regulator_sees_the_complainant(served):
    _file(served)
    url = "/v1/complaints/C-pii/complainant"
    seen = served.client.get(url, headers=headers("regulator"))
    assert seen.status_code == 200 and seen.json()["values"] == {"complainant_name": NAME, "contact": CONTACT}
    assert served.client.get(url, headers=headers("other_regulator")).status_code == 403
    assert served.client.get(url, headers=headers("auditor")).status_code == 403
    assert served.client.get(url, headers=headers("enterprise")).status_code == 403
    assert served.client.get(url).status_code == 401


def test_destroying_the_key_erases_the_data_and_the_chain_still_verifies(served):
    _file(served)
    events_before = served.events()
    erased = served.client.post("/v1/complaints/C-pii/complainant/erasure", json={"reason": "个人信息保护法 第四十七条: retention period ended"}, headers=headers("regulator"))
    assert erased.status_code == 200 and erased.json()["erased"] is True
    after = served.client.get("/v1/complaints/C-pii/complainant", headers=headers("regulator")).json()
    assert after["values"] is None and after["erased_at"]
    report = verify_store(served.app.ledger.store)
    assert report.ok, report.summary()
    assert served.events() == events_before
    # a retry of the filing does not bring the data back
    _file(served, expected=200)
    assert served.client.get("/v1/complaints/C-pii/complainant", headers=headers("regulator")).json()["values"] is None
    again = served.client.post("/v1/complaints/C-pii/complainant/erasure", json={"reason": "again"}, headers=headers("regulator"))
    assert again.json()["erased"] is False


def test_a_reused_key_with_other_personal_data_is_refused_and_writes_nothing(served):
    """The log holds markers, equal whatever the name and contact were: the vault's keyed MAC of
    the values tells a retry (same data: the first answer again) from a reuse (other data: 409)."""
    _file(served)
    events = served.events()
    for changed in ({"complainant_name": "王五"}, {"contact": "13900000000"}):
        body = {"complaint_id": "C-pii", "provider_id": "TS-2", "complainant_kind": "enterprise", "enterprise_id": "E-1",
                "complainant_name": NAME, "contact": CONTACT, "subject": "服务未按合同交付", **changed}  # fmt: skip
        answer = served.client.post("/v1/complaints", json=body, headers={**headers("enterprise"), "Idempotency-Key": "pii-1"})
        assert answer.status_code == 409, answer.text
        assert "pii-1" in answer.json()["detail"] and "different command" in answer.json()["detail"]
    assert served.events() == events
    kept = served.client.get("/v1/complaints/C-pii/complainant", headers=headers("regulator")).json()
    assert kept["values"] == {"complainant_name": NAME, "contact": CONTACT}
    _file(served, expected=200)  # the same data again: a retry
    assert served.events() == events
