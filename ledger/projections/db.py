"""The read-model database: the events' own database (SQLite file or PostgreSQL), our own connections.

SQL in this package is written once, with ``?`` placeholders and unqualified
table names (so that a PostgreSQL ``search_path`` given in the URL decides the
schema); :class:`Tx` adapts the placeholders for psycopg. Values are kept
portable: dates and instants as ISO text, booleans as 0/1, JSON as text.

Write transactions serialise on SQLite's write lock (``BEGIN IMMEDIATE``); on
PostgreSQL the projection code takes row locks itself (see ``runner``).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson

from ledger.plain_json import NotPlain, walker
from ledger.redaction import redact
from ledger.store.sqlite import database_path, read_only_uri, writable

SQLITE = "sqlite"
POSTGRES = "postgres"


def dialect_of(database_url: str) -> str:
    if database_url.startswith("sqlite:"):
        return SQLITE
    if database_url.startswith(("postgresql:", "postgres:")):
        return POSTGRES
    raise ValueError(f"unsupported database URL {redact(database_url)!r}: use sqlite:///FILE or postgresql://…")


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default)


def dumps(value: Any) -> str:
    """Deterministic JSON text (a replay must produce byte-identical rows): ``json.dumps(value,
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default)``. A replay
    writes several small values per provider (refs, grade details, most of them empty): a string,
    an empty list or dict and a list of strings are written here as the encoder writes them; a
    larger value (a provider's standing, full of dates) by ``orjson`` where it writes the same
    text (:mod:`ledger.plain_json`), else by one encoder made once."""
    t = type(value)
    if t is str:
        return _encode_str(value)
    if t is list:
        if not value:
            return "[]"
        if all(type(item) is str for item in value):
            return "[" + ",".join(map(_encode_str, value)) + "]"
    elif t is dict and not value:
        return "{}"
    try:
        return orjson.dumps(_plain(value), option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (NotPlain, orjson.JSONEncodeError):
        return _ENCODER.encode(value)


def _plain_leaf(value: Any) -> Any:
    """What ``json`` makes of a value it asks :func:`_json_default` about, as plain values (a date
    inline: the commonest)."""
    if type(value) is date:
        return value.isoformat()
    if isinstance(value, _JSON_TYPES):
        raise NotPlain  # a subclass of a JSON type: json writes it itself, never asking the default
    try:
        return _plain(_json_default(value))
    except TypeError:
        raise NotPlain from None  # json raises it


_JSON_TYPES = (str, int, float, list, tuple, dict)


_plain = walker(_plain_leaf)


_encode_str = json.encoder.encode_basestring


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _storable(params: Sequence[Any]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold NUL. Commands refuse it (``ledger.commands.fields``), but an event
    recorded before that, or written past the command layer, must not wedge every later projection:
    its NUL is shown as U+FFFD in the read models (the log keeps the event exactly)."""
    return tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p for p in params)


def may_hold_nul(topic: str, state: str, recorded_by: str, command_id: str) -> bool:
    """Whether an event's texts may put NUL into a read model: the only way one gets there (the
    state is JSON, which writes NUL as ``\\u0000``; the rows' other texts are the code's)."""
    return "\\u0000" in state or "\x00" in topic or "\x00" in recorded_by or "\x00" in command_id


@lru_cache(maxsize=256)
def _copy_types(name: str, columns: tuple[str, ...]) -> list[str]:
    """The PostgreSQL types of ``columns`` of a read model (``timeline``), for a binary COPY: values go
    as they are (no text to escape and parse), so each must be of its column's type (``str`` for
    TEXT, ``int`` for INTEGER and BIGINT, ``float`` for DOUBLE PRECISION, or None)."""
    from ledger.projections.schema import column_types

    types = column_types(name)
    return [types[column] for column in columns]


