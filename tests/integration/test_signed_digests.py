"""Signed digests: Ed25519 over the head, checkpoints that locate a recomputed chain, the command head."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.audit import recompute_hash, take_digest, verify_against_digest
from ledger.audit.integrity import command_head_problems
from ledger.audit.signing import generate_key, load_key, public_key_of, sign, signature_problem
from ledger.store import GENESIS_HASH, EventStore, open_store
from tests.integration.store_helpers import batch, event
from tests.integration.test_protections import _behind_the_back

EVENTS = 12


def build(store: EventStore) -> None:
    a = uuid4()
    for c in range(EVENTS):
        store.append(batch(f"cmd-{c}", [event(a, c + 1)]))


def test_a_signed_digest_verifies_and_any_change_to_it_does_not(tmp_path: Path, store: EventStore) -> None:
    build(store)
    public = generate_key(tmp_path / "key.pem")
    assert oct((tmp_path / "key.pem").stat().st_mode & 0o777) == "0o600"
    digest = sign(take_digest(store), load_key(tmp_path / "key.pem"))
    assert signature_problem(digest, public) is None
    assert len(digest.checkpoints) == EVENTS and digest.command_seq == EVENTS
    for change in ({"position": 11}, {"hash": "0" * 64}, {"checkpoints": digest.checkpoints[1:]}, {"command_hash": "0" * 64}):
        assert "does not verify" in str(signature_problem(dataclasses.replace(digest, **change), public))
    other = sign(digest, Ed25519PrivateKey.generate())
    assert signature_problem(other, public) == "the digest is signed by another key than the one pinned"
    unsigned = dataclasses.replace(digest, signature=None, public_key=None)
    assert signature_problem(unsigned, public) == "the digest is not signed"
    assert signature_problem(unsigned) is None  # nothing pinned: an unsigned digest is only a digest


def test_verify_names_where_a_recomputed_chain_parts_ways_with_the_digest(store: EventStore, raw_db) -> None:
    build(store)
    digest = take_digest(store)
    prev = GENESIS_HASH
    for e in store.read_all():  # an attacker who knows the algorithm rewrites event 5 and re-hashes on
        if e.position >= 5:
            e = dataclasses.replace(e, state='{"forged":true}' if e.position == 5 else e.state, prev_hash=prev)
            e = dataclasses.replace(e, hash=recompute_hash(e))
            raw_db.tamper_update(e.position, state=e.state, prev_hash=e.prev_hash, hash=e.hash)
        prev = e.hash
    report = verify_against_digest(store, digest)
    assert not report.ok and report.first_bad_position == 5
    assert "the ledger and the digest part ways at position 5" in report.reason


def test_a_rewritten_command_chain_is_caught_by_the_digest(store: EventStore, raw_db) -> None:
    build(store)
    digest = take_digest(store)
    assert command_head_problems(store, digest) == []
    _behind_the_back(raw_db, "ledger_commands", f"UPDATE ledger_commands SET hash = '{'1' * 64}' WHERE seq = {EVENTS}")
    assert command_head_problems(store, digest) == [
        f"command {EVENTS} no longer has the hash of the digest: the command chain was rewritten"
    ]


def test_the_cli_signs_digests_and_refuses_an_altered_one(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}

    def ledger(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ledger", *args], env={**env, **extra}, capture_output=True, text=True, timeout=300)

    store = open_store(f"sqlite:///{tmp_path}/l.db")  # a ledger with an event (a read never creates one)
    store.append(batch("c1", [event(uuid4(), 1)]))
    store.close()
    made = ledger("keygen", str(tmp_path / "key.pem"))
    public = made.stdout.split("public key: ")[1].strip()
    assert public == public_key_of(load_key(tmp_path / "key.pem"))
    assert ledger("digest", str(tmp_path / "d.json"), LEDGER_SIGNING_KEY_FILE=str(tmp_path / "key.pem")).returncode == 0
    ok = ledger("verify", "--digest", str(tmp_path / "d.json"), "--public-key", public)
    assert ok.returncode == 0, ok.stderr
    data = json.loads((tmp_path / "d.json").read_text())
    data["taken_at"] = "2020-01-01T00:00:00+00:00"
    (tmp_path / "d.json").write_text(json.dumps(data))
    refused = ledger("verify", "--digest", str(tmp_path / "d.json"), "--public-key", public)
    assert refused.returncode == 1 and "signature does not verify" in refused.stderr
    assert ledger("keygen", str(tmp_path / "key.pem")).returncode == 1  # never overwritten
