"""A command's personal data is kept by the store, in the transaction that records the command.

The vault (``ledger.personal``) encrypts; the store writes the records with the batch that carries
them (``CommandBatch.personal``), and only if it records that batch: a conflicting, refused or
duplicate batch keeps nothing, and a recorded complaint never lacks its complainant's details.
A batch sealed under a new key for a person who has a key by then is refused whole
(:class:`PersonalKeyConflict`) and sealed again under the person's key.
"""
from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.personal import PersonalDataVault, Sealed
from ledger.store import AppendResult, CommandBatch, ConcurrencyConflict, EventStore, PersonalKeyConflict, open_store
from tests.integration.conftest import START
from tests.integration.scenario import Scenario
from tests.integration.store_helpers import batch, event

FIRST = {"complainant_name": "李四", "contact": "13912345678"}
SECOND = {"complainant_name": "王五", "contact": "13800000000"}


@pytest.fixture
def vault(database_url: str):
    opened = PersonalDataVault(database_url)
    assert opened.db is not None  # its tables made, as a ledger with a vault makes them before its first sealed command
    yield opened
    opened.close()


def _key_of(vault: PersonalDataVault, person_id: str) -> str | None:
    with vault.db.transaction(write=False) as tx:
        row = tx.fetchone("SELECT key_material FROM personal_keys WHERE person_id = ?", (person_id,))
    return row[0] if row else None


def _values(vault: PersonalDataVault, holder: str) -> dict[str, str] | None:
    revealed = vault.reveal(holder)
    return None if revealed is None else revealed.values


def _sealed(vault: PersonalDataVault, person_id: str, holder: str, values: dict[str, str], *, look_up: bool = False):
    return tuple(record for record in vault.records([Sealed(person_id, holder, values)], look_up=look_up) if record is not None)


def test_a_store_keeps_a_batch_s_personal_records_only_if_it_records_the_batch(store: EventStore, vault: PersonalDataVault) -> None:
    a = uuid4()
    store.append(batch("c-1", [event(a, 1)]))
    first, moved = _sealed(vault, "p-1", "complaint:C-1", FIRST), _sealed(vault, "p-2", "complaint:C-2", SECOND)
    outcomes = store.append_many([
        replace(batch("c-2", [event(a, 2)]), personal=first),
        replace(batch("c-3", [event(a, 2)]), personal=moved),  # a is at 2 by then: a conflict
    ])  # fmt: skip
    assert isinstance(outcomes[0], AppendResult) and not outcomes[0].duplicate
    assert type(outcomes[1]) is ConcurrencyConflict
    assert _values(vault, "complaint:C-1") == FIRST
    assert vault.reveal("complaint:C-2") is None and _key_of(vault, "p-2") is None
    with pytest.raises(ConcurrencyConflict):  # alone (atomic), the same: nothing of it is kept
        store.append(replace(batch("c-4", [event(a, 2)]), personal=moved))
    assert vault.reveal("complaint:C-2") is None and _key_of(vault, "p-2") is None
    # a retry is a duplicate: it keeps nothing, not even values sealed under the person's own key
    again = _sealed(vault, "p-1", "complaint:C-1", SECOND, look_up=True)
    assert again[0].key_material == _key_of(vault, "p-1")
    assert store.append(replace(batch("c-2", [event(a, 2)]), personal=again)).duplicate
    assert _values(vault, "complaint:C-1") == FIRST


def test_a_new_key_for_a_person_who_has_one_refuses_the_batch_whole(store: EventStore, vault: PersonalDataVault) -> None:
    a, b = uuid4(), uuid4()
    kept = _sealed(vault, "p-1", "complaint:C-1", FIRST)
    store.append(replace(batch("c-1", [event(a, 1)]), personal=kept))
    fresh = _sealed(vault, "p-1", "complaint:C-2", SECOND)  # presumed new: another key
    assert fresh[0].key_material != kept[0].key_material
    with pytest.raises(PersonalKeyConflict) as refused:
        store.append(replace(batch("c-2", [event(b, 1)]), personal=fresh))
    assert refused.value.person_ids == ("p-1",)
    assert store.command_result("c-2") is None and store.max_position() == 1
    outcomes = store.append_many([replace(batch("c-2", [event(b, 1)]), personal=fresh), batch("c-3", [event(b, 1)])])
    assert isinstance(outcomes[0], PersonalKeyConflict) and outcomes[0].person_ids == ("p-1",)
    assert isinstance(outcomes[1], AppendResult) and outcomes[1].positions == (2,)  # the others are recorded
    assert vault.reveal("complaint:C-2") is None and _key_of(vault, "p-1") == kept[0].key_material
    known = _sealed(vault, "p-1", "complaint:C-2", SECOND, look_up=True)  # sealed again under the person's key
    assert known[0].key_material == kept[0].key_material
    assert store.append(replace(batch("c-2", [event(b, 2)]), personal=known)).positions == (3,)
    assert _values(vault, "complaint:C-2") == SECOND and _values(vault, "complaint:C-1") == FIRST


