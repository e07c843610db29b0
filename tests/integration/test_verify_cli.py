"""`ledger verify`, `digest` and `proof` as an auditor runs them (a subprocess on a SQLite ledger):
what the OK line claims, unpinned and malformed digests, nothing signed over a ledger that fails."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from ledger.audit.signing import generate_key
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.settings import Settings
from ledger.store.sqlite import APPEND_ONLY_TRIGGERS
from tests.integration.conftest import DECLARED_FROM, START
from tests.integration.scenario import Scenario


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1", **env}
    environment.pop("LEDGER_DATABASE_URL", None)
    if "LEDGER_SIGNING_KEY_FILE" not in env:
        environment.pop("LEDGER_SIGNING_KEY_FILE", None)
    environment.pop("LEDGER_VERIFY_KEY", None)
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=environment, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ledger with complaints (personal data), made once; tests work on copies."""
    folder = tmp_path_factory.mktemp("ledger")
    clock = ManualClock(START)
    with bootstrap(Settings(database_url=f"sqlite:///{folder}/l.db"), clock=clock) as app:
        scenario = Scenario(app.ledger, clock)
        for jurisdiction, valid_from in DECLARED_FROM.items():
            app.ledger.execute(m.DeclareRulebookValidity(command_id=f"declare-{jurisdiction}", jurisdiction=jurisdiction, valid_from=valid_from, reference="seed"))
        scenario.admit("TJ-1", "tianjin")
        scenario.verify(scenario.complaint("TJ-1"))
        clock.set(date(2025, 6, 1))
        assert app.projections is not None
        app.projections.wait_for()
    return folder / "l.db"


