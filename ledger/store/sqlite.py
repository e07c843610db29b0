"""The embedded event store: one SQLite file in WAL mode.

Writers serialise on SQLite's own write lock (``BEGIN IMMEDIATE``, waiting up to
``busy_timeout``), across threads and processes alike, so positions are assigned
one transaction at a time and a transaction commits whole: readers never see a gap.
Each thread gets its own connection; readers do not wait for writers (WAL).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from ledger.redaction import redact
from ledger.store import _batch
from ledger.store.base import (
    EARLIER_COLUMNS,
    GENESIS_HASH,
    ROW_COLUMNS,
    SCAN_COLUMNS,
    AppendResult,
    CommandBatch,
    ConcurrencyConflict,
    EventStore,
    NoLedger,
    PersonalKeyConflict,
    PersonalRecord,
    ReadOnlyLedger,
    RecordedCommand,
    RecordedEvent,
    chain_command_rows,
    share_of,
)

T = TypeVar("T")

URL_PREFIX = "sqlite:///"

#: Triggers that make the tables append-only in the database itself.
APPEND_ONLY_TRIGGERS: dict[str, str] = {
    f"{table}_no_{op.lower()}": (
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    )
    for table in ("ledger_events", "ledger_commands")
    for op in ("UPDATE", "DELETE")
}
#: ``INSERT OR REPLACE`` / ``REPLACE INTO`` delete the row they collide with without firing DELETE
#: triggers (unless recursive_triggers is on in the writer's own connection): refuse every insert
#: that collides with a recorded row, before any conflict clause is applied.
_REPLACED = {
    "ledger_events": "position = NEW.position OR (originator_id = NEW.originator_id"
    " AND originator_version = NEW.originator_version)",
    "ledger_commands": "command_id = NEW.command_id OR seq = NEW.seq",
}
APPEND_ONLY_TRIGGERS.update(
    {
        f"{table}_no_replace": (
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {collides}) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: a recorded row cannot be replaced'); END"
        )
        for table, collides in _REPLACED.items()
    }
)


def _normalised_sql(sql: str) -> str:
    return " ".join(sql.replace("IF NOT EXISTS ", "").split()).lower()

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS ledger_events (
        position INTEGER PRIMARY KEY,
        originator_id TEXT NOT NULL,
        originator_version INTEGER NOT NULL,
        topic TEXT NOT NULL,
        state TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        effective_on TEXT,
        recorded_by TEXT NOT NULL,
        command_id TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (originator_id, originator_version)
    )
    """,
    "CREATE INDEX IF NOT EXISTS ledger_events_command_id ON ledger_events (command_id)",
    # originator_ids(): the events that create aggregates
    "CREATE INDEX IF NOT EXISTS ledger_events_creations ON ledger_events (topic, position)"
    " WHERE originator_version = 1",
    """
    CREATE TABLE IF NOT EXISTS ledger_commands (
        command_id TEXT PRIMARY KEY,
        command_type TEXT NOT NULL,
        recorded_by TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        first_position INTEGER,
        last_position INTEGER,
        payload_digest TEXT NOT NULL,
        seq INTEGER NOT NULL UNIQUE,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    *APPEND_ONLY_TRIGGERS.values(),
]

EVENT_COLUMNS = (
    "position, originator_id, originator_version, topic, state, recorded_at, effective_on,"
    " recorded_by, command_id, prev_hash, hash"
)
INSERT_EVENT = f"INSERT INTO ledger_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
COMMAND_COLUMNS = (
    "seq, command_id, command_type, recorded_by, recorded_at, payload, payload_digest,"
    " first_position, last_position, prev_hash, hash"
)
INSERT_COMMAND = f"INSERT INTO ledger_commands ({COMMAND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#: what a retry is checked against
EARLIER_COMMAND = f"SELECT {EARLIER_COLUMNS} FROM ledger_commands WHERE command_id = ?"
#: a batch's personal records (CommandBatch.personal), kept with it in the personal-data vault's tables
#: (ledger.personal, which makes them): a person's key, and a holder's values and their MAC
PERSON_ERASED = "SELECT 1 FROM personal_erasures WHERE person_id = ?"
PERSON_KEY = "SELECT key_material FROM personal_keys WHERE person_id = ?"
KEEP_KEY = "INSERT INTO personal_keys (person_id, key_material, created_at) VALUES (?, ?, ?) ON CONFLICT (person_id) DO NOTHING"
KEEP_DATA = (
    "INSERT INTO personal_data (holder, person_id, nonce, ciphertext, sealed_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (holder) DO UPDATE SET person_id = excluded.person_id, nonce = excluded.nonce,"
    " ciphertext = excluded.ciphertext, sealed_at = excluded.sealed_at"
)
KEEP_MAC = "INSERT INTO personal_macs (holder, mac) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET mac = excluded.mac"

#: Rows fetched per query by read_all, and ids/refs per IN list.
READ_CHUNK = 500
#: rows a scan reads per query
SCAN_CHUNK = 5000
IN_CHUNK = 400


#: the version of the log's schema this code writes (numbered as :data:`ledger.store.postgres.SCHEMA_VERSION`,
#: whose 3 only adds PostgreSQL's server-side append): 1 had unchained command rows and no replace
#: guards; 2 chains the command rows.
SCHEMA_VERSION = 2


def _upgrade_from_1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2, in the caller's write transaction: chain the command rows recorded so far (in
    the order they were recorded) and add the replace guards. No event is touched; the command rows'
    update trigger is dropped and put back only inside the transaction, and only if it was there."""
    for column, kind in (("payload_digest", "TEXT"), ("seq", "INTEGER"), ("prev_hash", "TEXT"), ("hash", "TEXT")):
        conn.execute(f"ALTER TABLE ledger_commands ADD COLUMN {column} {kind} NOT NULL DEFAULT ''")
    rows = conn.execute(
        "SELECT command_id, command_type, recorded_by, recorded_at, payload, first_position, last_position"
        " FROM ledger_commands ORDER BY recorded_at, first_position IS NULL, first_position, command_id"
    ).fetchall()
    chained = chain_command_rows(rows, _utc)
    guard = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'ledger_commands_no_update'").fetchone()
    if guard is not None:
        conn.execute("DROP TRIGGER ledger_commands_no_update")
    conn.executemany(
        "UPDATE ledger_commands SET payload_digest = ?, seq = ?, prev_hash = ?, hash = ? WHERE command_id = ?", chained
    )
    if guard is not None:
        conn.execute(guard[0])
    conn.execute("CREATE UNIQUE INDEX ledger_commands_seq ON ledger_commands (seq)")
    for name, definition in APPEND_ONLY_TRIGGERS.items():
        if name.endswith("_no_replace"):
            conn.execute(definition)


