"""One verification for the CLI, the API, digests and receipts: the event chain, the command chain and
how the two name each other, the protections, the read models' position (and, asked, their content),
and the personal-data vault. Each tampering below passed `ledger verify` (or /v1/verify) before."""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import date

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.audit import Digest, take_digest
from ledger.audit.integrity import LedgerUnsound, require_sound, verify_ledger
from ledger.audit.receipts import ProofError, consistency_receipt, inclusion_receipt
from ledger.bootstrap import App, bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.settings import Settings
from ledger.views import VerifyResult
from tests.conftest import RawDatabase
from tests.integration.conftest import DECLARED_FROM, START
from tests.integration.scenario import Scenario
from tests.integration.test_protections import _behind_the_back


class Audited:
    def __init__(self, app: App, raw: RawDatabase, complaints: list[str]) -> None:
        self.app, self.raw, self.complaints = app, raw, complaints

    def verify(self, digest: Digest | None = None, *, read_models: bool = False) -> VerifyResult:
        return self.app.views.verify(digest, read_models=read_models)

    def table(self, name: str) -> str:
        """The live physical table of read model ``name`` (``rm_registry_g1``)."""
        live = self.raw.execute("SELECT live FROM projection_generation WHERE id = 1")[0][0]
        return f"rm_{name}_g{live}"


@pytest.fixture
def audited(database_url: str) -> Iterator[Audited]:
    clock = ManualClock(START)
    app = bootstrap(Settings(database_url=database_url), clock=clock)
    scenario = Scenario(app.ledger, clock)
    for jurisdiction, valid_from in DECLARED_FROM.items():
        app.ledger.execute(m.DeclareRulebookValidity(command_id=f"declare-{jurisdiction}", jurisdiction=jurisdiction, valid_from=valid_from, reference="seed"))
    scenario.admit("TJ-1", "tianjin")
    scenario.admit("TJ-2", "tianjin")
    complaints = [scenario.complaint("TJ-1"), scenario.complaint("TJ-2", "public")]
    scenario.verify(complaints[0])
    clock.set(date(2025, 6, 1))
    assert app.projections is not None
    app.projections.wait_for()
    raw = RawDatabase(database_url)
    try:
        yield Audited(app, raw, complaints)
    finally:
        raw.close()
        app.close()


def test_an_untouched_ledger_verifies_and_says_what_was_checked(audited: Audited) -> None:
    result = audited.verify()
    assert result.ok and result.chain_ok and result.problems == [], result.problems
    checked = " ".join(result.checks)
    for part in ("event chain", "command chain", "protections", "read models", "personal-data vault"):
        assert part in checked, checked
    unchecked = " ".join(result.unchecked)
    assert "--digest" in unchecked and "--read-models" in unchecked
    assert "newest events" in unchecked and "re-hashed" in unchecked
    assert result.summary.startswith("OK:")


# -- finding 2: a deleted command row ----------------------------------------------------------------


def test_a_deleted_last_command_row_is_named(audited: Audited) -> None:
    last, command_id, first, end = audited.raw.execute(
        "SELECT seq, command_id, first_position, last_position FROM ledger_commands WHERE first_position IS NOT NULL ORDER BY seq DESC LIMIT 1"
    )[0]
    _behind_the_back(audited.raw, "ledger_commands", f"DELETE FROM ledger_commands WHERE seq >= {last}")
    result = audited.verify()
    assert not result.ok and result.chain_ok
    span = f"{first}..{end}" if first != end else f"{first}"
    assert any(span in p and command_id in p and "not in the command chain" in p for p in result.problems), result.problems


