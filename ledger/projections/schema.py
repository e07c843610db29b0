"""Read-model tables, by generation, and the views that name the live generation.

Every read model is a set of physical tables suffixed with a *generation*
(``rm_registry_g1``). ``projection_generation`` (one row) says which generation
is live; the views ``rm_registry``, ``rm_grades``, ``rm_counters``, ``rm_lists``
and ``rm_timeline`` select from it, so readers (and ad-hoc SQL) always see one
whole generation. A replay builds generation N + 1 beside the live one and
switches pointer and views in one transaction (``replay.py``).

``projection_tracking(projection, generation, position)`` holds, for each
projection and generation, the position of the last event applied; it is
updated in the same transaction as the tables it tracks.
"""
from __future__ import annotations

import logging
import re

from ledger.projections.db import POSTGRES, SQLITE, Tx

log = logging.getLogger("ledger.projections")

#: a provider's line in the registry (``providers.LINE_COLUMNS``): rm_registry's and rm_registry_history's
_LINE = """
        jurisdiction TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        standing TEXT NOT NULL,
        status_since TEXT NOT NULL,
        standing_since TEXT NOT NULL,
        applied_on TEXT NOT NULL,
        admitted_on TEXT"""

#: table -> column definitions; ``{t}`` is the physical table name
TABLES: dict[str, str] = {
    # per provider: the Provider aggregate's snapshot (eventsourcing Snapshot state, same JSON transcoder)
    "provider_state": """
        provider_id TEXT PRIMARY KEY,
        originator_id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        snapshot TEXT NOT NULL,
        meta TEXT NOT NULL
    """,
    "registry": f"""
        provider_id TEXT PRIMARY KEY,{_LINE},
        version INTEGER NOT NULL,
        last_position BIGINT NOT NULL,
        last_recorded_at TEXT NOT NULL,
        standing_json TEXT NOT NULL
    """,
    "grades": """
        provider_id TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        scheme TEXT NOT NULL,
        period TEXT NOT NULL,
        grade TEXT NOT NULL,
        score DOUBLE PRECISION,
        detail TEXT NOT NULL,
        ref TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        PRIMARY KEY (provider_id, ref)
    """,
    "counters": """
        provider_id TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        counter TEXT NOT NULL,
        value INTEGER NOT NULL,
        refs TEXT NOT NULL,
        source_refs TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (provider_id, counter)
    """,
    "lists": """
        sanction_ref TEXT PRIMARY KEY,
        list_kind TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        provider_name TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        sanction TEXT NOT NULL,
        article TEXT NOT NULL,
        citation_text TEXT NOT NULL,
        document TEXT NOT NULL,
        pack_version TEXT NOT NULL,
        derived INTEGER NOT NULL,
        params TEXT NOT NULL,
        evidence TEXT NOT NULL,
        consequences TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        position BIGINT NOT NULL
    """,
    "timeline": """
        provider_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        ref TEXT NOT NULL,
        aggregate TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        event_name TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        recorded_by TEXT NOT NULL,
        effective_on TEXT,
        command_id TEXT NOT NULL,
        summary TEXT NOT NULL
    """,
    # every profile change of a provider, from its event (the Provider itself, and so
    # provider_state's snapshot, keeps only the late reports standing() lists)
    "profile_changes": """
        provider_id TEXT NOT NULL,
        ref TEXT NOT NULL,
        position BIGINT NOT NULL,
        field TEXT NOT NULL,
        old_value TEXT NOT NULL,
        new_value TEXT NOT NULL,
        changed_on TEXT NOT NULL,
        reported_on TEXT NOT NULL,
        major INTEGER NOT NULL,
        days_late INTEGER NOT NULL
    """,
    # the registry's past (``ReadModels.registry_as_of``): a provider's line (``providers.LINE_COLUMNS``)
    # each time an event changed it, with the latest instant recorded and the latest effective date
    # ('' for none) among the provider's events up to it: the line as of a window is the last row
    # whose two are inside it, unless the provider is in registry_out_of_order for that window
    "registry_history": f"""
        provider_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        recorded_max TEXT NOT NULL,
        effective_max TEXT NOT NULL,{_LINE}
    """,
    # a provider event recorded before, or taking effect before ('' for no date), an earlier event of
    # the provider: a window holding it may leave out an earlier one, so its events inside that window
    # are not the first n of the provider's and the line as of it is folded from them instead
    "registry_out_of_order": """
        provider_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        recorded_at TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        recorded_before TEXT NOT NULL,
        effective_before TEXT NOT NULL
    """,
    # deadlines the scheduler's sweep looks for (``ReadModels.deadlines_due``): orders of providers
    # in the pool not yet recorded overdue or refused, and complaint answers not yet given
    "rectification_deadlines": """
        provider_id TEXT NOT NULL,
        sanction_ref TEXT NOT NULL,
        deadline TEXT NOT NULL,
        PRIMARY KEY (provider_id, sanction_ref)
    """,
    "answer_deadlines": """
        complaint_id TEXT PRIMARY KEY,
        provider_id TEXT NOT NULL,
        deadline TEXT NOT NULL
    """,
    # originator id -> which provider timelines its events go to
    "subjects": """
        originator_id TEXT PRIMARY KEY,
        aggregate TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        provider_ids TEXT NOT NULL
    """,
}

