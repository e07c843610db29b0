"""Receipts prove the event's content, not only its hash; a later digest is checked against an earlier
one offline (``ledger verify --digest OLD --against LATER``, ``tools/verify_receipt.py --earlier``)."""
from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from ledger.audit.receipts import ProofError, check_extends
from ledger.audit.signing import generate_key
from ledger.audit.verify import Digest
from ledger.store import EventStore, open_store
from tests.integration.store_helpers import batch, event
from tests.integration.test_receipts import run, verify

EVENTS = 6


def flip(h: str) -> str:
    return ("0" if h[0] != "0" else "1") + h[1:]


@pytest.fixture
def signed(tmp_path: Path) -> tuple[str, dict[str, str]]:
    public = generate_key(tmp_path / "key.pem")
    return public, {"LEDGER_SIGNING_KEY_FILE": str(tmp_path / "key.pem")}


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_a_receipt_whose_event_was_altered_but_leaf_kept_is_refused(tmp_path: Path, store: EventStore, database_url: str, signed) -> None:
    public, signing = signed
    aggregate = uuid4()
    for c in range(EVENTS):
        store.append(batch(f"cmd-{c}", [event(aggregate, c + 1, state={"sanction": "警告", "n": c})]))
    made = run("-m", "ledger", "proof", "4", "-d", database_url, "-o", str(tmp_path / "r.json"), **signing)
    assert made.returncode == 0, made.stderr
    receipt = json.loads((tmp_path / "r.json").read_text())
    ok = verify(tmp_path / "r.json", "--public-key", public)
    assert ok.returncode == 0 and ok.stdout.startswith(f"OK: event {aggregate}/4 is at position 4"), ok.stderr

    for name, value in (
        ("state", json.dumps({"sanction": "无", "n": 3}, ensure_ascii=False)),  # the payload a court would read
        ("topic", "tests.things:Thing.Withdrawn"),
        ("recorded_at", "2020-01-01T00:00:00+00:00"),
        ("effective_on", None),
        ("recorded_by", "someone else"),
        ("command_id", "cmd-forged"),
        ("originator_id", str(uuid4())),
        ("originator_version", 5),
        ("prev_hash", flip(receipt["event"]["prev_hash"])),
    ):
        forged = json.loads(json.dumps(receipt))
        forged["event"][name] = value  # leaf, hash, audit path and signed tree head all kept
        result = verify(write(tmp_path / "forged.json", forged), "--public-key", public)
        assert result.returncode == 1 and result.stdout == "", (name, result.stdout)
        assert "the event's fields do not hash to its leaf" in result.stderr, (name, result.stderr)
    forged = json.loads(json.dumps(receipt))
    forged["event"]["originator_version"] = "4"  # renders differently in the hash's JSON
    assert "field 'originator_version' is missing or not a int" in verify(write(tmp_path / "forged.json", forged)).stderr
    forged["event"]["position"] = "4"
    assert "is not the receipt's leaf" in verify(write(tmp_path / "forged.json", forged)).stderr


