"""Opening a ledger only to read it (``open_store(url, create=False)``, ``bootstrap(create=False)``, what
every read command of the CLI does) never creates or upgrades anything: a database without a current
log is refused (:class:`~ledger.store.NoLedger`) and left exactly as it was. On both backends."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from ledger.bootstrap import bootstrap
from ledger.relay import relay_status
from ledger.settings import Settings
from ledger.store import NoLedger, open_store
from ledger.store.sqlite import database_path
from tests.integration.store_helpers import batch, event
from tests.integration.test_schema_upgrade import assert_upgraded, build_version_1


def snapshot(url: str) -> object:
    """Everything a read could change: the SQLite file and its side files byte for byte, or every
    object in the PostgreSQL schema."""
    if url.startswith("sqlite:"):
        path = database_path(url)
        return {p.name: p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name)}
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT 'relation', c.relname::text, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() UNION ALL SELECT 'function', p.proname::text, '' FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() ORDER BY 1, 2"
        ).fetchall()


def make_foreign(url: str) -> None:
    """Another application's table in the database (an empty file, on SQLite, to begin with)."""
    if url.startswith("sqlite:"):
        lite = sqlite3.connect(database_path(url))
        lite.execute("PRAGMA journal_mode = WAL")
        lite.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        lite.commit()
        lite.close()
    else:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE accounts (id int PRIMARY KEY)")


@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_a_database_without_a_ledger_is_refused_and_left_as_it_was(database_url: str, kind: str) -> None:
    if kind == "foreign":
        make_foreign(database_url)
    elif database_url.startswith("sqlite:"):
        database_path(database_url).touch()
    before = snapshot(database_url)
    with pytest.raises(NoLedger, match="it has no ledger tables .create one with ledger demo, ledger import or ledger migrate"):
        open_store(database_url, create=False)
    with pytest.raises(NoLedger):
        bootstrap(Settings(database_url=database_url), create=False)
    with pytest.raises(NoLedger):
        relay_status(database_url)
    assert snapshot(database_url) == before


def test_a_missing_sqlite_file_is_refused_and_not_made(tmp_path: Path) -> None:
    path = tmp_path / "folder" / "absent.db"
    with pytest.raises(NoLedger, match="does not exist"):
        open_store(f"sqlite:///{path}", create=False)
    assert not path.parent.exists()


def test_an_older_ledger_is_refused_to_a_read_and_upgraded_only_by_a_writer(database_url: str) -> None:
    events, commands = build_version_1(database_url)
    before = snapshot(database_url)
    with pytest.raises(NoLedger, match=r"made by an older version \(schema 1; .*ledger migrate"):
        open_store(database_url, create=False)
    assert snapshot(database_url) == before
    assert_upgraded(database_url, events, commands)  # open_store(url): creates and upgrades, as before


def test_a_ledger_opens_to_read(database_url: str) -> None:
    writer = open_store(database_url)
    writer.append(batch("c-1", [event(uuid4(), 1)]))
    writer.close()
    reader = open_store(database_url, create=False)
    try:
        assert reader.max_position() == 1
    finally:
        reader.close()
    assert relay_status(database_url) is None  # no relay ever ran: nothing made for asking
