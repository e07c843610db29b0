"""Least privilege on PostgreSQL (ledger/store/migrate.py): the owner migrates, the application appends.

After ``ledger migrate --app-role``, the application role runs the ledger (commands, read
models, replay, verify, digests, receipts, personal data) and cannot change the log: every
UPDATE, DELETE, TRUNCATE, DROP or ALTER of it is refused by PostgreSQL's privileges
("permission denied" / "must be owner"), not by the append-only triggers.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from ledger.audit.integrity import integrity_problems
from ledger.audit.receipts import inclusion_receipt
from ledger.audit.verify import take_digest, verify_store
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.demo import demo_plan, run_demo
from ledger.projections.replay import replay
from ledger.settings import Settings
from ledger.store import open_store
from ledger.store.migrate import MigrationError, migrate
from ledger.store.postgres import SchemaNotReady
from tests.conftest import postgres_base_url, postgres_schema
from tests.integration.store_helpers import batch, event
from tests.support.roles import app_credentials, app_role, as_app

pytestmark = pytest.mark.postgres


def ledger_cli(*args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    environment.pop("LEDGER_DATABASE_URL", None)
    environment.pop("LEDGER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=environment, capture_output=True, text=True, timeout=300)


def app_grants(owner_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(owner_url) as conn:
        return conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = %s AND table_schema = current_schema() AND table_name LIKE 'ledger\\_%%' ORDER BY 1, 2",
            (app_role(),),
        ).fetchall()


def test_the_app_role_runs_the_ledger_after_migrate(postgres_url: str) -> None:
    """The owner ran the ledger alone first (read models included); after migrate the application
    role takes over: commands, read models, replay, verify, digest, receipt."""
    plan = demo_plan(seed=7, providers=5)
    half = len(plan) // 2
    with bootstrap(Settings(database_url=postgres_url), clock=ManualClock(plan[0][0])) as owner_app:
        run_demo(owner_app.ledger, plan[:half])

    report = migrate(postgres_url, app_role())
    assert report.schema == "up to date" and report.problems == []
    assert any(name.startswith("rm_registry_g") for name in report.handed_over), report.handed_over
    assert any(name.startswith("personal_") for name in report.handed_over), report.handed_over

    app_url = as_app(postgres_url)
    with bootstrap(Settings(database_url=app_url), clock=ManualClock(plan[half][0])) as app:
        with psycopg.connect(app_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (app_role(),)
        run_demo(app.ledger, plan[half:])
        head = app.store.max_position()
        assert head > 100
        registry = app.views.registry(limit=1000)
        assert registry.total >= 5
        result = replay(app, show_progress=False)
        assert result.position == head and result.generation == 2
        assert app.views.registry(limit=1000) == registry
        assert verify_store(app.store).ok
        assert integrity_problems(app.store) == []
        digest = take_digest(app.store)
        assert digest.position == head
        assert inclusion_receipt(app.store, "1")["tree_size"] == head
    verified = ledger_cli("verify", "-d", app_url)
    assert verified.returncode == 0, verified.stderr
    assert f"OK: {head} events verified" in verified.stdout


@pytest.fixture(scope="module")
def locked_down() -> Iterator[tuple[str, str]]:
    """(owner URL, application URL) of a migrated ledger of 3 events, shared by the refusal tests."""
    with postgres_schema(postgres_base_url()) as owner_url:
        migrate(owner_url, app_role())
        store = open_store(as_app(owner_url))
        try:
            for c in range(3):
                store.append(batch(f"cmd-{c}", [event(uuid4(), 1)]))
        finally:
            store.close()
        yield owner_url, as_app(owner_url)


FUNCTION_NO_OP = (
    "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
)

#: what the application role must never be able to do to the log
REFUSED = [
    "UPDATE ledger_events SET state = '{}' WHERE position = 1",
    "DELETE FROM ledger_events WHERE position = 3",
    "TRUNCATE ledger_events",
    "DROP TABLE ledger_events",
    "ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only",
    "ALTER TABLE ledger_events DISABLE TRIGGER USER",
    "ALTER TABLE ledger_events RENAME TO ledger_events_old",
    "ALTER TABLE ledger_events ADD COLUMN forged TEXT",
    "ALTER TABLE ledger_events OWNER TO CURRENT_USER",
    "DROP TRIGGER ledger_events_append_only ON ledger_events",
    "CREATE TRIGGER forged BEFORE INSERT ON ledger_events FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    "CREATE INDEX forged ON ledger_events (state)",
    "LOCK TABLE ledger_events IN ACCESS EXCLUSIVE MODE",
    "UPDATE ledger_commands SET payload = '{}' WHERE seq = 1",
    "DELETE FROM ledger_commands WHERE seq = 3",
    "TRUNCATE ledger_commands",
    "DROP TABLE ledger_commands",
    "ALTER TABLE ledger_commands DISABLE TRIGGER ledger_commands_append_only",
    "INSERT INTO ledger_meta (key, value) VALUES ('forged', '1')",
    "UPDATE ledger_meta SET value = '1' WHERE key = 'ledger_events'",
    "DELETE FROM ledger_meta",
    "TRUNCATE ledger_meta",
    "DROP TABLE ledger_meta",
    "ALTER TABLE ledger_meta DISABLE TRIGGER USER",
    FUNCTION_NO_OP,
    "DROP FUNCTION ledger_refuse_change() CASCADE",
    "ALTER FUNCTION ledger_refuse_change() RENAME TO forged",
    # the append function: replaced, it could chain or lock otherwise (the role may only execute it)
    "CREATE OR REPLACE FUNCTION ledger_append(batches jsonb, atomic boolean) RETURNS TABLE (outcome integer,"
    " from_position bigint, to_position bigint, recorded_digest text, recorded_type text, recorded_when timestamptz,"
    " conflict_id uuid, conflict_expected integer, conflict_actual integer) LANGUAGE sql AS $$ SELECT 1, 1::bigint,"
    " 1::bigint, '', '', now(), NULL::uuid, 0, 0 $$",
    "DROP FUNCTION ledger_append(jsonb, boolean)",
    "ALTER FUNCTION ledger_append(jsonb, boolean) RENAME TO forged",
    "SET session_replication_role = replica",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_app_role_cannot_change_the_log(locked_down: tuple[str, str], statement: str) -> None:
    owner_url, app_url = locked_down
    with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(statement)
    message = str(refused.value)
    # refused by the role's privileges, not by the append-only trigger (which the owner could switch off)
    assert "permission denied" in message or "must be owner" in message, message
    assert "append-only" not in message
    store = open_store(owner_url)
    try:
        assert store.max_position() == 3
        assert verify_store(store).ok
        assert integrity_problems(store, read_models=False) == []
    finally:
        store.close()


def test_the_app_role_may_only_insert_and_select_on_the_log(locked_down: tuple[str, str]) -> None:
    owner_url, _ = locked_down
    assert app_grants(owner_url) == [
        ("ledger_commands", "INSERT"), ("ledger_commands", "SELECT"),
        ("ledger_events", "INSERT"), ("ledger_events", "SELECT"),
        ("ledger_meta", "SELECT"),
    ]  # fmt: skip


def test_migrate_twice_changes_nothing(postgres_url: str) -> None:
    first = migrate(postgres_url, app_role())
    assert first.schema == "created"
    grants = app_grants(postgres_url)
    store = open_store(as_app(postgres_url))
    try:
        store.append(batch("cmd-1", [event(uuid4(), 1)]))
        hashes = [e.hash for e in store.read_all()]
    finally:
        store.close()
    second = migrate(postgres_url, app_role())
    assert second.schema == "up to date" and second.problems == []
    assert app_grants(postgres_url) == grants
    store = open_store(as_app(postgres_url))
    try:
        assert [e.hash for e in store.read_all()] == hashes
    finally:
        store.close()


def test_the_app_role_is_told_to_run_migrate_and_creates_nothing(postgres_url: str) -> None:
    role, password = app_credentials()
    schema = postgres_url.rsplit("search_path%3D", 1)[-1]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {role}')
    app_url = as_app(postgres_url)
    with pytest.raises(SchemaNotReady) as missing:
        open_store(app_url)
    assert "ledger migrate -d OWNER_URL" in str(missing.value) and "\n" not in str(missing.value)
    result = ledger_cli("registry", "-d", app_url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error:") and "run `ledger migrate -d OWNER_URL --app-role" in line, line
    assert f":{password}@" not in line
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone() == (0,)
    # the application role cannot migrate either, and says so in one line
    with pytest.raises(MigrationError, match="does not own"):
        migrate(app_url, role)


def test_migrate_refuses_an_app_role_with_the_owners_rights(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        owner = conn.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
    with pytest.raises(MigrationError, match="role of its own"):
        migrate(postgres_url, owner)
    with pytest.raises(MigrationError, match="there is no role"):
        migrate(postgres_url, "no_such_role_for_the_ledger")


def test_ledger_migrate_on_the_command_line(postgres_url: str) -> None:
    result = ledger_cli("migrate", "-d", postgres_url, "--app-role", app_role())
    assert result.returncode == 0, result.stderr
    assert "schema created (version 4)" in result.stdout and f"role {app_role()} may read and append" in result.stdout
    again = ledger_cli("migrate", "-d", postgres_url, "--app-role", app_role())
    assert again.returncode == 0 and "schema up to date (version 4)" in again.stdout
    refused = ledger_cli("migrate", "-d", as_app(postgres_url), "--app-role", app_role())
    assert refused.returncode == 1 and "does not own" in refused.stderr and "Traceback" not in refused.stderr