def _log_version(conn: sqlite3.Connection) -> int:
    """0: no log in the file; 1: made before the command chain; else :data:`SCHEMA_VERSION` (reads only)."""
    tables = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('ledger_events', 'ledger_commands')"
    )}  # fmt: skip
    if "ledger_events" not in tables:
        return 0
    if "ledger_commands" in tables and "seq" not in {r[1] for r in conn.execute("PRAGMA table_info(ledger_commands)")}:
        return 1
    return SCHEMA_VERSION


def read_only_uri(path: Path) -> str:
    """A URI that reads ``path`` and leaves the file and its folder as they were. A reader of a file in
    WAL mode makes the ``-wal`` and ``-shm`` files if they are missing, and a read-only one cannot
    remove them when it is done; a file in WAL mode without a ``-wal`` file holds all it has in itself
    (writers append to the ``-wal``), so it is read as immutable. Else (rollback mode, whose readers
    make no file, or a ``-wal`` already there) read-only."""
    with path.open("rb") as file:
        header = file.read(20)
    wal = len(header) == 20 and header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"
    mode = "immutable=1" if wal and not Path(f"{path}-wal").exists() else "mode=ro"
    return f"{path.resolve().as_uri()}?{mode}"


def writable(path: Path) -> bool:
    """Whether this process may write ``path`` in WAL mode: the file, and either its folder (to make
    the ``-wal`` and ``-shm`` files) or those two files where they are already there (a writer holds
    the ledger open in a folder the process may not write). Not on a read-only mount, an immutable
    file, or without write permission."""
    if not os.access(path, os.W_OK):
        return False
    beside = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    return os.access(path.parent, os.W_OK) or all(os.access(p, os.W_OK) for p in beside)


