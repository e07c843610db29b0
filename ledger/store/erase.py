"""Deleting a whole ledger: only ever on an explicit request (``ledger demo --replace``).

Nothing else in the ledger deletes data; the event tables even refuse UPDATE,
DELETE and TRUNCATE. Replacing a demo ledger therefore removes the database
objects themselves: the SQLite file (with its WAL, shared-memory and journal
files), or on PostgreSQL every object of the ledger in the connection's schema —
the log and its functions, the read models, the relay's and the consumers'
positions, the personal-data vault, the aggregate snapshots — so that nothing of
the old ledger carries over into the new one (a relay position past the new
log's head, an erased person, a snapshot). The objects are named from each
module's own schema definitions (:func:`ledger_objects`), not guessed by prefix,
so a table added to one of them is dropped too; anything else in the schema is
left alone. Deleting the SQLite file would take another application's tables with
it, so ``ledger demo`` refuses a database holding any (:func:`foreign_tables`)
before it writes or deletes anything: a ledger goes into a database of its own.
"""
from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.redaction import redact
from ledger.store.sqlite import database_path, read_only_uri

_CREATED = re.compile(r"\bCREATE\s+(TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_FUNCTION = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\(", re.IGNORECASE)
#: how long to wait for another process to let go of a SQLite ledger before refusing to delete it
SQLITE_WAIT_SECONDS = 5.0


class LedgerInUse(Exception):
    """The SQLite ledger is open in another process (a server, a relay, a worker): nothing was deleted."""


@dataclass(frozen=True)
class LedgerObjects:
    """What a ledger makes in its database, by name."""

    tables: frozenset[str]
    views: frozenset[str]
    #: a read model's tables, one per generation (``rm_registry_g3``): matched by this pattern
    generation_tables: re.Pattern[str]
    functions: frozenset[str]

    def owns(self, name: str, kind: str = "table") -> bool:
        if kind == "view":
            return name in self.views
        return name in self.tables or self.generation_tables.fullmatch(name) is not None


def ledger_objects() -> LedgerObjects:
    """Every table, view and function the ledger and its consumers make, read from their schema
    definitions: the log (:mod:`ledger.store.postgres`, :mod:`ledger.store.sqlite`), the read models
    (:mod:`ledger.projections.schema`), the relay's positions (:mod:`ledger.relay`), the personal-data
    vault (:mod:`ledger.personal`), the snapshots (:mod:`ledger.snapshots`) and the Kafka consumers'
    offsets (:mod:`consumers.projections`)."""
    from consumers import projections as consumers
    from ledger import personal, relay, snapshots
    from ledger.projections import schema as read_models
    from ledger.store import postgres, sqlite

    ddl = [
        postgres.TABLES, postgres.REFUSE_FUNCTION, postgres.APPEND_FUNCTION, *sqlite.SCHEMA,
        *read_models.GLOBAL_TABLES, relay.POSITION_TABLE, *personal.SCHEMA, snapshots.SCHEMA, consumers.OFFSETS_TABLE,
    ]  # fmt: skip
    created = [match.groups() for text in ddl for match in _CREATED.finditer(text)]
    generations = "|".join(re.escape(name) for name in sorted(read_models.TABLES))
    return LedgerObjects(
        tables=frozenset(name for kind, name in created if kind.upper() == "TABLE"),
        views=frozenset(read_models.VIEWS) | {name for kind, name in created if kind.upper() == "VIEW"},
        generation_tables=re.compile(rf"rm_(?:{generations})_g[0-9]+"),
        functions=frozenset(match[1] for text in ddl for match in _FUNCTION.finditer(text)),
    )


def count_events(database_url: str) -> int:
    """Events in the ledger at ``database_url``; 0 when there is none (never creates one)."""
    if database_url.startswith("sqlite:"):
        path = database_path(database_url)
        if not path.exists():
            return 0
        reader = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            found = reader.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_events'").fetchone()
            return int(reader.execute("SELECT COUNT(*) FROM ledger_events").fetchone()[0]) if found else 0
        finally:
            reader.close()  # before erase(): an open connection of ours would count as the ledger in use
    import psycopg

    with psycopg.connect(database_url) as db:
        regclass = db.execute("SELECT to_regclass('ledger_events')").fetchone()
        if not regclass or regclass[0] is None:
            return 0
        row = db.execute("SELECT COUNT(*) FROM ledger_events").fetchone()
        return int(row[0]) if row else 0


def foreign_tables(database_url: str) -> list[str]:
    """The tables and views at ``database_url`` that are not the ledger's (:func:`ledger_objects`), sorted:
    another application's, which a ledger never shares a database (a SQLite file, a PostgreSQL schema)
    with. Reads only; a missing SQLite file has none."""
    owned = ledger_objects()
    if database_url.startswith("sqlite:"):
        path = database_path(database_url)
        if not path.exists():
            return []
        reader = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            rows = reader.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
        finally:
            reader.close()
        return sorted(name for name, kind in rows if not name.startswith("sqlite_") and not owned.owns(name, kind))
    import psycopg

    with psycopg.connect(database_url) as db:
        rows = db.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        ).fetchall()
    return sorted(name for name, kind in rows if not owned.owns(name, "view" if kind == "v" else "table"))


def erase(database_url: str) -> None:
    """Remove the ledger at ``database_url`` entirely."""
    if database_url.startswith("sqlite:"):
        _erase_sqlite(database_url)
    else:
        _erase_postgres(database_url)


def _erase_sqlite(database_url: str) -> None:
    """Delete the file and its side files, once no other process has it open (:class:`LedgerInUse`
    else, and nothing is deleted). Leaving WAL mode needs the only connection to the file, so it is
    the test: SQLite then checkpoints and removes the ``-wal`` and ``-shm`` files itself, and a file in
    rollback mode, closed, leaves nothing behind that a later process could take for its own (a stale
    ``-wal`` or ``-journal``). Side files left by a crash are removed first, the database file last."""
    path = database_path(database_url)
    if path.exists():
        db = sqlite3.connect(path, timeout=SQLITE_WAIT_SECONDS, isolation_level=None)
        deadline = time.monotonic() + SQLITE_WAIT_SECONDS
        try:
            while True:  # SQLite does not wait for the busy handler while changing the journal mode
                try:
                    if str(db.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower() != "wal":
                        break  # out of WAL mode: no other connection has the file open
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) and "busy" not in str(error):
                        raise
                if time.monotonic() > deadline:
                    raise LedgerInUse(
                        f"the ledger at {redact(database_url)} is open in another process (a server, relay or"
                        " worker?): stop it, then run again; nothing was deleted"
                    )
                time.sleep(0.05)
        finally:
            db.close()
    for suffix in ("-journal", "-wal", "-shm", ""):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _erase_postgres(database_url: str) -> None:
    """Drop the ledger's views, tables and functions in the connection's schema, in one transaction."""
    import psycopg

    owned = ledger_objects()
    with psycopg.connect(database_url, autocommit=True) as db, db.transaction():
        relations = db.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v')"
        ).fetchall()
        views = sorted(name for name, kind in relations if kind == "v" and owned.owns(name, "view"))
        tables = sorted(name for name, kind in relations if kind != "v" and owned.owns(name))
        for name in views:  # before the tables they select from
            db.execute(f'DROP VIEW IF EXISTS "{name}" CASCADE')
        for name in tables:
            db.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')
        functions = db.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = current_schema() AND p.proname = ANY(%s)",
            (sorted(owned.functions),),
        ).fetchall()
        for (signature,) in functions:  # every overload: an older version's too
            db.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