@pytest.fixture
def db(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "l.db"
    shutil.copy(made, copy)
    return copy


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def tamper(path: Path, sql: str) -> None:
    """Change the ledger as its owner can: the append-only triggers dropped, the change, the triggers back."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    for name in APPEND_ONLY_TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql)
    for definition in APPEND_ONLY_TRIGGERS.values():
        conn.execute(definition)
    conn.execute("COMMIT")
    conn.close()


def test_the_ok_line_says_what_was_checked_and_what_only_a_digest_catches(db: Path) -> None:
    result = run("verify", "-d", url(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK:")
    text = " ".join(result.stdout.split())
    assert "checked: the event chain" in text and "the command chain" in text and "personal-data vault" in text
    assert "not checked:" in text and "--digest" in text and "--read-models" in text
    helped = " ".join(run("verify", "--help").stdout.split())
    assert "--read-models" in helped and "only a digest" in helped


def test_verify_names_a_deleted_last_command_row(db: Path) -> None:
    conn = sqlite3.connect(db)
    seq, command_id = conn.execute("SELECT seq, command_id FROM ledger_commands ORDER BY seq DESC LIMIT 1").fetchone()
    conn.close()
    tamper(db, f"DELETE FROM ledger_commands WHERE seq = {seq}")
    result = run("verify", "-d", url(db))
    assert result.returncode == 1
    assert command_id in result.stderr and "not in the command chain" in result.stderr


def test_verify_read_models_names_an_edited_row(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE rm_lists_g1 SET article = '第十二条（二）' WHERE 1") if conn.execute("SELECT count(*) FROM rm_lists_g1").fetchone()[0] else None
    conn.execute("UPDATE rm_registry_g1 SET name = 'forged' WHERE provider_id = 'TJ-1'")
    conn.close()
    assert run("verify", "-d", url(db)).returncode == 0
    result = run("verify", "--read-models", "-d", url(db))
    assert result.returncode == 1
    assert "read model registry" in result.stderr and "TJ-1" in result.stderr


def test_api_verify_answers_as_the_cli(db: Path) -> None:
    from fastapi.testclient import TestClient

    from api import create_app
    from api.auth import Principal, mint_token
    from api.settings import ApiSettings

    tamper(db, "UPDATE ledger_commands SET payload = '{\"forged\":true}' WHERE seq = 2")
    cli = run("verify", "--json", "-d", url(db))
    assert cli.returncode == 1
    settings = ApiSettings(jwt_secret="test-secret-of-the-api-suite-0123456789", _env_file=None)
    with bootstrap(Settings(database_url=url(db))) as app, TestClient(create_app(app, settings), raise_server_exceptions=False) as client:
        token = mint_token(Principal(sub="auditor-1", role="auditor"), settings)
        answer = client.get("/v1/verify", headers={"Authorization": f"Bearer {token}"}).json()
    assert answer["ok"] is False
    assert answer["problems"] == json.loads(cli.stdout)["problems"] != []


# -- digests ---------------------------------------------------------------------------------------


def test_an_unpinned_digest_says_whose_key_signed_it(db: Path, tmp_path: Path) -> None:
    public = generate_key(tmp_path / "key.pem")
    assert run("digest", str(tmp_path / "d.json"), "-d", url(db), LEDGER_SIGNING_KEY_FILE=str(tmp_path / "key.pem")).returncode == 0
    result = run("verify", "--digest", str(tmp_path / "d.json"), "-d", url(db))
    assert result.returncode == 0, result.stderr
    assert f"signed by {public}" in result.stdout and "no key was pinned" in result.stdout
    pinned = run("verify", "--digest", str(tmp_path / "d.json"), "--public-key", public, "-d", url(db))
    assert pinned.returncode == 0 and "pinned" in pinned.stdout and "no key was pinned" not in pinned.stdout
    assert run("digest", str(tmp_path / "u.json"), "-d", url(db)).returncode == 0
    unsigned = run("verify", "--digest", str(tmp_path / "u.json"), "-d", url(db))
    assert unsigned.returncode == 0 and "unsigned" in unsigned.stdout


@pytest.mark.parametrize("content, field", [
    ({"position": -1, "hash": "0"}, "position"),
    ({"tree_root": 5}, "tree_root"),
    ({"command_seq": "x"}, "command_seq"),
    ([1, 2], "a JSON object"),
])  # fmt: skip
def test_a_malformed_digest_is_refused_in_one_line_naming_the_field(db: Path, tmp_path: Path, content: object, field: str) -> None:
    assert run("digest", str(tmp_path / "d.json"), "-d", url(db)).returncode == 0
    good = json.loads((tmp_path / "d.json").read_text())
    data = {**good, **content} if isinstance(content, dict) else content
    (tmp_path / "bad.json").write_text(json.dumps(data))
    result = run("verify", "--digest", str(tmp_path / "bad.json"), "-d", url(db))
    assert result.returncode == 1
    assert field in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("how", ["command-chain", "trigger"])
def test_no_digest_nor_proof_is_written_over_a_ledger_that_fails_verification(db: Path, tmp_path: Path, how: str) -> None:
    assert run("digest", str(tmp_path / "old.json"), "-d", url(db)).returncode == 0
    if how == "command-chain":
        tamper(db, "UPDATE ledger_commands SET payload = '{\"forged\":true}' WHERE seq = 2")
    else:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("DROP TRIGGER ledger_commands_no_delete")
        conn.execute("CREATE TRIGGER ledger_commands_no_delete BEFORE DELETE ON ledger_commands BEGIN SELECT 1; END")
        conn.close()
    for args, target in (
        (("digest", str(tmp_path / "d.json")), tmp_path / "d.json"),
        (("proof", "1", "-o", str(tmp_path / "p.json")), tmp_path / "p.json"),
        (("proof", "--consistency", str(tmp_path / "old.json"), "-o", str(tmp_path / "c.json")), tmp_path / "c.json"),
    ):
        result = run(*args, "-d", url(db))
        assert result.returncode == 1, (args, result.stdout)
        said = [line for line in result.stderr.strip().splitlines() if "━" not in line and not line.startswith("warning:")]
        assert len(said) == 1 and "does not verify" in said[0], result.stderr  # one line (and the warning opening the ledger gives)
        assert not target.exists()
