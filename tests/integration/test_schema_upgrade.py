"""A ledger made before the command chain and ``ledger_meta`` (schema version 1) opens, verifies,
and is upgraded — by its owner opening it, or by ``ledger migrate`` — without touching an event.

The old ledger is built here the old way: the version 1 tables and triggers by SQL (as the
store created them before issue 9), events with their chain hashes, command rows unchained.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from ledger.audit.integrity import command_chain_problems, integrity_problems
from ledger.audit.verify import verify_store
from ledger.store import RecordedEvent, open_store
from ledger.store.base import chain_hash
from ledger.store.migrate import migrate
from ledger.store.postgres import SchemaNotReady
from tests.conftest import RawDatabase
from tests.integration.store_helpers import T0, batch, event

SQLITE_V1 = [
    """CREATE TABLE ledger_events (
        position INTEGER PRIMARY KEY, originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL,
        topic TEXT NOT NULL, state TEXT NOT NULL, recorded_at TEXT NOT NULL, effective_on TEXT,
        recorded_by TEXT NOT NULL, command_id TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        UNIQUE (originator_id, originator_version))""",
    "CREATE INDEX ledger_events_command_id ON ledger_events (command_id)",
    """CREATE TABLE ledger_commands (
        command_id TEXT PRIMARY KEY, command_type TEXT NOT NULL, recorded_by TEXT NOT NULL,
        recorded_at TEXT NOT NULL, payload TEXT NOT NULL, first_position INTEGER, last_position INTEGER)""",
    *(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in ("ledger_events", "ledger_commands")
        for op in ("UPDATE", "DELETE")
    ),
]

POSTGRES_V1 = [
    """CREATE TABLE ledger_events (
        position BIGINT PRIMARY KEY, originator_id UUID NOT NULL, originator_version INTEGER NOT NULL,
        topic TEXT NOT NULL, state TEXT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, effective_on DATE,
        recorded_by TEXT NOT NULL, command_id TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        UNIQUE (originator_id, originator_version))""",
    "CREATE INDEX ledger_events_command_id ON ledger_events (command_id)",
    """CREATE TABLE ledger_commands (
        command_id TEXT PRIMARY KEY, command_type TEXT NOT NULL, recorded_by TEXT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL, payload TEXT NOT NULL, first_position BIGINT, last_position BIGINT)""",
    """CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$""",
    *(
        statement
        for table in ("ledger_events", "ledger_commands")
        for statement in (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
        )
    ),
]


def build_version_1(database_url: str) -> tuple[list[RecordedEvent], list[tuple[str, str]]]:
    """A version 1 ledger: 5 events of 3 commands and a command that recorded nothing; returns the
    events as stored and the (command_id, payload) rows."""
    raw = RawDatabase(database_url)
    p = raw.placeholder
    try:
        for statement in SQLITE_V1 if raw.backend == "sqlite" else POSTGRES_V1:
            raw._conn.execute(statement)  # no parameters: the function body holds '%'
        a, b = uuid4(), uuid4()
        commands = [("c-1", [event(a, 1)]), ("c-2", [event(a, 2), event(b, 1)]), ("c-noop", []),
                    ("c-3", [event(b, 2, recorded_at=T0 + timedelta(days=1, seconds=1)), event(a, 3, recorded_at=T0 + timedelta(days=1, seconds=2))])]
        recorded, rows, prev, position = [], [], "0" * 64, 0
        for command_id, events in commands:
            first = position + 1 if events else None
            for e in events:
                position += 1
                digest = chain_hash(prev, position, e.originator_id, e.originator_version, e.topic, e.state, e.recorded_at,
                                    e.effective_on, "old-version", command_id)  # fmt: skip
                recorded.append(RecordedEvent(position, e.originator_id, e.originator_version, e.topic, e.state,
                                              e.recorded_at, e.effective_on, "old-version", command_id, prev, digest))  # fmt: skip
                prev = digest
            payload = json.dumps({"command_id": command_id, "type": "Old"})
            when = events[0].recorded_at if events else T0 + timedelta(days=1)
            rows.append((command_id, payload))
            raw.execute(
                f"INSERT INTO ledger_commands VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                (command_id, "Old", "old-version", when.isoformat(), payload, first, position if events else None),
            )
        for r in recorded:
            raw.execute(
                f"INSERT INTO ledger_events VALUES ({', '.join([p] * 11)})",
                (r.position, str(r.originator_id), r.originator_version, r.topic, r.state, r.recorded_at.isoformat(),
                 r.effective_on.isoformat() if r.effective_on else None, r.recorded_by, r.command_id, r.prev_hash, r.hash),
            )  # fmt: skip
    finally:
        raw.close()
    return recorded, rows


def assert_upgraded(database_url: str, events: list[RecordedEvent], commands: list[tuple[str, str]]) -> None:
    store = open_store(database_url)
    try:
        assert list(store.read_all()) == events  # not one event rewritten or lost
        assert [(c.command_id, c.payload) for c in store.read_commands()] == commands
        assert verify_store(store).ok
        assert command_chain_problems(store) == []
        assert integrity_problems(store, read_models=False) == []  # every protection in place, ledger_meta too
        store.append(batch("c-new", [event(events[0].originator_id, 4)]))
        assert [c.seq for c in store.read_commands()] == [1, 2, 3, 4, 5]
        assert verify_store(store).ok and integrity_problems(store, read_models=False) == []
        # the upgraded command rows are append-only like any other
        raw = RawDatabase(database_url)
        try:
            with pytest.raises(Exception, match="append-only"):
                raw.execute("UPDATE ledger_commands SET payload = '{}' WHERE command_id = 'c-1'")
        finally:
            raw.close()
    finally:
        store.close()


def test_a_version_1_ledger_opens_upgraded_and_verifies(database_url: str) -> None:
    """Opened by the role that owns it (the embedded case), an old ledger is upgraded in place."""
    events, commands = build_version_1(database_url)
    assert_upgraded(database_url, events, commands)


def test_ledger_migrate_upgrades_a_version_1_ledger(database_url: str, backend: str) -> None:
    events, commands = build_version_1(database_url)
    if backend == "postgres":
        from tests.support.roles import app_role, as_app

        with pytest.raises(SchemaNotReady, match="may be used"):  # no USAGE on the schema yet
            open_store(as_app(database_url))
        schema = database_url.rsplit("search_path%3D", 1)[-1]
        raw = RawDatabase(database_url)
        raw.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {app_role()}')
        raw.close()
        with pytest.raises(SchemaNotReady, match="older version"):  # the application never upgrades it
            open_store(as_app(database_url))
        report = migrate(database_url, app_role())
        assert report.schema == "upgraded from version 1" and report.problems == []
        assert migrate(database_url, app_role()).schema == "up to date"
        app_store = open_store(as_app(database_url))
        try:
            assert list(app_store.read_all()) == events
            assert verify_store(app_store).ok
        finally:
            app_store.close()
    else:
        result = subprocess.run([sys.executable, "-m", "ledger", "migrate", "-d", database_url],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "schema upgraded from version 1 (version 2)" in result.stdout
        assert migrate(database_url).schema == "up to date"
    assert_upgraded(database_url, events, commands)


def test_migrate_on_sqlite_refuses_an_app_role(tmp_path: Path) -> None:
    from ledger.store.migrate import MigrationError

    with pytest.raises(MigrationError, match="SQLite has no roles"):
        migrate(f"sqlite:///{tmp_path / 'l.db'}", "ledger_app")
    assert not (tmp_path / "l.db").exists()


def _current_ledger_of_one_aggregate(postgres_url: str, commands: int) -> UUID:
    """A current PostgreSQL ledger of ``commands`` commands on one aggregate (its id), the
    application role's rights granted."""
    from tests.support.roles import app_role

    store = open_store(postgres_url)
    a = uuid4()
    for c in range(commands):
        store.append(batch(f"c-{c}", [event(a, c + 1)]))
    store.close()
    assert migrate(postgres_url, app_role()).schema == "up to date"
    return a