def test_events_that_name_another_command_than_the_chain_records_are_named(audited: Audited) -> None:
    """A command row deleted in the middle and the chain after it re-hashed: the command chain holds, but
    the events of the deleted command name a command the chain no longer records there."""
    from ledger.store.base import command_hash

    rows = audited.raw.execute(
        "SELECT seq, command_id, first_position FROM ledger_commands WHERE first_position IS NOT NULL ORDER BY seq"
    )
    seq, command_id, first = rows[len(rows) // 2]
    _behind_the_back(audited.raw, "ledger_commands", f"DELETE FROM ledger_commands WHERE seq = {seq}")
    commands = list(audited.app.store.read_commands(after=seq - 1))
    prev = audited.raw.execute(f"SELECT hash FROM ledger_commands WHERE seq = {seq - 1}")[0][0]
    for c in commands:  # renumber and re-hash the rest, as someone who knows the algorithm would
        new_seq = c.seq - 1
        h = command_hash(prev, new_seq, c.command_id, c.command_type, c.recorded_by, c.recorded_at, c.payload_digest, c.first_position, c.last_position)
        _behind_the_back(audited.raw, "ledger_commands", f"UPDATE ledger_commands SET seq = {new_seq}, prev_hash = '{prev}', hash = '{h}' WHERE command_id = '{c.command_id}'")
        prev = h
    result = audited.verify()
    assert result.chain_ok and not result.ok
    assert any(str(first) in p and command_id in p for p in result.problems), result.problems


# -- finding 1: the API runs the same checks -------------------------------------------------------


def test_the_views_verification_reports_the_command_chain_and_the_protections(audited: Audited) -> None:
    _behind_the_back(audited.raw, "ledger_commands", "UPDATE ledger_commands SET payload = '{\"forged\":true}' WHERE seq = 2")
    if audited.raw.backend == "sqlite":
        audited.raw.execute("DROP TRIGGER ledger_events_no_delete")
    else:
        audited.raw.execute("ALTER TABLE ledger_events DISABLE TRIGGER USER")
    result = audited.verify()
    assert result.chain_ok and not result.ok
    assert any("command chain broken at command 2" in p for p in result.problems), result.problems
    named = "ledger_events_no_delete" if audited.raw.backend == "sqlite" else "switched off"
    assert any("protection" in p and named in p for p in result.problems), result.problems
    assert result.problems == verify_ledger(audited.app.store).problems  # one verification


def test_removing_the_newest_events_is_caught_by_the_read_models_position(audited: Audited) -> None:
    head = audited.app.store.max_position()
    audited.raw.tamper_delete(head)
    result = audited.verify()
    assert not result.ok and any("folded events up to position" in p for p in result.problems), result.problems


# -- finding 3: the vault ----------------------------------------------------------------------------


def test_a_deleted_vault_record_without_an_erasure_is_named(audited: Audited) -> None:
    holder = f"complaint:{audited.complaints[0]}"
    audited.raw.execute(f"DELETE FROM personal_data WHERE holder = '{holder}'")
    result = audited.verify()
    assert not result.ok
    assert any(holder in p and "no erasure" in p for p in result.problems), result.problems


def test_a_deleted_vault_is_named(audited: Audited) -> None:
    for table in ("personal_data", "personal_keys", "personal_macs"):
        audited.raw.execute(f"DELETE FROM {table}")
    result = audited.verify()
    assert not result.ok
    for complaint in audited.complaints:
        assert any(f"complaint:{complaint}" in p for p in result.problems), result.problems


def test_a_deleted_key_without_an_erasure_is_named(audited: Audited) -> None:
    person = f"complainant:{audited.complaints[1]}"
    audited.raw.execute(f"DELETE FROM personal_keys WHERE person_id = '{person}'")
    result = audited.verify()
    assert not result.ok and any(person in p and "no erasure" in p for p in result.problems), result.problems


def test_an_erasure_verifies_and_a_key_kept_after_it_is_named(audited: Audited) -> None:
    person = f"complainant:{audited.complaints[1]}"
    key = audited.raw.execute(f"SELECT key_material, created_at FROM personal_keys WHERE person_id = '{person}'")[0]
    vault = audited.app.ledger.personal
    assert vault is not None and vault.erase(person, "retention period ended")
    assert audited.verify().ok, audited.verify().problems
    p = audited.raw.placeholder
    audited.raw.execute(f"INSERT INTO personal_keys (person_id, key_material, created_at) VALUES ({p}, {p}, {p})", (person, *key))
    result = audited.verify()
    assert not result.ok and any(person in p and "still kept" in p for p in result.problems), result.problems


def _reencrypt(audited: Audited, holder: str, values: dict[str, str]) -> None:
    person, = audited.raw.execute(f"SELECT person_id FROM personal_data WHERE holder = '{holder}'")[0]
    key = bytes.fromhex(audited.raw.execute(f"SELECT key_material FROM personal_keys WHERE person_id = '{person}'")[0][0])
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(values, ensure_ascii=False, sort_keys=True).encode(), holder.encode())
    audited.raw.execute(f"UPDATE personal_data SET nonce = '{nonce.hex()}', ciphertext = '{ciphertext.hex()}' WHERE holder = '{holder}'")


def test_a_record_re_encrypted_with_forged_values_is_named_by_its_mac(audited: Audited) -> None:
    holder = f"complaint:{audited.complaints[0]}"
    _reencrypt(audited, holder, {"complainant_name": "someone else", "contact": "13900000000"})
    result = audited.verify()
    assert not result.ok and any(holder in p and "MAC" in p for p in result.problems), result.problems