class Tx:
    """One read-model transaction: run SQL, name generation tables, keep per-batch scratch state.

    ``scratch`` lives exactly as long as the transaction: a projection may cache
    what it loaded or changed there and write it in ``flush``; a rollback
    discards it together with the database changes.
    """

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect
        self.generation: int = 0
        self.scratch: dict[str, Any] = {}
        #: set by a writer that knows no text it writes holds NUL (every event it folded was free of
        #: it): rows then go to COPY as they are, without :func:`_storable` looking at every value
        self.nul_free = False

    def table(self, name: str, generation: int | None = None) -> str:
        """The physical table of a read model in a generation (``rm_registry_g3``)."""
        return f"rm_{name}_g{self.generation if generation is None else generation}"

    def _sql(self, sql: str) -> str:
        if self.dialect == POSTGRES:
            return sql.replace("%", "%%").replace("?", "%s")
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.dialect == POSTGRES:
            return self._conn.execute(self._sql(sql), _storable(params))
        return self._conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if len(rows) == 1:  # psycopg runs executemany in a pipeline: for one row, a plain statement costs less
            self.execute(sql, rows[0])
            return
        if self.dialect == POSTGRES:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), [_storable(r) for r in rows])
        else:
            self._conn.executemany(sql, [tuple(r) for r in rows])

    def insert_rows(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Many rows at once into read model ``name``'s table of this transaction's generation: a binary
        ``COPY`` on PostgreSQL (typed by :func:`_copy_types`), one prepared ``executemany`` on SQLite."""
        if not rows:
            return
        table = self.table(name)
        if self.dialect == POSTGRES:
            types = _copy_types(name, tuple(columns))
            with self._conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows if self.nul_free else map(_storable, rows):
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self._conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def _where_in(self, statement: str, column: str, keys: Sequence[Any]) -> list[Any]:
        """``statement WHERE column IN keys`` in a few statements however many keys (one on
        PostgreSQL, one per 500 keys on SQLite); their cursors, none for no keys."""
        keys = list(keys)
        if not keys:
            return []
        if self.dialect == POSTGRES:
            return [self._conn.execute(f"{statement} WHERE {column} = ANY(%s)", (keys,))]
        return [
            self._conn.execute(f"{statement} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)
            for chunk in (keys[start:start + 500] for start in range(0, len(keys), 500))
        ]

    def delete_keys(self, table: str, column: str, keys: Sequence[Any]) -> None:
        """``DELETE FROM table WHERE column IN keys``, in a few statements however many keys."""
        self._where_in(f"DELETE FROM {table}", column, keys)

    def select_keys(self, table: str, columns: str, column: str, keys: Sequence[Any]) -> list[tuple]:
        """``SELECT columns FROM table WHERE column IN keys``, in a few statements however many keys."""
        return [tuple(row) for cursor in self._where_in(f"SELECT {columns} FROM {table}", column, keys) for row in cursor.fetchall()]

    def delete_pairs(self, table: str, columns: tuple[str, str], pairs: Sequence[tuple[str, str]]) -> None:
        """``DELETE FROM table WHERE (columns) IN pairs``, two text columns, in one statement on
        PostgreSQL (one ``executemany`` on SQLite) however many pairs. On PostgreSQL the first column
        is also matched against its distinct values, so that the server reads only those keys' rows
        by an index on it (without, it hashes the pairs and reads the whole table beyond a few)."""
        if not pairs:
            return
        first, second = columns
        if self.dialect == POSTGRES:
            self._conn.execute(
                f"DELETE FROM {table} WHERE {first} = ANY(%s)"
                f" AND ({first}, {second}) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (list(dict.fromkeys(a for a, _ in pairs)), [a for a, _ in pairs], [b for _, b in pairs]),
            )
            return
        self._conn.executemany(f"DELETE FROM {table} WHERE {first} = ? AND {second} = ?", list(pairs))

    def has_tables(self, *names: str) -> bool:
        """Whether every one of ``names`` exists (a read: checking makes nothing)."""
        if self.dialect == SQLITE:
            marks = ",".join("?" * len(names))
            row = self.fetchone(f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({marks})", names)
            return bool(row and row[0] == len(set(names)))
        row = self.fetchone("SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest(?::text[]) AS t(name)", (list(names),))
        return bool(row and row[0])

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, params).fetchall())

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


class ReadModelDB:
    """Connections to the read-model database named by a ledger database URL."""

    def __init__(self, database_url: str, *, pool_size: int = 4, busy_timeout: float = 30.0) -> None:
        self.database_url = database_url
        self.dialect = dialect_of(database_url)
        self.busy_timeout = busy_timeout
        #: SQLite: a file this process may not write (a read-only mount, an immutable file), read
        #: through ``read_only_uri``: nothing is created beside it, and a write fails as SQLite says
        self.read_only = False
        self._closed = False
        self._pool = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.schema_ready = False
        if self.dialect == SQLITE:
            self.path = database_path(database_url)
            self.read_only = self.path.exists() and not writable(self.path)
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                database_url, min_size=1, max_size=max(1, pool_size), open=True, name="ledger-read-models"
            )

    # -- SQLite: one connection per thread, explicit transactions --------------------

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise RuntimeError("the read-model database is closed")
            conn = sqlite3.connect(
                read_only_uri(self.path) if self.read_only else self.path,
                uri=self.read_only, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False,
            )  # fmt: skip
            self._connections.append(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if not self.read_only and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """A transaction that commits when the block ends and rolls back if it raises."""
        if self._closed:
            raise RuntimeError("the read-model database is closed")
        if self.dialect == SQLITE:
            conn = self._sqlite()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(conn, SQLITE)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        else:
            import psycopg

            assert self._pool is not None
            for attempt in (1, 2):
                with self._pool.connection() as pg:  # commits on success, rolls back on error
                    if not write:
                        try:
                            pg.execute("SET TRANSACTION READ ONLY")
                        except psycopg.OperationalError:
                            # the server closed the pooled connection since it was last used (a
                            # restart): the pool drops it, and the transaction begins on another,
                            # once, before anything of the caller's ran
                            if attempt == 2 or not pg.broken:
                                raise
                            continue
                    yield Tx(pg, POSTGRES)
                    return

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing is best effort
                pass
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> ReadModelDB:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
