"""``python -m consumers …`` facing bad input: one clear line, exit 1, no traceback, no password.

None of these reach Kafka: they fail before a consumer is made, so they need no broker."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

TIMEOUT = 120


def consumers(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    for name in ("LEDGER_DATABASE_URL", "LEDGER_READ_MODELS_URL", "LEDGER_DEBUG"):
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "consumers", *args], env=environment, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )


def one_clear_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


def test_an_unknown_jurisdiction_is_refused_in_one_line(tmp_path: Path) -> None:
    line = one_clear_line(consumers("dashboard", "mars", cwd=tmp_path), "unknown jurisdiction 'mars'", "tianjin")
    assert "liuzhou" in line


def test_the_deadline_sweep_never_creates_a_missing_sqlite_ledger(tmp_path: Path) -> None:
    one_clear_line(consumers("deadlines", "-d", "sqlite:///nonexist_c.db", cwd=tmp_path), "no ledger at sqlite:///nonexist_c.db")
    assert not (tmp_path / "nonexist_c.db").exists()


@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_the_deadline_sweep_makes_nothing_in_a_sqlite_file_without_a_ledger(tmp_path: Path, kind: str) -> None:
    """It records into a ledger that exists: another application's file is refused, byte for byte as it was."""
    path = tmp_path / "some.db"
    if kind == "empty":
        path.touch()
    else:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        db.commit()
        db.close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    one_clear_line(consumers("deadlines", "-d", f"sqlite:///{path}", cwd=tmp_path), f"no ledger at sqlite:///{path}: it has no ledger tables")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.postgres
def test_the_deadline_sweep_makes_nothing_in_a_postgres_schema_without_a_ledger(tmp_path: Path, postgres_url: str) -> None:
    from ledger.redaction import redact
    from tests.support.schema import schema_objects

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE accounts (id int PRIMARY KEY)")
    before = schema_objects(postgres_url)
    one_clear_line(consumers("deadlines", "-d", postgres_url, cwd=tmp_path), f"no ledger at {redact(postgres_url)}: it has no ledger tables")
    assert schema_objects(postgres_url) == before


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ledger:SECRET%ZZPW@127.0.0.1:5432/x",
        "postgresql://ledger:SEC RETPW@127.0.0.1:5432/ledger_test",
        "postgresql://ledger:SECRET@PW@127.0.0.1:5432/ledger_test",
    ],
)
def test_a_malformed_ledger_url_is_one_line_without_the_password(tmp_path: Path, url: str) -> None:
    result = consumers("deadlines", "-d", url, cwd=tmp_path)
    one_clear_line(result, "cannot open the ledger at postgresql://ledger:***@127.0.0.1:5432/")
    for part in ("SECRET", "RETPW", "PW@"):
        assert part not in result.stdout + result.stderr