#: the primary keys of the tables a replay's build only appends to (one row per event, never read
#: back while building): on PostgreSQL the build creates them without it and adds it once they are
#: full (:func:`create_indexes`), one sort instead of a B-tree insertion per row; the key is checked
#: all the same (a duplicate fails the build, as it would fail the COPY). SQLite cannot add a primary
#: key to a table: its tables always have it.
APPEND_ONLY_KEYS: dict[str, str] = {
    "timeline": "provider_id, position",
    "profile_changes": "provider_id, position",
    "registry_history": "provider_id, position",
    "registry_out_of_order": "provider_id, position",
}

INDEXES: dict[str, tuple[str, ...]] = {
    "registry": ("jurisdiction, provider_id",),
    "lists": ("list_kind, jurisdiction", "provider_id"),
    "grades": ("provider_id, scheme, period",),
    "rectification_deadlines": ("deadline",),
    "answer_deadlines": ("deadline",),
}

#: columns holding tens of kilobytes of JSON a row (a provider's snapshot: 39 kB on average in the
#: replay benchmark; its standing: 16 kB): on PostgreSQL built with lz4 (14 and later, Debian's
#: packages) they are created ``COMPRESSION lz4``. The server compresses every such value it stores
#: (TOAST); its default, pglz, costs it about 2.6 times the CPU (BENCHMARKS.md). Tables that exist
#: keep their compression; a replay creates new ones.
LARGE_COLUMNS: dict[str, tuple[str, ...]] = {"provider_state": ("snapshot",), "registry": ("standing_json",)}

#: the PostgreSQL type of each column type :data:`TABLES` uses (binary COPY sends values as these)
POSTGRES_TYPES = {"TEXT": "text", "INTEGER": "int4", "BIGINT": "int8", "DOUBLE PRECISION": "float8"}


def column_types(name: str) -> dict[str, str]:
    """A read model's columns and their PostgreSQL types (``{"provider_id": "text", "position": "int8"}``)."""
    types = {}
    for definition in TABLES[name].strip().split(",\n"):
        column, _, rest = definition.strip().partition(" ")
        if column == "PRIMARY":
            continue
        pg = next((pg for sql, pg in POSTGRES_TYPES.items() if rest.startswith(sql)), None)
        if pg is None:
            raise ValueError(f"{name}.{column}: no PostgreSQL type for {rest!r} in POSTGRES_TYPES")
        types[column] = pg
    return types


#: the public read models: view name -> table
VIEWS: dict[str, str] = {
    "rm_registry": "registry",
    "rm_grades": "grades",
    "rm_counters": "counters",
    "rm_lists": "lists",
    "rm_timeline": "timeline",
    "rm_profile_changes": "profile_changes",
    "rm_registry_history": "registry_history",
    "rm_registry_out_of_order": "registry_out_of_order",
    "rm_rectification_deadlines": "rectification_deadlines",
    "rm_answer_deadlines": "answer_deadlines",
}