def test_an_erased_person_s_records_are_not_kept_but_the_batch_is_recorded(store: EventStore, vault: PersonalDataVault) -> None:
    assert vault.erase("p-9", "个人信息保护法 第四十七条") is False  # no key yet: erased all the same
    presumed = _sealed(vault, "p-9", "complaint:C-9", FIRST)  # a command's first sealing reads nothing
    assert store.append(replace(batch("c-9", [event(uuid4(), 1)]), personal=presumed)).positions == (1,)
    assert vault.reveal("complaint:C-9") is None and _key_of(vault, "p-9") is None
    assert _sealed(vault, "p-9", "complaint:C-9", FIRST, look_up=True) == ()  # looked up: nothing to seal


def _filing(complaint_id: str = "C-1", command_id: str = "file-1", **values: str) -> m.FileComplaint:
    return m.FileComplaint(
        command_id=command_id, complaint_id=complaint_id, provider_id="TJ-1", complainant_kind="enterprise",
        enterprise_id="E-1", subject="服务未按合同交付", **{**FIRST, **values},
    )  # fmt: skip


@pytest.fixture(params=[False, True], ids=["one-transaction-each", "group-commit"])
def sealed_ledger(request: pytest.FixtureRequest, database_url: str, vault: PersonalDataVault):
    ledger = Ledger(open_store(database_url), clock=ManualClock(START), handlers=HANDLERS, group_commit=request.param)
    ledger.personal = vault
    Scenario(ledger, ledger.clock).admit("TJ-1", "tianjin")  # type: ignore[arg-type]
    yield ledger
    ledger.store.close()


def test_a_filed_complaint_keeps_its_complainant_s_details_without_a_transaction_of_the_vault(sealed_ledger: Ledger, vault, monkeypatch) -> None:
    opened: list[dict] = []
    transaction = vault.db.transaction

    def counted(**kwargs: bool):
        opened.append(kwargs)
        return transaction(**kwargs)

    monkeypatch.setattr(vault.db, "transaction", counted)
    result = sealed_ledger.execute(_filing())
    assert opened == []  # neither a lookup nor a write of its own: the store kept them with the command
    assert _values(vault, "complaint:C-1") == FIRST
    payload = sealed_ledger.store.command_result("file-1")
    assert payload is not None and payload.positions == result.positions
    assert "李四" not in list(sealed_ledger.store.read_commands())[-1].payload  # markers in the log, never the values


def test_a_complainant_who_has_a_key_has_the_complaint_sealed_again_under_it(sealed_ledger: Ledger, vault, monkeypatch) -> None:
    # the complainant already has a key: kept with a batch that recorded nothing else
    kept = _sealed(vault, "complainant:C-1", "note:N-1", SECOND)
    sealed_ledger.store.append(CommandBatch("seed-key", "TestCommand", "tester", "{}", [], personal=kept))
    looked_up: list[bool] = []
    records = vault.records

    def spied(sealed: list[Sealed], *, look_up: bool):
        looked_up.append(look_up)
        return records(sealed, look_up=look_up)

    monkeypatch.setattr(vault, "records", spied)
    positions = sealed_ledger.store.max_position()
    result = sealed_ledger.execute(_filing())
    assert looked_up == [False, True]  # presumed new, refused by the store, sealed again under the person's key
    assert result.positions == (positions + 1,) and not result.duplicate  # recorded once
    assert _key_of(vault, "complainant:C-1") == kept[0].key_material
    assert _values(vault, "complaint:C-1") == FIRST and _values(vault, "note:N-1") == SECOND
    if sealed_ledger.committer is not None:
        assert sealed_ledger.committer.conflicts == 1
    assert sealed_ledger.execute(_filing()).duplicate  # a retry (the complaint exists: found recorded before)
    assert looked_up == [False, True] and _values(vault, "complaint:C-1") == FIRST
