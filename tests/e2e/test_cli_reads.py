"""A read never creates a ledger, nor a table in a database that holds none; ``demo --replace`` leaves
nothing of the old ledger behind. Run as a user runs it (a subprocess), on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ledger.relay import RelayPositions, topic_name
from ledger.store import open_store
from tests.support.schema import schema_objects

TIMEOUT = 300

#: the commands that only read a ledger (and ``deadlines``, ``replay`` and ``relay``, which work on one that exists)
READS = [
    ["registry"], ["status"], ["verify"], ["provider", "TJ-1"], ["lists"], ["timeline", "TJ-1"],
    ["history", "TJ-1", "--effective-at", "2024-06-01"], ["explain", "TJ-1"], ["whatif", "TJ-1", "--void", "x/1"],
    ["deadlines", "--now", "2024-01-01"], ["replay"], ["export", "out.jsonl"], ["digest", "digest.json"], ["proof", "1"],
    ["relay", "--once", "--bootstrap", "127.0.0.1:1"],
]  # fmt: skip


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    environment.pop("LEDGER_DATABASE_URL", None)
    environment.pop("LEDGER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=TIMEOUT
    )


def refused_in_one_line(result: subprocess.CompletedProcess, shown_url: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    [line] = [line for line in result.stderr.splitlines() if line.strip() and "━" not in line]
    assert line.startswith("error:") and f"no ledger at {shown_url}: it has no ledger tables" in line, line
    assert "ledger demo, ledger import or ledger migrate" in line


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("command", READS, ids=lambda c: c[0])
@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_a_read_on_a_sqlite_file_without_a_ledger_is_refused_and_writes_nothing(tmp_path: Path, command, kind) -> None:
    path = tmp_path / "some.db"
    if kind == "empty":
        path.touch()
    else:  # another application's database, in WAL mode as the ledger's would be
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
        db.execute("INSERT INTO accounts (owner) VALUES ('someone')")
        db.commit()
        db.close()
    before = files(tmp_path)
    result = run(*command, "-d", f"sqlite:///{path}", cwd=tmp_path)
    refused_in_one_line(result, f"sqlite:///{path}")
    assert files(tmp_path) == before  # byte for byte; no side file, export or digest left behind


@pytest.mark.postgres
@pytest.mark.parametrize("command", READS, ids=lambda c: c[0])
def test_a_read_on_a_postgres_schema_without_a_ledger_is_refused_and_creates_nothing(tmp_path: Path, postgres_url: str, command) -> None:
    from ledger.redaction import redact

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE accounts (id int PRIMARY KEY)")
    before = schema_objects(postgres_url)
    result = run(*command, "-d", postgres_url, cwd=tmp_path)
    refused_in_one_line(result, redact(postgres_url))
    assert schema_objects(postgres_url) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_demo_replace_on_postgres_carries_nothing_of_the_old_ledger_over(tmp_path: Path, postgres_url: str) -> None:
    made = run("demo", "--providers", "5", "-d", postgres_url, cwd=tmp_path, env={"LEDGER_SNAPSHOT_EVERY": "3"})
    assert made.returncode == 0, made.stderr
    store = open_store(postgres_url)
    head = store.max_position()
    store.close()
    positions = RelayPositions.open(postgres_url)
    positions.set(topic_name(), head + 10)  # acknowledged by a relay (of this ledger, and beyond: see below)
    positions.close()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("INSERT INTO personal_erasures VALUES ('person-of-the-old-ledger', '2024-01-01', 'asked')")
        assert db.execute("SELECT COUNT(*) > 0 FROM aggregate_snapshots").fetchone() == (True,)
    full = {name for kind, name in schema_objects(postgres_url)}
    assert {"kafka_relay", "aggregate_snapshots", "personal_keys", "personal_data", "personal_macs", "personal_erasures"} <= full

    replaced = run("demo", "--providers", "5", "--replace", "-d", postgres_url, cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert "deleted the ledger of" in replaced.stderr

    status = run("status", "-d", postgres_url, cwd=tmp_path)
    assert status.stdout.strip() == "relay: never ran on this ledger", status.stdout  # not "acknowledged 418 of 408"
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT to_regclass('kafka_relay')").fetchone() == (None,)
        assert db.execute("SELECT to_regclass('aggregate_snapshots')").fetchone() == (None,)  # the new demo took none
        assert db.execute("SELECT COUNT(*) FROM personal_erasures").fetchone() == (0,)
        # the vault holds the new demo's people only: one key per complainant, one record per complaint
        assert db.execute("SELECT (SELECT COUNT(*) FROM personal_keys) = (SELECT COUNT(*) FROM personal_data)").fetchone() == (True,)