@pytest.mark.postgres
def test_a_version_2_postgres_ledger_gains_its_server_append(postgres_url: str) -> None:
    """Version 2 appended from the client; version 3 through ``ledger_append``. The application role
    cannot add the function and is told to run ``ledger migrate``; the upgrade touches no row."""
    from tests.support.roles import app_role, as_app

    a = _current_ledger_of_one_aggregate(postgres_url, commands=3)
    raw = RawDatabase(postgres_url)
    raw.execute("DROP FUNCTION ledger_append(jsonb, boolean)")  # as version 2 left it
    raw.close()
    with pytest.raises(SchemaNotReady, match=r"older version \(schema 2; this version needs 4\)"):
        open_store(as_app(postgres_url))
    store = open_store(postgres_url)  # its owner opening it upgrades it
    try:
        assert store.protection_problems() == []
        assert migrate(postgres_url, app_role()).schema == "up to date"
    finally:
        store.close()
    raw = RawDatabase(postgres_url)
    raw.execute("DROP FUNCTION ledger_append(jsonb, boolean)")
    raw.close()
    report = migrate(postgres_url, app_role())
    assert report.schema == "upgraded from version 2" and report.problems == []
    app_store = open_store(as_app(postgres_url))
    try:
        events = list(app_store.read_all())
        app_store.append(batch("c-3", [event(a, 4)]))
        assert list(app_store.read_all())[:3] == events and app_store.max_position() == 4
        assert verify_store(app_store).ok and integrity_problems(app_store, read_models=False) == []
    finally:
        app_store.close()


@pytest.mark.postgres
def test_a_version_3_postgres_ledger_gains_the_append_that_keeps_personal_records(postgres_url: str) -> None:
    """Version 3's ``ledger_append`` did not keep a batch's personal records (the vault wrote them in a
    transaction of its own, after). The application role is told to run ``ledger migrate``, which
    replaces the function and touches no row; then a complaint's details are kept with its command."""
    import psycopg

    from ledger.personal import PersonalDataVault, Sealed
    from ledger.store.postgres import APPEND_FUNCTION, APPEND_PERSONAL_CHECK, APPEND_PERSONAL_KEEP
    from tests.support.roles import app_role, as_app

    a = _current_ledger_of_one_aggregate(postgres_url, commands=2)
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as version 3 left it
        conn.execute(APPEND_FUNCTION.replace(APPEND_PERSONAL_CHECK, "").replace(APPEND_PERSONAL_KEEP, ""))
    with pytest.raises(SchemaNotReady, match=r"older version \(schema 3; this version needs 4\)"):
        open_store(as_app(postgres_url))
    report = migrate(postgres_url, app_role())
    assert report.schema == "upgraded from version 3" and report.problems == []
    app_store, vault = open_store(as_app(postgres_url)), PersonalDataVault(as_app(postgres_url))
    try:
        events = list(app_store.read_all())
        [record] = vault.records([Sealed("p-1", "complaint:C-1", {"contact": "13912345678"})], look_up=False)
        assert record is not None
        app_store.append(replace(batch("c-2", [event(a, 3)]), personal=(record,)))
        assert list(app_store.read_all())[:2] == events and app_store.max_position() == 3
        revealed = vault.reveal("complaint:C-1")
        assert revealed is not None and revealed.values == {"contact": "13912345678"}
        assert verify_store(app_store).ok and integrity_problems(app_store, read_models=False) == []
    finally:
        app_store.close()
        vault.close()