def database_path(database_url: str) -> Path:
    """``sqlite:///ledger.db`` -> ``ledger.db``; ``sqlite:////var/ledger.db`` -> ``/var/ledger.db``."""
    if not database_url.startswith(URL_PREFIX):
        raise ValueError(f"not a SQLite URL: {redact(database_url)!r} (use sqlite:///relative.db or sqlite:////absolute.db)")
    path = database_url[len(URL_PREFIX):]
    if not path or path == ":memory:" or "?" in path:
        raise ValueError(f"the SQLite store needs a file path, got {redact(database_url)!r}")
    return Path(path)


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _text_row(row: tuple) -> tuple:
    """A row of :data:`SCAN_COLUMNS` (or :data:`ROW_COLUMNS`) as the scan gives it: the instant in UTC
    as ``isoformat()`` writes it, the date as ``date.isoformat()`` does (ids are held as that text)."""
    position, originator_id, version, topic, state, recorded_at, effective_on, *rest = row
    on = date.fromisoformat(effective_on).isoformat() if effective_on is not None else None
    return (position, originator_id, version, topic, state, _utc(recorded_at).isoformat(), on, *rest)


def _event(row: sqlite3.Row | tuple) -> RecordedEvent:
    (position, originator_id, version, topic, state, recorded_at, effective_on,
     recorded_by, command_id, prev_hash, digest) = row
    return RecordedEvent(
        position=position,
        originator_id=UUID(originator_id),
        originator_version=version,
        topic=topic,
        state=state,
        recorded_at=_utc(recorded_at),
        effective_on=date.fromisoformat(effective_on) if effective_on is not None else None,
        recorded_by=recorded_by,
        command_id=command_id,
        prev_hash=prev_hash,
        hash=digest,
    )


def _command(row: sqlite3.Row | tuple) -> RecordedCommand:
    (seq, command_id, command_type, recorded_by, recorded_at, payload, digest, first, last, prev_hash, hash_) = row
    return RecordedCommand(
        seq, command_id, command_type, recorded_by, _utc(recorded_at), payload, digest, first, last, prev_hash, hash_
    )


def _personal_to_keep(conn: sqlite3.Connection, records: Sequence[PersonalRecord]) -> list[PersonalRecord] | PersonalKeyConflict:
    """The records of a batch to keep with it: not an erased person's; a conflict if a person has
    a key other than the one their record was encrypted under (checked after the batches before it
    in the transaction kept theirs)."""
    keep = []
    for record in records:
        if conn.execute(PERSON_ERASED, (record.person_id,)).fetchone() is not None:
            continue
        kept = conn.execute(PERSON_KEY, (record.person_id,)).fetchone()
        if kept is not None and kept[0] != record.key_material:
            return PersonalKeyConflict([record.person_id])
        keep.append(record)
    return keep


