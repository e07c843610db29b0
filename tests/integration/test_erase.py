"""Deleting a whole ledger (``ledger demo --replace``, :mod:`ledger.store.erase`): every object the
ledger made goes, nothing of it carries over into the next ledger, and nothing else is touched."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.demo import demo_plan, run_demo
from ledger.projections.db import ReadModelDB
from ledger.relay import RelayPositions, topic_name
from ledger.settings import Settings
from ledger.store import erase as erasing
from ledger.store import open_store
from ledger.store.erase import LedgerInUse, count_events, erase, ledger_objects

ROOT = Path(__file__).resolve().parents[2]


def objects(url: str) -> dict[str, set[str]]:
    """Everything in the URL's schema: relations by kind (table, view, index, sequence…) and functions."""
    with psycopg.connect(url) as db:
        relations = db.execute(
            "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema()"
        ).fetchall()
        functions = db.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
        ).fetchall()
    found: dict[str, set[str]] = {"functions": {name for (name,) in functions}}
    for kind, name in relations:
        found.setdefault(kind, set()).add(name)
    return found


def use_fully(url: str) -> None:
    """A ledger as it is after a while: the demo (read models, personal data), snapshots, a relay's
    acknowledged position and a Kafka consumer's offsets."""
    from consumers.projections import OFFSETS_TABLE

    plan = demo_plan(seed=2024, providers=5)
    settings = Settings(database_url=url, snapshot_every=3, projection_worker=False)
    with bootstrap(settings, clock=ManualClock(plan[0][0])) as app:
        run_demo(app.ledger, plan)
        head = app.store.max_position()
    positions = RelayPositions.open(url)
    positions.set(topic_name(), head)
    positions.close()
    db = ReadModelDB(url, pool_size=1)
    with db.transaction() as tx:
        tx.execute(OFFSETS_TABLE)
        tx.execute("INSERT INTO kafka_consumer_offsets VALUES ('g', 't', 0, 7, 7)")
    db.close()


@pytest.mark.postgres
def test_erase_drops_every_object_of_a_fully_used_ledger_and_nothing_else(postgres_url: str) -> None:
    use_fully(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE not_the_ledgers (x int)")
        db.execute("INSERT INTO not_the_ledgers VALUES (1)")
    before = objects(postgres_url)
    owned = ledger_objects()
    assert owned.tables <= before["r"]  # the fully used ledger has every table the code names
    assert set(owned.views) <= before["v"] and owned.functions <= before["functions"]
    assert {"kafka_relay", "aggregate_snapshots", "personal_keys", "personal_erasures", "kafka_consumer_offsets"} <= before["r"]

    erase(postgres_url)

    after = objects(postgres_url)
    assert after.pop("r") == {"not_the_ledgers"}
    assert after == {"functions": set()}  # no view, index, sequence or function of the ledger is left
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT x FROM not_the_ledgers").fetchall() == [(1,)]
    assert count_events(postgres_url) == 0
    store = open_store(postgres_url)  # a new ledger starts from nothing: no relay position, no snapshot
    store.close()
    positions = RelayPositions.open(postgres_url)
    assert positions.get(topic_name()) == 0
    positions.close()


def created_names(pattern: str) -> set[str]:
    """Names the code creates with ``pattern`` (literal names only: generation tables are f-strings)."""
    names = set()
    for package in ("ledger", "consumers", "api"):
        for source in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(pattern, source.read_text(encoding="utf-8"), flags=re.IGNORECASE))
    return names


def test_every_table_view_and_function_the_code_creates_is_one_erase_drops() -> None:
    owned = ledger_objects()
    tables = created_names(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(")
    assert tables - owned.tables == set(), "add the new table's schema to ledger_objects() in ledger/store/erase.py"
    functions = created_names(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_][a-z0-9_]*)\s*\(")
    assert functions - owned.functions == set()
    assert owned.owns("rm_registry_g12") and owned.owns("rm_registry", "view")
    assert not owned.owns("rm_registry_gx") and not owned.owns("registry") and not owned.owns("ledger_events_backup")


def side_files(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir() if p.name.startswith(path.name)}


def test_erase_removes_a_sqlite_ledger_with_the_side_files_a_crash_left(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    open_store(url).close()
    crash = "import sqlite3, os; c = sqlite3.connect(%r); c.execute('PRAGMA journal_mode = WAL'); "
    crash += "c.execute('CREATE TABLE x (y)'); os._exit(0)"  # killed with the file open
    subprocess.run([sys.executable, "-c", crash % str(path)], check=True)
    assert side_files(path) == {"ledger.db", "ledger.db-wal", "ledger.db-shm"}

    erase(url)

    assert side_files(path) == set()


def test_erase_refuses_a_sqlite_ledger_another_connection_has_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    monkeypatch.setattr(erasing, "SQLITE_WAIT_SECONDS", 0.3)
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    open_store(url).close()
    other = sqlite3.connect(path)  # a server, say
    other.execute("SELECT COUNT(*) FROM ledger_events").fetchone()
    files = {name: (tmp_path / name).read_bytes() for name in side_files(path)}
    try:
        with pytest.raises(LedgerInUse, match="open in another process.*nothing was deleted"):
            erase(url)
        assert {name: (tmp_path / name).read_bytes() for name in side_files(path)} == files
    finally:
        other.close()
    erase(url)
    assert side_files(path) == set()
