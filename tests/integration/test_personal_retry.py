"""A retry's personal data is checked against the vault's keyed MAC, never against plaintext."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.application import BatchError, Ledger
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.personal import PersonalDataVault
from ledger.store import CommandIdReused, open_store
from tests.integration.conftest import START
from tests.integration.scenario import Scenario, credit_code_for

NAME, CONTACT = "李四", "13912345678"


@pytest.fixture
def sealed_scenario(database_url: str):
    ledger = Ledger(open_store(database_url), clock=ManualClock(START), handlers=HANDLERS)
    ledger.personal = PersonalDataVault(database_url)
    scenario = Scenario(ledger, ledger.clock)  # type: ignore[arg-type]
    scenario.admit("TJ-1", "tianjin")
    yield scenario
    ledger.close()


def _filing(**changed: str) -> m.FileComplaint:
    fields = {"command_id": "file-1", "complaint_id": "C-1", "provider_id": "TJ-1", "complainant_kind": "enterprise", "enterprise_id": "E-1",
              "complainant_name": NAME, "contact": CONTACT, "subject": "服务未按合同交付", **changed}  # fmt: skip
    return m.FileComplaint(**fields)


def _application(command_id: str, provider_id: str) -> m.SubmitApplication:
    return m.SubmitApplication(command_id=command_id, provider_id=provider_id, jurisdiction="tianjin", name=f"{provider_id} Ltd", credit_code=credit_code_for(provider_id), kind="云服务商")


def test_a_retry_with_other_personal_data_is_a_reused_command_id(sealed_scenario):
    ledger = sealed_scenario.ledger
    first = ledger.execute(_filing())
    recorded = ledger.store.max_position()
    assert ledger.execute(_filing()).duplicate
    with pytest.raises(CommandIdReused, match="'file-1' was already used for a different command"):
        ledger.execute(_filing(contact="13900000000"))
    with pytest.raises(BatchError, match="file-1") as refused:
        ledger.execute_all([_application("later", "TJ-2"), _filing(complainant_name="王五")])
    assert refused.value.index == 1 and isinstance(refused.value.error, CommandIdReused)
    assert ledger.store.max_position() == recorded and ledger.store.command_result("later") is None
    assert [r.duplicate for r in ledger.execute_all([_filing()])] == [True]
    kept = ledger.personal.reveal("complaint:C-1")
    assert kept is not None and kept.values == {"complainant_name": NAME, "contact": CONTACT}
    assert first.positions == ledger.execute(_filing()).positions
    # no plaintext is kept for the check
    with ledger.personal.db.transaction(write=False) as tx:
        (mac,) = tx.fetchone("SELECT mac FROM personal_macs WHERE holder = ?", ("complaint:C-1",))
    assert NAME not in mac and CONTACT not in mac and len(mac) == 64


def test_once_the_key_is_destroyed_a_retry_is_taken_as_its_payload_says(sealed_scenario):
    ledger = sealed_scenario.ledger
    ledger.execute(_filing())
    assert ledger.personal.erase("complainant:C-1", "个人信息保护法 第四十七条")
    assert ledger.execute(_filing(contact="13900000000")).duplicate  # nothing left to compare: nothing is stored either
    assert ledger.personal.reveal("complaint:C-1").values is None


def test_writers_first_complaints_together_share_one_connection_pool(database_url, monkeypatch):
    """The vault connects on first use; eight threads sealing their first complaint at once make one
    pool between them (each made its own, and the ones not kept were never closed)."""
    import threading

    from ledger import personal
    from ledger.personal import Sealed

    made: list[object] = []
    real = personal.ReadModelDB

    def counted(*args, **kwargs):
        db = real(*args, **kwargs)
        made.append(db)
        return db

    monkeypatch.setattr(personal, "ReadModelDB", counted)
    vault = PersonalDataVault(database_url)
    start, errors, sealed_records = threading.Barrier(8), [], []

    def first_complaint(i: int) -> None:
        try:
            start.wait()
            [record] = vault.records([Sealed(f"person-{i}", f"complaint:C-{i}", {"complainant_name": NAME, "contact": CONTACT})], look_up=True)
            assert record is not None
            sealed_records.append(record)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=first_complaint, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == [] and len(made) == 1 and len(sealed_records) == 8
        for record in sealed_records:  # each sealed under its own person's key
            key = AESGCM(bytes.fromhex(record.key_material))
            plain = key.decrypt(bytes.fromhex(record.nonce), bytes.fromhex(record.ciphertext), record.holder.encode())
            assert json.loads(plain) == {"complainant_name": NAME, "contact": CONTACT}
    finally:
        vault.close()
