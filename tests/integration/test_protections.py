"""Holes in tamper evidence, closed: conflict clauses, the command chain, removed protections,
a recreated log, digests of exports."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from uuid import uuid4

import pytest

from ledger.audit import Digest, export_events, take_digest, verify_store
from ledger.audit.integrity import command_chain_problems, integrity_problems
from ledger.audit.verify import verify_export_against_digest
from ledger.store import EventStore, open_store
from tests.integration.store_helpers import batch, event


def build(store: EventStore, commands: int = 3) -> None:
    a = uuid4()
    for c in range(commands):
        store.append(batch(f"cmd-{c}", [event(a, c + 1)]))


def refused(raw, sql: str) -> bool:
    try:
        raw.execute(sql)
    except (sqlite3.DatabaseError, Exception) as error:
        return "append-only" in str(error) or "refused" in str(error)
    return False


SQLITE_REPLACEMENTS = [
    "INSERT OR REPLACE INTO ledger_events SELECT position, originator_id, originator_version, topic, '{{}}', recorded_at,"
    " effective_on, recorded_by, command_id, prev_hash, hash FROM ledger_events WHERE position = 2",
    "REPLACE INTO ledger_events SELECT * FROM ledger_events WHERE position = 2",
    "INSERT INTO ledger_events SELECT * FROM ledger_events WHERE position = 2"
    " ON CONFLICT (position) DO UPDATE SET state = '{{}}'",
    "INSERT OR REPLACE INTO ledger_commands SELECT * FROM ledger_commands WHERE seq = 2",
    "REPLACE INTO ledger_commands SELECT * FROM ledger_commands WHERE seq = 2",
    "INSERT OR IGNORE INTO ledger_events SELECT * FROM ledger_events WHERE position = 2",
    "UPDATE OR REPLACE ledger_events SET state = '{{}}' WHERE position = 2",
    "INSERT OR ROLLBACK INTO ledger_events SELECT * FROM ledger_events WHERE position = 2",
    "INSERT OR FAIL INTO ledger_events SELECT * FROM ledger_events WHERE position = 2",
    "INSERT OR ABORT INTO ledger_events SELECT * FROM ledger_events WHERE position = 2",
]
POSTGRES_REPLACEMENTS = [
    "INSERT INTO ledger_events SELECT * FROM ledger_events WHERE position = 2"
    " ON CONFLICT (position) DO UPDATE SET state = '{{}}'",
    "INSERT INTO ledger_commands SELECT * FROM ledger_commands WHERE seq = 2"
    " ON CONFLICT (command_id) DO UPDATE SET payload = '{{}}'",
    "MERGE INTO ledger_events e USING (SELECT 2 AS position) s ON e.position = s.position"
    " WHEN MATCHED THEN UPDATE SET state = '{{}}'",
]


def test_no_conflict_clause_replaces_a_recorded_row(store: EventStore, raw_db) -> None:
    build(store)
    before = [e.hash for e in store.read_all()]
    statements = SQLITE_REPLACEMENTS if raw_db.backend == "sqlite" else POSTGRES_REPLACEMENTS
    for sql in statements:
        sql = sql.replace("{{}}", "{}")
        if not refused(raw_db, sql):
            pytest.fail(f"not refused: {sql}")
    assert [e.hash for e in store.read_all()] == before
    assert [c.payload for c in store.read_commands()] == [json.dumps({"command_id": f"cmd-{c}"}) for c in range(3)]


def _behind_the_back(raw_db, table: str, sql: str) -> None:
    """Change ``table`` as its owner can: switch the protection off, change, switch it on."""
    if raw_db.backend == "sqlite":
        from ledger.store.sqlite import APPEND_ONLY_TRIGGERS

        names = [n for n in APPEND_ONLY_TRIGGERS if n.startswith(table)]
        raw_db.execute("BEGIN IMMEDIATE")
        for name in names:
            raw_db.execute(f"DROP TRIGGER {name}")
        raw_db.execute(sql)
        for name in names:
            raw_db.execute(APPEND_ONLY_TRIGGERS[name])
        raw_db.execute("COMMIT")
    else:
        raw_db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        raw_db.execute(sql)
        raw_db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def test_a_forged_command_payload_is_named(store: EventStore, raw_db) -> None:
    build(store)
    assert command_chain_problems(store) == []
    _behind_the_back(raw_db, "ledger_commands", "UPDATE ledger_commands SET payload = '{\"command_id\":\"forged\"}' WHERE seq = 2")
    assert command_chain_problems(store) == [
        "command chain broken at command 2 (cmd-1): the payload was altered (it does not match its digest)"
    ]


def test_a_forged_payload_with_its_digest_redone_is_named(store: EventStore, raw_db) -> None:
    from ledger.store.base import payload_digest

    build(store)
    forged = '{"command_id":"forged"}'
    p = raw_db.placeholder
    sql = f"UPDATE ledger_commands SET payload = '{forged}', payload_digest = '{payload_digest(forged)}' WHERE seq = 2"
    _behind_the_back(raw_db, "ledger_commands", sql)
    assert p and command_chain_problems(store) == [
        "command chain broken at command 2 (cmd-1): content does not match its hash: the row was altered"
    ]


def test_an_untouched_ledger_has_no_integrity_problem(store: EventStore) -> None:
    build(store)
    assert integrity_problems(store) == []


def _reopened_problems(database_url: str) -> list[str]:
    reopened = open_store(database_url)
    try:
        return reopened.protection_problems()
    finally:
        reopened.close()


def test_a_dropped_trigger_is_named_and_not_recreated_on_open(database_url: str, store: EventStore, raw_db) -> None:
    build(store)
    name = "ledger_events_no_update" if raw_db.backend == "sqlite" else "ledger_events_append_only"
    raw_db.execute(f"DROP TRIGGER {name}" + ("" if raw_db.backend == "sqlite" else " ON ledger_events"))
    for _ in range(2):
        assert _reopened_problems(database_url) == [f"protection removed: trigger {name} is missing"]


def test_a_redefined_protection_is_named(database_url: str, store: EventStore, raw_db) -> None:
    build(store)
    if raw_db.backend == "sqlite":
        raw_db.execute("DROP TRIGGER ledger_events_no_delete")
        raw_db.execute("CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events BEGIN SELECT 1; END")
        expected = ["protection redefined: trigger ledger_events_no_delete is not the ledger's"]
    else:  # the trigger function replaced by a no-op: every trigger still exists, none refuses
        raw_db.execute(
            "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RETURN OLD; END $$"
        )
        expected = [f"protection redefined: trigger {n} no longer runs the ledger's refusal" for n in _pg_triggers()]
    raw_db.execute("DELETE FROM ledger_events WHERE position = 3")  # the no-op lets it through
    assert _reopened_problems(database_url) == expected


def _pg_triggers() -> list[str]:
    from ledger.store.postgres import TRIGGERS

    return list(TRIGGERS)


@pytest.mark.postgres
def test_a_disabled_trigger_is_named(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        build(store)
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as raw:
            raw.execute("ALTER TABLE ledger_commands DISABLE TRIGGER ledger_commands_no_truncate")
        assert store.protection_problems() == ["protection disabled: trigger ledger_commands_no_truncate is switched off"]
    finally:
        store.close()


def test_a_dropped_and_recreated_event_table_is_named(database_url: str, store: EventStore, raw_db) -> None:
    build(store)
    if raw_db.backend == "sqlite":
        raw_db.execute("CREATE TABLE copy AS SELECT * FROM ledger_events")
        raw_db.execute("DROP TABLE ledger_events")
        raw_db.execute("CREATE TABLE ledger_events AS SELECT * FROM copy")
        expected = {f"protection removed: trigger ledger_events_no_{op} is missing" for op in ("update", "delete", "replace")}
    else:
        raw_db.execute("CREATE TABLE copy AS SELECT * FROM ledger_events")
        raw_db.execute("DROP TABLE ledger_events")
        raw_db.execute("ALTER TABLE copy RENAME TO ledger_events")
        expected = {
            "table ledger_events was dropped and recreated (not the table the ledger created)",
            "protection removed: trigger ledger_events_append_only is missing",
            "protection removed: trigger ledger_events_no_truncate is missing",
        }
    for _ in range(2):  # opening again repairs nothing
        assert set(_reopened_problems(database_url)) == expected


def test_an_empty_log_where_the_read_models_saw_events_is_named(database_url: str, raw_db) -> None:
    from ledger.bootstrap import bootstrap
    from ledger.commands import models as m
    from ledger.settings import Settings
    from tests.integration.scenario import credit_code_for

    with bootstrap(Settings(database_url=database_url)) as app:
        app.ledger.execute(
            m.SubmitApplication(command_id="a", provider_id="TJ-1", jurisdiction="tianjin", name="某公司", kind="云服务商",
                                credit_code=credit_code_for("TJ-1"))
        )  # fmt: skip
        if app.projections is not None:
            app.projections.wait_for(app.ledger.last_position)
    for table in ("ledger_events", "ledger_commands", "ledger_meta"):
        raw_db.execute(f"DROP TABLE IF EXISTS {table}" + ("" if raw_db.backend == "sqlite" else " CASCADE"))
    store = open_store(database_url)  # a fresh, empty log: nothing says it is not new …
    try:
        problems = integrity_problems(store)
    finally:
        store.close()
    assert problems == [  # … but the read models do (the application and its entity's reservation)
        "the read models have folded events up to position 2, but the log ends at 0: "
        "events were removed (or the log was dropped and recreated)"
    ]


def test_verify_export_checks_the_digest(store: EventStore, tmp_path: Path) -> None:
    build(store, commands=5)
    digest = take_digest(store)
    export = export_events(store, tmp_path / "events.jsonl").path
    assert verify_export_against_digest(export, digest).ok
    lines = export.read_text(encoding="utf-8").splitlines()
    export.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")  # cut short
    report = verify_export_against_digest(export, digest)
    assert not report.ok and report.first_bad_position == 4 and "events were removed" in report.reason
    other = Digest(digest.position, "f" * 64, digest.taken_at)
    export_events(store, export, overwrite=True)
    report = verify_export_against_digest(export, other)
    assert not report.ok and report.first_bad_position == 5 and "rewritten" in report.reason


@pytest.mark.postgres
def test_a_missing_or_redefined_append_function_is_named(postgres_url: str) -> None:
    from ledger.store.postgres import APPEND_FUNCTION

    store = open_store(postgres_url)
    try:
        build(store)
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as raw:
            # the same function without its write lock: it would still chain, but not serialise writers
            unlocked = APPEND_FUNCTION.replace("PERFORM pg_advisory_xact_lock(", "PERFORM abs(", 1)
            assert unlocked != APPEND_FUNCTION
            raw.execute(unlocked)
            assert store.protection_problems() == [
                "function ledger_append redefined: it is not the ledger's append (its lock, checks or chaining)"
            ]
            raw.execute("DROP FUNCTION ledger_append(jsonb, boolean)")
            assert store.protection_problems() == [
                "function ledger_append is missing: appends fail until the owner runs `ledger migrate`"
            ]
            raw.execute(APPEND_FUNCTION)
        assert store.protection_problems() == []
        # the store's connections prepared the call to the function that was dropped: they re-plan it
        for c in range(3, 9):
            store.append(batch(f"cmd-{c}", [event(uuid4(), 1)]))
        assert store.max_position() == 9 and verify_store(store).ok
    finally:
        store.close()