def _earlier(command_id: str, row: tuple) -> AppendResult:
    first, last, digest, command_type, recorded_at = row
    return AppendResult(
        command_id, _batch.positions_of(first, last), duplicate=True,
        payload_digest=digest, command_type=command_type, recorded_at=_utc(recorded_at),
    )  # fmt: skip


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SQLiteEventStore(EventStore):
    """Event store in one SQLite file; safe for concurrent use from threads and processes."""

    def __init__(
        self, database_url: str, *, busy_timeout: float = 30.0, pool_size: int | None = None, create: bool = True
    ) -> None:
        # pool_size is accepted (and ignored) so that open_store() takes the same options for every backend.
        self.database_url = database_url
        self.path = database_path(database_url)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        #: opened to read a file this process may not write (an archived copy on a read-only mount,
        #: an immutable file): every connection reads it through :func:`read_only_uri`
        self.read_only = False
        if not create:
            self._require_ledger()  # before the first connection of our own: that one may write
            self.read_only = not writable(self.path)
            return
        if self.path.exists() and not writable(self.path):  # a writer (demo, import, the API) on a file it may only read
            raise ReadOnlyLedger(f"the ledger at {redact(database_url)} is read-only (this process may not write it): nothing was recorded")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create_schema()

    # -- connections and transactions ------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._connections_lock:
            if self._closed:
                raise RuntimeError("the event store is closed")
            conn = sqlite3.connect(
                read_only_uri(self.path) if self.read_only else self.path,
                uri=self.read_only,
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit: transactions are begun explicitly
                check_same_thread=False,  # so that close() can close every thread's connection
            )
            self._connections.append(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if not self.read_only:
            self._use_wal(conn)
        self._local.conn = conn
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL mode (persistent). SQLite does not call the busy handler
        while changing the journal mode, so connections opening a new file at once retry."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction holding SQLite's write lock."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _require_ledger(self) -> None:
        """Opened to read: the file must hold a current log (:class:`~ledger.store.base.NoLedger` if
        not), looked at read-only: a missing, empty or unrelated file is left exactly as it was."""
        shown = redact(self.database_url)
        if not self.path.exists():
            raise NoLedger(f"no ledger at {shown}: {self.path} does not exist")
        reader = sqlite3.connect(read_only_uri(self.path), uri=True, timeout=self.busy_timeout)
        try:
            found = _log_version(reader)
        finally:
            reader.close()
        if found == 0:
            raise NoLedger.missing(shown)
        if found < SCHEMA_VERSION:
            raise NoLedger.older(shown, found, SCHEMA_VERSION)

    def _create_schema(self) -> None:
        """Create the log in a new file, or upgrade one made by an older version. An existing,
        current log is left as it is: a protection that was removed is reported by
        :meth:`protection_problems`, never silently put back."""

        def create(conn: sqlite3.Connection) -> None:
            found = _log_version(conn)
            if found == 0:
                for statement in SCHEMA:
                    conn.execute(statement)
            elif found == 1:
                _upgrade_from_1(conn)

        if _log_version(self._connection()) < SCHEMA_VERSION:
            self._write(create)

    def protection_problems(self) -> list[str]:
        """The append-only triggers that are missing or were redefined."""
        found = dict(
            self._connection().execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        )
        problems = []
        for name, definition in APPEND_ONLY_TRIGGERS.items():
            if name not in found:
                problems.append(f"protection removed: trigger {name} is missing")
            elif _normalised_sql(found[name]) != _normalised_sql(definition):
                problems.append(f"protection redefined: trigger {name} is not the ledger's")
        return problems

    # -- writing ---------------------------------------------------------------------

    @staticmethod
    def _head(conn: sqlite3.Connection) -> _batch.Head:
        row = conn.execute("SELECT position, hash FROM ledger_events ORDER BY position DESC LIMIT 1").fetchone()
        return _batch.Head(*row) if row else _batch.Head(0, GENESIS_HASH)

    @staticmethod
    def _command_head(conn: sqlite3.Connection) -> _batch.Head:
        row = conn.execute("SELECT seq, hash FROM ledger_commands ORDER BY seq DESC LIMIT 1").fetchone()
        return _batch.Head(*row) if row else _batch.Head(0, GENESIS_HASH)

    @staticmethod
    def _current_versions(conn: sqlite3.Connection, ids: Iterable[UUID]) -> dict[UUID, int]:
        current: dict[UUID, int] = {}
        for chunk in _chunks([str(i) for i in ids], IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT originator_id, MAX(originator_version) FROM ledger_events"
                f" WHERE originator_id IN ({marks}) GROUP BY originator_id",
                chunk,
            )
            current.update((UUID(originator_id), version) for originator_id, version in rows)
        return current

    def _append_one(
        self, conn: sqlite3.Connection, prepared: _batch.PreparedBatch, head: _batch.Head
    ) -> tuple[AppendResult | ConcurrencyConflict, _batch.Head]:
        batch = prepared.batch
        row = conn.execute(EARLIER_COMMAND, (batch.command_id,)).fetchone()
        if row is not None:
            return _earlier(batch.command_id, row).check_retry(batch.command_id, batch.payload_digest), head
        conflict = _batch.find_conflict(prepared.expected, self._current_versions(conn, prepared.expected))
        if conflict is not None:
            return conflict, head
        personal = _personal_to_keep(conn, batch.personal)
        if isinstance(personal, PersonalKeyConflict):
            return personal, head
        recorded = _batch.chain(prepared, head)
        conn.executemany(
            INSERT_EVENT,
            [
                (
                    e.position, str(e.originator_id), e.originator_version, e.topic, e.state,
                    e.recorded_at.isoformat(), e.effective_on.isoformat() if e.effective_on else None,
                    e.recorded_by, e.command_id, e.prev_hash, e.hash,
                )
                for e in recorded
            ],
        )
        command = _batch.chain_command(batch, recorded, self._command_head(conn))
        conn.execute(
            INSERT_COMMAND,
            (
                command.seq, command.command_id, command.command_type, command.recorded_by,
                command.recorded_at.isoformat(), command.payload, command.payload_digest,
                command.first_position, command.last_position, command.prev_hash, command.hash,
            ),
        )
        for record in personal:
            conn.execute(KEEP_KEY, (record.person_id, record.key_material, record.sealed_at))
            conn.execute(KEEP_DATA, (record.holder, record.person_id, record.nonce, record.ciphertext, record.sealed_at))
            conn.execute(KEEP_MAC, (record.holder, record.mac))
        if recorded:
            head = _batch.Head(recorded[-1].position, recorded[-1].hash)
        return AppendResult(
            batch.command_id, tuple(e.position for e in recorded), payload_digest=command.payload_digest,
            command_type=command.command_type, recorded_at=command.recorded_at,
        ), head  # fmt: skip

    def append(self, batch: CommandBatch) -> AppendResult:
        prepared = _batch.prepare(batch)

        def work(conn: sqlite3.Connection) -> AppendResult:
            outcome, _ = self._append_one(conn, prepared, self._head(conn))
            if isinstance(outcome, ConcurrencyConflict):
                raise outcome  # nothing was written; _write rolls back
            return outcome

        return self._write(work)

    def append_many(
        self, batches: Sequence[CommandBatch | _batch.PreparedBatch], atomic: bool = False
    ) -> list[AppendResult | ConcurrencyConflict]:
        prepared = [_batch.prepared(batch) for batch in batches]
        if not prepared:
            return []

        def work(conn: sqlite3.Connection) -> list[AppendResult | ConcurrencyConflict]:
            head = self._head(conn)
            outcomes: list[AppendResult | ConcurrencyConflict] = []
            for item in prepared:
                conn.execute("SAVEPOINT ledger_batch")
                outcome, head = self._append_one(conn, item, head)
                if isinstance(outcome, ConcurrencyConflict):
                    if atomic:
                        raise outcome  # _write rolls the whole transaction back
                    conn.execute("ROLLBACK TO SAVEPOINT ledger_batch")
                conn.execute("RELEASE SAVEPOINT ledger_batch")
                outcomes.append(outcome)
            return outcomes

        return self._write(work)

    # -- reading ---------------------------------------------------------------------

    def read_aggregate(self, originator_id: UUID, from_version: int = 1) -> list[RecordedEvent]:
        rows = self._connection().execute(
            f"SELECT {EVENT_COLUMNS} FROM ledger_events WHERE originator_id = ? AND originator_version >= ?"
            " ORDER BY originator_version",
            (str(originator_id), from_version),
        )
        return [_event(row) for row in rows]

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        return _batch.paged(
            lambda last, size: self._connection()
            .execute(f"SELECT {EVENT_COLUMNS} FROM ledger_events WHERE position > ? ORDER BY position LIMIT ?", (last, size))
            .fetchall(),
            _event,
            after,
            limit,
            READ_CHUNK,
        )

    def scan(self, upto: int, share: int = 0, shares: int = 1, *, by_aggregate: bool = False) -> Generator[tuple, None, None]:
        """Pages of the log, as tuples (no long-lived cursor: SQLite writers go on meanwhile); by
        position, or ``by_aggregate`` by ``(originator_id, originator_version)`` (ids are held as
        their lowercase text, which sorts as the ids do)."""
        columns = ", ".join(SCAN_COLUMNS)
        if by_aggregate:
            query = f"SELECT {columns} FROM ledger_events WHERE (originator_id, originator_version) > (?, ?) AND position <= ? ORDER BY originator_id, originator_version LIMIT ?"
            after: tuple[Any, ...] = ("", 0)
        else:
            query = f"SELECT {columns} FROM ledger_events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
            after = (0,)
        while True:
            rows = self._connection().execute(query, (*after, upto, SCAN_CHUNK)).fetchall()
            if not rows:
                return
            last = rows[-1]
            after = (last[1], last[2]) if by_aggregate else (last[0],)
            for row in rows:
                if shares == 1 or share_of(row[1], shares) == share:
                    yield _text_row(row)
            if len(rows) < SCAN_CHUNK:
                return

    def read_rows(self, after: int, limit: int) -> list[tuple]:
        query = f"SELECT {', '.join(ROW_COLUMNS)} FROM ledger_events WHERE position > ? ORDER BY position LIMIT ?"
        return [_text_row(row) for row in self._connection().execute(query, (after, limit))]

    def read_refs(self, refs: Iterable[str]) -> dict[str, RecordedEvent]:
        wanted = _batch.parse_refs(refs)
        by_key: dict[tuple[UUID, int], RecordedEvent] = {}
        keys = list(set(wanted.values()))
        conn = self._connection()
        for chunk in _chunks(keys, IN_CHUNK):
            values = ",".join("(?, ?)" for _ in chunk)
            params = [p for originator_id, version in chunk for p in (str(originator_id), version)]
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM ledger_events"
                f" WHERE (originator_id, originator_version) IN (VALUES {values})",
                params,
            )
            for row in rows:
                event = _event(row)
                by_key[(event.originator_id, event.originator_version)] = event
        return {ref: by_key[key] for ref, key in wanted.items() if key in by_key}

    def max_position(self) -> int:
        return self._connection().execute("SELECT COALESCE(MAX(position), 0) FROM ledger_events").fetchone()[0]

    def command_result(self, command_id: str) -> AppendResult | None:
        row = self._connection().execute(EARLIER_COMMAND, (command_id,)).fetchone()
        return None if row is None else _earlier(command_id, row)

    def command_results(self, command_ids: Iterable[str]) -> dict[str, AppendResult]:
        ids = list(dict.fromkeys(command_ids))
        conn = self._connection()
        found: dict[str, AppendResult] = {}
        for chunk in _chunks(ids, IN_CHUNK):
            rows = conn.execute(
                f"SELECT command_id, {EARLIER_COLUMNS}"
                f" FROM ledger_commands WHERE command_id IN ({','.join('?' for _ in chunk)})",
                list(chunk),
            )
            found.update((command_id, _earlier(command_id, tuple(rest))) for command_id, *rest in rows)
        return found

    def read_commands(self, after: int = 0) -> Iterator[RecordedCommand]:
        last = after
        while True:
            rows = self._connection().execute(
                f"SELECT {COMMAND_COLUMNS} FROM ledger_commands WHERE seq > ? ORDER BY seq LIMIT ?", (last, READ_CHUNK)
            ).fetchall()
            yield from map(_command, rows)
            if len(rows) < READ_CHUNK:
                return
            last = rows[-1][0]

    def originator_ids(self, topic_prefix: str) -> list[UUID]:
        # a range on the creations index: every topic that starts with the prefix sorts in [prefix, upper)
        upper = topic_prefix[:-1] + chr(ord(topic_prefix[-1]) + 1) if topic_prefix else chr(0x10FFFF)
        rows = self._connection().execute(
            "SELECT originator_id FROM ledger_events"
            " WHERE originator_version = 1 AND topic >= ? AND topic < ? ORDER BY position",
            (topic_prefix, upper),
        )
        return [UUID(originator_id) for (originator_id,) in rows]

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteEventStore({self.database_url!r})"
