"""What a PostgreSQL schema holds, to check that a refused command made nothing in it."""
from __future__ import annotations

import psycopg


def schema_objects(url: str) -> list[tuple[str, str]]:
    """The relations and functions of ``url``'s current schema, sorted."""
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT 'relation', c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema()"
            " UNION ALL SELECT 'function', p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = current_schema() ORDER BY 1, 2"
        ).fetchall()
