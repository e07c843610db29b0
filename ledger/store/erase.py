"""Deleting a whole ledger: only ever on an explicit request (``ledger demo --replace``).

Nothing else in the ledger deletes data; the event tables even refuse UPDATE,
DELETE and TRUNCATE. Replacing a demo ledger therefore removes the database
objects themselves: the SQLite file (with its WAL and shared-memory files), or
on PostgreSQL every table and view of the ledger in the connection's schema
(events, commands, read models, relay positions).
"""
from __future__ import annotations

from pathlib import Path

from ledger.store.sqlite import database_path

#: name prefixes of the ledger's PostgreSQL tables and views
PREFIXES = ("ledger_", "rm_", "projection_", "relay_")


def count_events(database_url: str) -> int:
    """Events in the ledger at ``database_url``; 0 when there is none (never creates one)."""
    if database_url.startswith("sqlite:"):
        path = database_path(database_url)
        if not path.exists():
            return 0
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_events'").fetchone()
            return int(db.execute("SELECT COUNT(*) FROM ledger_events").fetchone()[0]) if found else 0
    import psycopg

    with psycopg.connect(database_url) as db:
        found = db.execute("SELECT to_regclass('ledger_events')").fetchone()
        if not found or found[0] is None:
            return 0
        row = db.execute("SELECT COUNT(*) FROM ledger_events").fetchone()
        return int(row[0]) if row else 0


def erase(database_url: str) -> None:
    """Remove the ledger at ``database_url`` entirely."""
    if database_url.startswith("sqlite:"):
        path = database_path(database_url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as db:
        like = " OR ".join("c.relname LIKE %s" for _ in PREFIXES)
        rows = db.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p') AND ({like})",
            [p.replace("_", r"\_") + "%" for p in PREFIXES],
        ).fetchall()
        with db.transaction():
            for name, kind in sorted(rows, key=lambda r: r[1] != "v"):  # views first
                db.execute(f'DROP {"VIEW" if kind == "v" else "TABLE"} IF EXISTS "{name}" CASCADE')
