"""Receipts: `ledger proof` gives an inclusion proof (and a consistency proof) that the standalone
verifier accepts, and that it refuses once anything in it is changed; on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

from ledger.audit.signing import generate_key
from ledger.store import EventStore
from tests.integration.store_helpers import batch, event

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_receipt.py"
EVENTS = 7


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def verify(path: Path, *extra: str) -> subprocess.CompletedProcess:
    # run from an empty directory with no PYTHONPATH: the verifier must not need the ledger package
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-I", str(VERIFIER), str(path), *extra], env=env, cwd=path.parent, capture_output=True, text=True, timeout=60)


def test_a_receipt_verifies_offline_and_a_tampered_one_does_not(tmp_path: Path, store: EventStore, database_url: str) -> None:
    aggregate = uuid4()
    for c in range(EVENTS):
        store.append(batch(f"cmd-{c}", [event(aggregate, c + 1)]))
    public = generate_key(tmp_path / "key.pem")
    signing = {"LEDGER_SIGNING_KEY_FILE": str(tmp_path / "key.pem")}
    assert run("-m", "ledger", "digest", str(tmp_path / "old.json"), "-d", database_url, **signing).returncode == 0
    store.append(batch("cmd-late", [event(aggregate, EVENTS + 1)]))

    made = run("-m", "ledger", "proof", f"{aggregate}/3", "-d", database_url, "-o", str(tmp_path / "r.json"), **signing)
    assert made.returncode == 0, made.stderr
    receipt = json.loads((tmp_path / "r.json").read_text())
    assert receipt["position"] == 3 and receipt["tree_size"] == EVENTS + 1 and receipt["tree_head"]["signature"]
    ok = verify(tmp_path / "r.json", "--public-key", public)
    assert ok.returncode == 0 and ok.stdout.startswith(f"OK: event {aggregate}/3 is at position 3 of the tree of 8"), ok.stderr

    def refused(change, *extra: str) -> str:
        forged = json.loads(json.dumps(receipt))
        change(forged)
        (tmp_path / "forged.json").write_text(json.dumps(forged))
        result = verify(tmp_path / "forged.json", *extra)
        assert result.returncode == 1 and result.stdout == "", result.stdout
        return result.stderr

    flip = lambda h: ("0" if h[0] != "0" else "1") + h[1:]
    assert "audit path does not lead" in refused(lambda r: r["audit_path"].__setitem__(1, flip(r["audit_path"][1])))
    assert "audit path does not lead" in refused(lambda r: r.update(position=4, event={**r["event"], "position": 4}))
    assert "audit path does not lead" in refused(lambda r: r.update(leaf=flip(r["leaf"]), event={**r["event"], "hash": flip(r["leaf"])}))
    assert "is not the receipt's leaf" in refused(lambda r: r["event"].update(hash=flip(r["leaf"])))
    assert "audit path does not lead" in refused(lambda r: r.update(root=flip(r["root"])))
    assert "tree head does not name" in refused(lambda r: r.update(tree_size=EVENTS))
    assert "signature does not verify" in refused(lambda r: r["tree_head"].update(taken_at="2020-01-01T00:00:00+00:00"))
    assert "another key" in refused(lambda r: None, "--public-key", "A" * 43 + "=")
    assert "not signed" in refused(lambda r: r["tree_head"].pop("signature"), "--public-key", public)

    # the later log extends the earlier digest
    consistent = run("-m", "ledger", "proof", "--consistency", str(tmp_path / "old.json"), "-d", database_url, "-o", str(tmp_path / "c.json"), **signing)
    assert consistent.returncode == 0, consistent.stderr
    ok = verify(tmp_path / "c.json", "--public-key", public)
    assert ok.returncode == 0 and f"the tree of {EVENTS + 1} events" in ok.stdout and f"extends the tree of {EVENTS}" in ok.stdout
    proof = json.loads((tmp_path / "c.json").read_text())
    proof["old_root"] = flip(proof["old_root"])
    (tmp_path / "c.json").write_text(json.dumps(proof))
    assert "consistency proof does not show" in verify(tmp_path / "c.json").stderr


def test_proof_errors_are_one_line(tmp_path: Path, store: EventStore, database_url: str) -> None:
    store.append(batch("cmd-0", [event(uuid4(), 1)]))
    for args, message in (
        (["proof", "5"], "no event at position 5: the log holds 1"),
        (["proof", f"{uuid4()}/1"], "no event"),
        (["proof"], "give either an EVENT_REF or --consistency"),
        (["proof", "--consistency", "9"], "the earlier size 9 is beyond the log's 1 events"),
    ):
        result = run("-m", "ledger", *args, "-d", database_url)
        assert result.returncode == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