def test_a_later_digest_is_checked_against_an_earlier_one_offline(tmp_path: Path, database_url: str, signed, backend: str) -> None:
    public, signing = signed
    store = open_store(database_url)
    aggregate = uuid4()
    try:
        for c in range(EVENTS):
            store.append(batch(f"cmd-{c}", [event(aggregate, c + 1)]))
        old, later, proof = tmp_path / "old.json", tmp_path / "later.json", tmp_path / "proof.json"
        assert run("-m", "ledger", "digest", str(old), "-d", database_url, **signing).returncode == 0
        for c in range(EVENTS, EVENTS + 3):
            store.append(batch(f"cmd-{c}", [event(aggregate, c + 1)]))
        assert run("-m", "ledger", "digest", str(later), "-d", database_url, **signing).returncode == 0
        made = run("-m", "ledger", "proof", "--consistency", str(old), "-d", database_url, "-o", str(proof), **signing)
        assert made.returncode == 0, made.stderr
    finally:
        store.close()

    def offline(against: Path, *extra: str) -> tuple[int, str]:
        # no -d and no ledger: the database URL points nowhere
        result = run("-m", "ledger", "verify", "--digest", str(old), "--against", str(against), "--public-key", public,
                     *extra, LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'nowhere.db'}")  # fmt: skip
        assert "Traceback" not in result.stderr
        return result.returncode, result.stdout + result.stderr

    code, out = offline(proof)
    assert code == 0 and f"extends the digest of {EVENTS} events" in out and "consistency proof verified" in out, out
    code, out = offline(later)
    assert code == 0 and f"holds the earlier head at position {EVENTS}" in out, out
    assert not (tmp_path / "nowhere.db").exists()

    the_proof = json.loads(proof.read_text())
    the_later = json.loads(later.read_text())
    tampered = {
        "a consistency path entry": (proof, dict(the_proof, consistency_path=[flip(the_proof["consistency_path"][0]), *the_proof["consistency_path"][1:]]), "does not show the tree of"),
        "the proof's earlier root": (proof, dict(the_proof, old_root=flip(the_proof["old_root"])), "not from the earlier digest's tree"),
        "the proof's root": (proof, dict(the_proof, root=flip(the_proof["root"])), "does not lead to its own tree head"),
        "the later tree head": (proof, dict(the_proof, tree_head=dict(the_proof["tree_head"], tree_root=flip(the_proof["root"]))), "signature does not verify"),
        "a later checkpoint": (later, dict(the_later, checkpoints=[[p, flip(h) if p == 3 else h] for p, h in the_later["checkpoints"]]), "signature does not verify"),
        "the later size": (later, dict(the_later, position=EVENTS - 1), "signature does not verify"),
    }
    old_digest = Digest.load(old)
    for _, data, message in tampered.values():
        with pytest.raises(ProofError, match=message):
            check_extends(old_digest, data, public)
    code, out = offline(write(tmp_path / "tampered.json", tampered["a consistency path entry"][1]))
    assert code == 1 and "does not extend the earlier digest: the consistency proof does not show the tree of" in out, out
    # the verifier given to a court: the proof must start from the digest the court kept
    ok = verify(proof, "--public-key", public, "--earlier", str(old))
    assert ok.returncode == 0 and f"extends the tree of {EVENTS}" in ok.stdout, ok.stderr
    forged_old = dict(json.loads(old.read_text()), tree_root=flip(json.loads(old.read_text())["tree_root"]))
    refused = verify(proof, "--public-key", public, "--earlier", str(write(tmp_path / "forged-old.json", forged_old)))
    assert refused.returncode == 1 and "not from the earlier digest's tree" in refused.stderr, refused.stderr
    old_data = json.loads(old.read_text())
    other_root = dict(the_proof, old_root=old_data["tree_root"])  # an honest old root cannot rescue a wrong path
    assert verify(write(tmp_path / "p2.json", dict(other_root, old_size=EVENTS - 1)), "--earlier", str(old)).returncode == 1


def test_digests_of_two_different_histories_part_ways(tmp_path: Path, database_url: str, signed) -> None:
    """The later digest was taken of a rewritten log (re-signed with the operator's key): named by position."""
    public, signing = signed
    first, second = open_store(database_url), None
    try:
        aggregate = uuid4()
        events = [event(aggregate, c + 1, state={"n": c}) for c in range(EVENTS + 2)]
        for c in range(EVENTS):
            first.append(batch(f"cmd-{c}", [events[c]]))
        old = tmp_path / "old.json"
        assert run("-m", "ledger", "digest", str(old), "-d", database_url, **signing).returncode == 0
        other_url = f"sqlite:///{tmp_path / 'rewritten.db'}"
        second = open_store(other_url)
        for c in range(EVENTS + 2):  # the same history but for the fifth event
            rewritten = event(aggregate, 5, state={"n": 40}, recorded_at=events[4].recorded_at) if c == 4 else events[c]
            second.append(batch(f"cmd-{c}", [rewritten]))
        later = tmp_path / "later.json"
        assert run("-m", "ledger", "digest", str(later), "-d", other_url, **signing).returncode == 0
    finally:
        first.close()
        if second is not None:
            second.close()
    result = run("-m", "ledger", "verify", "--digest", str(old), "--against", str(later), "--public-key", public)
    assert result.returncode == 1 and "the digests part ways at position 5 (they agree up to position 4)" in result.stderr, result.stderr
    usage = run("-m", "ledger", "verify", "--against", str(later))
    assert usage.returncode == 1 and "--against LATER goes with --digest OLD" in usage.stderr