GLOBAL_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS projection_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        live INTEGER NOT NULL,
        switched_at TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS projection_incomplete (
        table_name TEXT PRIMARY KEY
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS projection_tracking (
        projection TEXT NOT NULL,
        generation INTEGER NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (projection, generation)
    )
    """,
)


def create_generation(tx: Tx, generation: int, tables: list[str], projections: list[str], *, indexes: bool = True) -> None:
    """The generation's tables (and tracking rows at 0); ``indexes=False`` leaves the secondary
    indexes, and on PostgreSQL the primary keys of :data:`APPEND_ONLY_KEYS`, for :func:`create_indexes`
    (a replay fills the tables first, then indexes them once)."""
    later = not indexes and tx.dialect == POSTGRES
    lz4 = tx.dialect == POSTGRES and has_lz4(tx)
    # a generation being built is left alone by autovacuum until the switch (resume_autovacuum): its
    # tables only grow, nothing reads them, and a vacuum started on the timeline while the build
    # writes it held up the build's ADD PRIMARY KEY until the server cancelled the vacuum, a
    # deadlock_timeout (1 s) for each table (BENCHMARKS.md, replay)
    options = " WITH (autovacuum_enabled = false)" if later else ""
    for name in tables:
        physical = tx.table(name, generation)
        key = APPEND_ONLY_KEYS.get(name)
        columns = _columns(name, lz4) if key is None or later else f"{_columns(name, lz4).rstrip()},\n        PRIMARY KEY ({key})\n"
        tx.execute(f"CREATE TABLE IF NOT EXISTS {physical} ({columns}){options}")
    if indexes:
        create_indexes(tx, generation, tables, primary_keys=False)
    for projection in projections:
        tx.execute(
            "INSERT INTO projection_tracking (projection, generation, position) VALUES (?, ?, 0)"
            " ON CONFLICT (projection, generation) DO NOTHING",
            (projection, generation),
        )


def has_lz4(tx: Tx) -> bool:
    """Whether this PostgreSQL server can compress values with lz4 (False before 14, or without it)."""
    row = tx.fetchone("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    return bool(row and row[0])


def _columns(name: str, lz4: bool) -> str:
    """The column definitions of read model ``name``, its :data:`LARGE_COLUMNS` ``COMPRESSION lz4`` with ``lz4``."""
    columns = TABLES[name]
    for column in LARGE_COLUMNS.get(name, ()) if lz4 else ():
        columns, found = re.subn(rf"^(\s*{column} TEXT)\b", r"\1 COMPRESSION lz4", columns, flags=re.MULTILINE)
        if found != 1:
            raise ValueError(f"{name}.{column}: not one TEXT column of TABLES")
    return columns


def create_indexes(tx: Tx, generation: int, tables: list[str], *, primary_keys: bool = True) -> None:
    """The secondary indexes and, with ``primary_keys`` on PostgreSQL, the primary keys
    :func:`create_generation` left out (``indexes=False``)."""
    for name in tables:
        physical = tx.table(name, generation)
        key = APPEND_ONLY_KEYS.get(name)
        if primary_keys and key is not None and tx.dialect == POSTGRES:
            tx.execute(f"ALTER TABLE {physical} ADD PRIMARY KEY ({key})")
        for i, columns in enumerate(INDEXES.get(name, ())):
            tx.execute(f"CREATE INDEX IF NOT EXISTS {physical}_i{i} ON {physical} ({columns})")


def resume_autovacuum(tx: Tx, generation: int) -> None:
    """Give a built generation's tables back to autovacuum (PostgreSQL; :func:`create_generation`
    with ``indexes=False`` created them without it). It vacuums and analyses them after the switch,
    as it does any table that grew."""
    if tx.dialect == POSTGRES:
        for name in TABLES:
            tx.execute(f"ALTER TABLE {tx.table(name, generation)} RESET (autovacuum_enabled)")


def drop_generation(tx: Tx, generation: int) -> None:
    for name in TABLES:
        tx.execute(f"DROP TABLE IF EXISTS {tx.table(name, generation)}")
    tx.execute("DELETE FROM projection_tracking WHERE generation = ?", (generation,))


def point_views(tx: Tx, generation: int) -> None:
    """(Re)create the public views on a generation's tables (transactional on both backends)."""
    for view, name in VIEWS.items():
        tx.execute(f"DROP VIEW IF EXISTS {view}")
        tx.execute(f"CREATE VIEW {view} AS SELECT * FROM {tx.table(name, generation)}")


