"""A SQLite ledger this process may not write — an auditor's archived copy on a read-only mount, an
immutable file — is read, verified and queried as it stands: every connection reads it through a
read-only URI, nothing is created beside it, its read models are not caught up (a warning says how
far behind the log they are), and a write fails instead of changing it.

Whether the file may be written is the operating system's answer (``ledger.store.sqlite.writable``);
as root, permissions do not refuse, so most tests take that answer as "no" and check what the
ledger then does; the last checks the answer itself where the machine can make a file unwritable."""
from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.settings import Settings
from ledger.store import ReadOnlyLedger
from ledger.store import sqlite as sqlite_store
from ledger.store.sqlite import writable
from tests.integration.conftest import DECLARED_FROM
from tests.integration.scenario import Scenario


def _ledger(path: Path, *, unprojected: int = 0) -> None:
    """A small ledger at ``path``; with ``unprojected``, that many more commands recorded without the
    read models following (as by a process that stopped before they caught up)."""
    clock = ManualClock(date(2025, 3, 1))
    with bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=clock) as app:
        for jurisdiction, valid_from in DECLARED_FROM.items():
            app.ledger.execute(m.DeclareRulebookValidity(
                command_id=f"declare-{jurisdiction}", jurisdiction=jurisdiction, valid_from=valid_from, reference="test",
            ))  # fmt: skip
        scenario = Scenario(app.ledger, clock)
        scenario.admit("TJ-1", "tianjin", on=date(2025, 2, 1))
        scenario.admit("XX-1", "xinxiang", on=date(2025, 2, 1))
    with bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=clock, projections=False) as app:
        for n in range(unprojected):
            app.ledger.execute(m.RecordScore(
                command_id=f"score-{n}", provider_id="TJ-1", year=2024, score=90 - n, effective_on=date(2025, 2, 20),
            ))  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _unwritable(monkeypatch) -> None:
    """From now on the operating system says no file may be written."""
    for module in ("ledger.store.sqlite", "ledger.projections.db"):
        monkeypatch.setattr(f"{module}.writable", lambda path: False)


def _checkpointed(path: Path) -> None:
    """As an archived copy is: the WAL folded into the file, no ``-wal`` or ``-shm`` beside it."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = DELETE")
    db.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")  # the ledger's mode, recorded in the file's header
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_read_only_ledger_is_read_as_it_stands_and_left_byte_for_byte(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "archive.db"
    _ledger(path)
    _checkpointed(path)
    _unwritable(monkeypatch)
    before = _files(tmp_path)
    with bootstrap(Settings(database_url=f"sqlite:///{path}"), create=False) as app:
        assert app.store.read_only and app.projections is not None and app.projections.read_only
        assert {p.provider_id for p in app.views.registry().items} == {"TJ-1", "XX-1"}
        assert app.views.provider("TJ-1").status == "in_pool"
        assert app.views.verify().ok
        assert app.projections.behind() == 0
        with pytest.raises(ReadOnlyLedger, match=r"^the ledger at sqlite:///.*archive.db is read-only .*nothing was recorded$"):
            app.ledger.execute(m.RecordScore(command_id="s", provider_id="TJ-1", year=2024, score=90, effective_on=date(2025, 2, 20)))
    assert _files(tmp_path) == before  # no -wal, -shm or table made; not a byte changed


def test_the_cli_reads_a_read_only_ledger_and_says_how_far_its_read_models_are_behind(tmp_path: Path, monkeypatch) -> None:
    from ledger.cli import app as cli

    path = tmp_path / "archive.db"
    _ledger(path, unprojected=2)
    _checkpointed(path)
    _unwritable(monkeypatch)
    before = _files(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["provider", "TJ-1", "-d", f"sqlite:///{path}"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "is read-only and its read models are 2 events behind its log" in result.output
    assert "TJ-1" in result.output
    verified = runner.invoke(cli, ["verify", "-d", f"sqlite:///{path}"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert verified.exit_code == 0 and "OK:" in verified.output, verified.output
    assert _files(tmp_path) == before


def test_a_command_on_a_read_only_ledger_is_refused_in_one_line(tmp_path: Path, monkeypatch) -> None:
    from ledger.cli import app as cli

    path = tmp_path / "archive.db"
    _ledger(path)
    _checkpointed(path)
    _unwritable(monkeypatch)
    before = _files(tmp_path)
    commands = tmp_path.parent / f"{tmp_path.name}-commands.jsonl"
    commands.write_text('{"type": "RecordScore", "command_id": "s-1", "provider_id": "TJ-1", "year": 2024, "score": 90, "effective_on": "2025-02-20"}\n')
    result = CliRunner().invoke(cli, ["import", str(commands), "-d", f"sqlite:///{path}"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert result.exit_code == 1, result.output
    assert "is read-only (this process may not write it): nothing was recorded" in result.output
    assert "Traceback" not in result.output
    assert _files(tmp_path) == before


def test_a_folder_a_writer_holds_the_ledger_open_in_leaves_it_writable(tmp_path: Path, monkeypatch) -> None:
    """The folder may not be written, but the ledger's -wal and -shm files are there and may be: a
    server holds it open; SQLite writes it, so the ledger is not taken for a read-only one."""
    path = tmp_path / "ledger.db"
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.write_bytes(b"")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    assert writable(path)
    Path(f"{path}-shm").unlink()
    assert not writable(path)


def test_a_writable_ledger_is_not_taken_for_a_read_only_one(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _ledger(path, unprojected=1)
    with bootstrap(Settings(database_url=f"sqlite:///{path}"), create=False) as app:
        assert not app.store.read_only
        assert app.projections is not None and app.projections.behind() == 0  # caught up on opening


def test_the_operating_systems_answer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"")
    assert writable(path)
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            assert not writable(path)
        finally:
            path.chmod(0o644)
        tmp_path.chmod(0o555)  # the file may be written, but no -wal or -shm made beside it
        try:
            assert not writable(path)
        finally:
            tmp_path.chmod(0o755)
    elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        try:
            assert not writable(path)
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        pytest.skip("running as root where files cannot be made immutable: permissions do not refuse root")
    assert sqlite_store.writable is writable


def test_the_api_over_a_read_only_ledger_answers_reads_and_refuses_commands_with_503(tmp_path: Path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from api import create_app
    from api.auth import Principal, mint_token
    from tests.api.conftest import SETTINGS

    path = tmp_path / "archive.db"
    _ledger(path)
    _checkpointed(path)
    _unwritable(monkeypatch)
    before = _files(tmp_path)
    regulator = {"Authorization": f"Bearer {mint_token(Principal(sub='tj-bureau', role='regulator', jurisdiction='tianjin'), SETTINGS)}"}
    with bootstrap(Settings(database_url=f"sqlite:///{path}"), create=False) as app, TestClient(create_app(app, SETTINGS), raise_server_exceptions=False) as client:
        assert client.get("/v1/providers/TJ-1", headers=regulator).status_code == 200
        answer = client.post("/v1/providers/TJ-1/scores", json={"year": 2024, "score": 90, "effective_on": "2025-02-20"}, headers={**regulator, "Idempotency-Key": "k-1"})
        assert answer.status_code == 503, answer.text
        assert "is read-only" in answer.json()["detail"]
    assert _files(tmp_path) == before