def test_a_record_whose_ciphertext_was_altered_is_named(audited: Audited) -> None:
    holder = f"complaint:{audited.complaints[0]}"
    audited.raw.execute(f"UPDATE personal_data SET nonce = '{'0' * 24}' WHERE holder = '{holder}'")
    result = audited.verify()
    assert not result.ok and any(holder in p and "does not decrypt" in p for p in result.problems), result.problems


def test_a_record_re_encrypted_with_its_mac_recomputed_is_beyond_verify_and_said_so(audited: Audited) -> None:
    """The MAC is keyed by the person's key, kept beside the record: whoever can rewrite the record with
    that key can recompute its MAC too. Verify cannot tell, and says so."""
    from ledger.personal import Sealed, _mac

    holder = f"complaint:{audited.complaints[0]}"
    forged = {"complainant_name": "someone else", "contact": "13900000000"}
    _reencrypt(audited, holder, forged)
    person, = audited.raw.execute(f"SELECT person_id FROM personal_data WHERE holder = '{holder}'")[0]
    key = bytes.fromhex(audited.raw.execute(f"SELECT key_material FROM personal_keys WHERE person_id = '{person}'")[0][0])
    audited.raw.execute(f"UPDATE personal_macs SET mac = '{_mac(key, Sealed(person, holder, forged))}' WHERE holder = '{holder}'")
    result = audited.verify()
    assert result.ok
    assert any("MAC" in u and "key" in u for u in result.unchecked), result.unchecked


# -- finding 3(c): the read models' content --------------------------------------------------------


@pytest.mark.parametrize("table, change", [
    ("registry", "UPDATE {t} SET status = 'removed' WHERE provider_id = 'TJ-1'"),
    ("counters", "UPDATE {t} SET value = value + 1 WHERE provider_id = 'TJ-1'"),
    ("timeline", "DELETE FROM {t} WHERE provider_id = 'TJ-2'"),
])  # fmt: skip
def test_an_edited_read_model_is_named_by_a_rebuild(audited: Audited, table: str, change: str) -> None:
    assert audited.verify(read_models=True).ok, audited.verify(read_models=True).problems
    audited.raw.execute(change.format(t=audited.table(table)))
    assert audited.verify().ok  # not without --read-models: the summary says so
    result = audited.verify(read_models=True)
    assert not result.ok
    assert any(f"read model {table}" in p and "differs" in p for p in result.problems), result.problems
    assert any("read models' content" in c for c in result.checks)


# -- finding 5: nothing signed over a ledger that does not verify -----------------------------------


def test_no_digest_nor_receipt_over_a_broken_command_chain(audited: Audited) -> None:
    require_sound(audited.app.store)
    _behind_the_back(audited.raw, "ledger_commands", "UPDATE ledger_commands SET payload = '{\"forged\":true}' WHERE seq = 2")
    with pytest.raises(LedgerUnsound, match="command chain broken at command 2"):
        require_sound(audited.app.store)
    with pytest.raises(ProofError, match="does not verify"):
        inclusion_receipt(audited.app.store, "1")
    with pytest.raises(ProofError, match="does not verify"):
        consistency_receipt(audited.app.store, 1)


def test_no_consistency_proof_from_a_digest_the_log_no_longer_extends(audited: Audited) -> None:
    from ledger.audit import recompute_hash
    from ledger.store.base import GENESIS_HASH

    store = audited.app.store
    old = take_digest(store)
    assert consistency_receipt(store, old)["old_size"] == old.position
    prev = GENESIS_HASH
    for e in list(store.read_all()):  # rewrite event 3, re-hash every event after it
        if e.position >= 3:
            e = dataclasses.replace(e, state='{"forged":true,' + e.state[1:] if e.position == 3 else e.state, prev_hash=prev)
            e = dataclasses.replace(e, hash=recompute_hash(e))
            audited.raw.tamper_update(e.position, state=e.state, prev_hash=e.prev_hash, hash=e.hash)
        prev = e.hash
    with pytest.raises(ProofError, match="no longer extends"):
        consistency_receipt(store, old)


# -- finding 6 ----------------------------------------------------------------------------------------


def test_an_unreadable_originator_id_names_its_position_and_column(audited: Audited) -> None:
    if audited.raw.backend != "sqlite":
        pytest.skip("PostgreSQL's uuid column refuses a malformed id")
    audited.raw.tamper_update(4, originator_id="not-a-uuid")
    result = audited.verify()
    assert not result.ok and result.first_bad_position == 4
    assert "originator_id" in result.reason, result.reason