def lock_schema(tx: Tx) -> None:
    """Serialise schema changes between processes (PostgreSQL; SQLite's write lock already does)."""
    if tx.dialect == POSTGRES:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (0x1ED6E2,))


def ensure_schema(tx: Tx, projections: list[str]) -> int:
    """Create what is missing (idempotent, safe to race); returns the live generation."""
    lock_schema(tx)
    for statement in GLOBAL_TABLES:
        tx.execute(statement)
    tx.execute("INSERT INTO projection_generation (id, live) VALUES (1, 1) ON CONFLICT (id) DO NOTHING")
    live = tx.fetchone("SELECT live FROM projection_generation WHERE id = 1")[0]  # type: ignore[index]  # inserted above
    before = existing_tables(tx)
    applied = tx.fetchone("SELECT COALESCE(MAX(position), 0) FROM projection_tracking WHERE generation = ?", (live,))[0]  # type: ignore[index]  # an aggregate: one row
    create_generation(tx, live, list(TABLES), projections)
    added = [name for name in TABLES if tx.table(name, live) not in before]
    if added and int(applied) > 0:
        # a newer version added read models to a generation that already applied events: they lack
        # the rows of those events until a replay rebuilds every table (which clears this list)
        log.warning("read models %s were added to a ledger with events: run `ledger replay` to fill them", ", ".join(added))
        for name in added:
            tx.execute("INSERT INTO projection_incomplete (table_name) VALUES (?) ON CONFLICT (table_name) DO NOTHING", (name,))
    if not views_exist(tx):
        point_views(tx, live)
    return live


def incomplete(tx: Tx) -> list[str]:
    """Read models added after events were applied, not yet filled by a replay."""
    return [r[0] for r in tx.fetchall("SELECT table_name FROM projection_incomplete ORDER BY table_name")]


def existing_tables(tx: Tx) -> set[str]:
    if tx.dialect == SQLITE:
        rows = tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = tx.fetchall("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r[0] for r in rows}


def views_exist(tx: Tx) -> bool:
    names = list(VIEWS)
    marks = ",".join("?" * len(names))
    if tx.dialect == SQLITE:
        row = tx.fetchone(f"SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name IN ({marks})", names)
    else:
        row = tx.fetchone(
            f"SELECT count(*) FROM information_schema.views WHERE table_schema = current_schema() AND table_name IN ({marks})",
            names,
        )
    return bool(row and row[0] == len(names))


def live_generation(tx: Tx) -> int | None:
    """The generation of read models that serves, read without holding it (a reader's); None if none is named."""
    row = tx.fetchone("SELECT live FROM projection_generation WHERE id = 1")
    return int(row[0]) if row is not None else None


def lock_live(tx: Tx, exclusive: bool = False) -> int:
    """Read the live generation, holding it (shared for projectors, exclusive for a switch)."""
    if tx.dialect == POSTGRES:
        mode = "FOR UPDATE" if exclusive else "FOR SHARE"
        row = tx.fetchone(f"SELECT live FROM projection_generation WHERE id = 1 {mode}")
    else:  # BEGIN IMMEDIATE already holds the database's write lock
        row = tx.fetchone("SELECT live FROM projection_generation WHERE id = 1")
    if row is None:
        raise RuntimeError("projection tables are missing: call ensure_schema first")
    return int(row[0])


def generations(tx: Tx) -> list[int]:
    return sorted({int(r[0]) for r in tx.fetchall("SELECT DISTINCT generation FROM projection_tracking")})
