"""Least privilege on PostgreSQL: the owner sets up the ledger (``ledger migrate``), the application appends.

Two roles:

- the **owner** owns the log: ``ledger_events``, ``ledger_commands``, ``ledger_meta``, the
  trigger function ``ledger_refuse_change()`` and the append-only triggers. Only
  ``ledger migrate -d OWNER_URL`` connects as it: to create the log, upgrade one made
  by an older version, and grant the application role its rights.
- the **application role** (``--app-role NAME``; the API, the CLI, the relay, the
  consumers) gets exactly: ``SELECT, INSERT`` on ``ledger_events`` and
  ``ledger_commands``, ``SELECT`` on ``ledger_meta``, and ``USAGE, CREATE`` on the
  schema. It cannot UPDATE, DELETE or TRUNCATE a row of the log, nor DROP, ALTER
  (``DISABLE TRIGGER``, ``RENAME``…) a table of it, nor replace the trigger function:
  those need the owner (tested in ``tests/integration/test_least_privilege.py``).

Why CREATE on the schema: the read models are rebuilt by replay, which creates the
tables of a new generation (``rm_registry_g2``…), re-points the ``rm_*`` views and
drops the old generation (``ledger/projections/schema.py``); the relay, the consumers
and the personal-data vault create their tables on first use. Only a table's owner
may drop it or re-point a view, so the application must own everything it writes
besides the log. CREATE on the schema lets it create and own those objects and
nothing more: creating an object in a schema gives no right over the objects already
in it (altering, dropping, indexing, triggering or referencing a table needs its
owner or a grant the application does not have). One schema keeps the unqualified
table names and the ``search_path`` convention of the whole ledger; a separate
read-model schema would buy no protection for the log that ownership does not
already give. Read-model objects that the owner created earlier (a ledger run as one
role, then split) are handed to the application role (``ALTER … OWNER TO``), which
needs the owner to be a member of the application role (``GRANT ledger_app TO
ledger``, as ``scripts/pg-start.sh`` and docker-compose do).

The embedded case stays one step: a role that owns the schema (the tests, the demo,
SQLite, which has no roles) creates or upgrades the log when it opens it. A role that
does not is told, in one line, to run ``ledger migrate`` with the owner's URL
(:class:`ledger.store.postgres.SchemaNotReady`); it never creates the log itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ledger.redaction import redact

if TYPE_CHECKING:
    import psycopg

#: name prefixes of the application's own tables and views beside the log (read models and their
#: tracking, the relay's and consumers' positions, the personal-data vault, aggregate snapshots)
APP_PREFIXES = ("rm_", "projection_", "kafka_", "personal_", "relay_", "aggregate_")


class MigrationError(Exception):
    """``ledger migrate`` cannot do what was asked (one line, no password)."""


@dataclass(frozen=True)
class MigrationReport:
    #: "created", "upgraded from version N" or "up to date"
    schema: str
    version: int
    app_role: str | None = None
    #: the application's objects the owner had created, now owned by the application role
    handed_over: tuple[str, ...] = ()
    #: protections found missing, disabled or redefined (reported, never repaired)
    problems: list[str] = field(default_factory=list)


def migrate(owner_url: str, app_role: str | None = None) -> MigrationReport:
    """Create or upgrade the ledger at ``owner_url`` (connected as its owner); with ``app_role``
    (PostgreSQL), grant that role what the application needs and nothing more. Idempotent."""
    if owner_url.startswith("sqlite:"):
        return _migrate_sqlite(owner_url, app_role)
    if owner_url.startswith(("postgresql:", "postgres:")):
        return _migrate_postgres(owner_url, app_role)
    raise MigrationError(f"unsupported database URL {redact(owner_url)!r}: use sqlite:///FILE or postgresql://…")


def _migrate_sqlite(url: str, app_role: str | None) -> MigrationReport:
    import sqlite3

    from ledger.store.sqlite import SCHEMA_VERSION, SQLiteEventStore, database_path

    if app_role is not None:
        raise MigrationError("SQLite has no roles: --app-role is for PostgreSQL")
    path = database_path(url)
    before = None
    if path.exists():
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {r[1] for r in db.execute("PRAGMA table_info(ledger_commands)")}
        before = 0 if "ledger_events" not in tables else (1 if "ledger_commands" in tables and "seq" not in columns else 2)
    store = SQLiteEventStore(url)
    try:
        problems = store.protection_problems()
    finally:
        store.close()
    outcome = {None: "created", 0: "created", 1: "upgraded from version 1"}.get(before, "up to date")
    return MigrationReport(outcome, SCHEMA_VERSION, problems=problems)


def _migrate_postgres(url: str, app_role: str | None) -> MigrationReport:
    import psycopg

    from ledger.store.postgres import SCHEMA_VERSION, PostgresEventStore, found, migrate_schema

    with psycopg.connect(url, autocommit=True) as conn:
        state = found(conn)
        if state.schema is None:
            raise MigrationError("the URL's search_path names no schema that exists")
        if not state.may_migrate:
            what = "the ledger's schema" if not state.tables else "the ledger's tables"
            raise MigrationError(f"role {state.role} does not own {what} in schema {state.schema}: run `ledger migrate` with the owner's URL")
        outcome = migrate_schema(conn)
        handed: tuple[str, ...] = ()
        if app_role is not None:
            handed = _grant(conn, state.schema, state.role, app_role)
    store = PostgresEventStore(url, pool_size=1)
    try:
        problems = store.protection_problems()
    finally:
        store.close()
    return MigrationReport(outcome, SCHEMA_VERSION, app_role, handed, problems)


def _grant(conn: psycopg.Connection, schema: str, owner: str, app_role: str) -> tuple[str, ...]:
    """The application role's rights, exactly (revoked first, so that running it again changes nothing)."""
    import psycopg
    from psycopg import sql

    row = conn.execute(
        "SELECT rolsuper, pg_has_role(%s, current_user, 'USAGE') FROM pg_roles WHERE rolname = %s", (app_role, app_role)
    ).fetchone()
    if row is None:
        raise MigrationError(f"there is no role {app_role}: create it first (CREATE ROLE {app_role} LOGIN PASSWORD '…')")
    superuser, has_owner_rights = row
    if superuser or has_owner_rights or app_role == owner:
        raise MigrationError(
            f"role {app_role} has the owner's rights (it is {owner}, a member of it, or a superuser): "
            "the application role must be a role of its own"
        )
    app, space = sql.Identifier(app_role), sql.Identifier(schema)
    like = " OR ".join("c.relname LIKE %s" for _ in APP_PREFIXES)
    with conn.transaction():
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(space, app))
        conn.execute(sql.SQL("REVOKE ALL ON TABLE ledger_events, ledger_commands, ledger_meta FROM {}").format(app))
        conn.execute(sql.SQL("GRANT SELECT, INSERT ON TABLE ledger_events, ledger_commands TO {}").format(app))
        conn.execute(sql.SQL("GRANT SELECT ON TABLE ledger_meta TO {}").format(app))
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION ledger_refuse_change() FROM {}").format(app))
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION ledger_append(jsonb, boolean) TO {}").format(app))  # how it appends
        theirs = conn.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')"
            f" AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %s) AND ({like}) ORDER BY c.relname",
            [app_role, *(p.replace("_", r"\_") + "%" for p in APP_PREFIXES)],
        ).fetchall()
        kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
        for name, kind in theirs:
            try:
                conn.execute(sql.SQL(f"ALTER {kinds[kind]} {{}} OWNER TO {{}}").format(sql.Identifier(name), app))
            except psycopg.errors.InsufficientPrivilege:
                raise MigrationError(
                    f"cannot hand {name} (and the other read models) to {app_role}: the owner role must be a member "
                    f"of it (as a superuser: GRANT {app_role} TO {owner}), or drop them and let the application rebuild them"
                ) from None
    return tuple(name for name, _ in theirs)
