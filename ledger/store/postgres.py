"""The PostgreSQL event store (psycopg 3 with a connection pool).

Every write is one call of the server's ``ledger_append`` (:data:`APPEND_FUNCTION`),
a statement that is its own transaction. Position assignment is serialised by a
transaction-scoped advisory lock (``pg_advisory_xact_lock`` on a key derived from
the ``ledger_events`` table's oid, so each ledger schema has its own) that the
function takes first and that is held until the call commits or rolls back. It
reads the head of the log only once it holds the lock (the head query is a later
statement, with a later snapshot), and PostgreSQL releases the lock only after
the commit is visible, so transactions commit in position order and a reader
tailing with ``read_all(after=last)`` never sees a later position before an
earlier one. (A sequence would hand out positions that can commit out of order.)
The lock is held only while the server runs the call — never across a client's
round trips — blocks no reader, and needs no right on the table: the
application role only INSERTs and SELECTs and executes ``ledger_append``
(:mod:`ledger.store.migrate`). A writer that skipped the function could not
create a gap (the primary key on ``position`` refuses a second event at a
position), only fail — or write a wrong hash, which verification names.

Tables, the trigger function and the triggers are created in the first schema of
the connection's ``search_path`` (unqualified names), so a URL carrying
``options=-csearch_path=<schema>`` gets its own ledger in that schema. They are
created (or upgraded from an older version) when the ledger is opened by a role
that owns the schema (one role owning everything: tests, the demo); a role that
does not (the application role of a least-privilege set-up) is told, in one
line, to run ``ledger migrate`` with the owner's URL (:class:`SchemaNotReady`).

Triggers refuse UPDATE, DELETE and TRUNCATE on the log's tables. They stop the
application and careless hands, not the tables' owner or a superuser, who can
switch them off: that is what the hash chain and an auditor's digest reveal
(``ledger.audit``). In production the application connects as a role that does
not own the tables and may only INSERT and SELECT (:mod:`ledger.store.migrate`).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, NoReturn
from uuid import UUID

import orjson
import psycopg
from psycopg import generators, pq
from psycopg_pool import ConnectionPool

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
    RecordedCommand,
    RecordedEvent,
    chain_command_rows,
    command_hash_middle,
    event_hash_tail,
    share_range,
)

#: Key of the advisory lock that serialises concurrent creation of the schema.
SCHEMA_LOCK_KEY = 0x1ED6E5_0001

TABLES = """
CREATE TABLE IF NOT EXISTS ledger_events (
    position BIGINT PRIMARY KEY,
    originator_id UUID NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    state TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    effective_on DATE,
    recorded_by TEXT NOT NULL,
    command_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (originator_id, originator_version)
);
CREATE INDEX IF NOT EXISTS ledger_events_command_id ON ledger_events (command_id);
CREATE INDEX IF NOT EXISTS ledger_events_creations_prefix ON ledger_events (topic text_pattern_ops, position)
    WHERE originator_version = 1;
CREATE TABLE IF NOT EXISTS ledger_commands (
    command_id TEXT PRIMARY KEY,
    command_type TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    payload TEXT NOT NULL,
    first_position BIGINT,
    last_position BIGINT,
    payload_digest TEXT NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

#: ledger_meta keeps the identity (oid) of each protected table as the ledger found it when it created
#: (or upgraded) the log: a table dropped and recreated has another
RECORD_IDENTITIES = """
INSERT INTO ledger_meta (key, value)
SELECT name, to_regclass(name)::oid::text FROM (VALUES ('ledger_events'), ('ledger_commands'), ('ledger_meta')) AS t(name)
ON CONFLICT DO NOTHING;
"""

#: the version of the log's schema this code writes. 1: events and unchained command rows, no
#: ledger_meta (before issue 9); 2: chained command rows (payload_digest, seq, prev_hash, hash), ledger_meta;
#: 3: appends through the server's ``ledger_append`` (:data:`APPEND_FUNCTION`); 4: ``ledger_append``
#: also keeps a batch's personal records (:data:`APPEND_PERSONAL_KEEP`).
SCHEMA_VERSION = 4

#: the write lock: an advisory lock held to the end of the transaction, keyed by this ledger's event table
WRITE_LOCK = "pg_advisory_xact_lock((x'1ED6E5'::bigint << 32) | 'ledger_events'::regclass::oid::bigint)"

#: SQLSTATE ``ledger_append`` raises for a command id already recorded for a different command
COMMAND_ID_REUSED = "LD001"
#: SQLSTATE ``ledger_append`` raises, called ``atomic``, for a batch whose aggregate moved (its DETAIL:
#: ``[aggregate, expected, actual]``)
ATOMIC_CONFLICT = "LD002"

#: SQLSTATE ``ledger_append`` raises, called ``atomic``, for a batch that carries a new key for a person
#: who has one (its DETAIL: the person)
PERSON_HAS_KEY = "LD003"

#: ledger_append, per batch, after its versions are checked: which of its personal records to keep
#: (not an erased person's); a person with another key than the record's refuses the batch
APPEND_PERSONAL_CHECK = f"""
        keep := '[]'::jsonb;
        IF b ? 'personal' THEN
            FOR p IN SELECT value FROM jsonb_array_elements(b->'personal') LOOP
                CONTINUE WHEN EXISTS (SELECT 1 FROM personal_erasures r WHERE r.person_id = p->>'person');
                SELECT k.key_material INTO kept_key FROM personal_keys k WHERE k.person_id = p->>'person';
                IF FOUND AND kept_key <> p->>'key' THEN
                    IF atomic THEN
                        RAISE EXCEPTION 'person % already has a key in the personal-data vault', p->>'person'
                            USING ERRCODE = '{PERSON_HAS_KEY}', DETAIL = p->>'person';
                    END IF;
                    outcome := 3;
                    RETURN NEXT;
                    moved := true;
                    EXIT;
                END IF;
                keep := keep || jsonb_build_array(p);
            END LOOP;
            CONTINUE WHEN moved;
        END IF;"""

#: ledger_append, per batch, once its command row is written: its personal records kept
APPEND_PERSONAL_KEEP = """
        FOR p IN SELECT value FROM jsonb_array_elements(keep) LOOP
            INSERT INTO personal_keys (person_id, key_material, created_at) VALUES (p->>'person', p->>'key', p->>'at')
                ON CONFLICT (person_id) DO NOTHING;
            INSERT INTO personal_data (holder, person_id, nonce, ciphertext, sealed_at)
                VALUES (p->>'holder', p->>'person', p->>'nonce', p->>'ciphertext', p->>'at')
                ON CONFLICT (holder) DO UPDATE SET person_id = excluded.person_id, nonce = excluded.nonce,
                    ciphertext = excluded.ciphertext, sealed_at = excluded.sealed_at;
            INSERT INTO personal_macs (holder, mac) VALUES (p->>'holder', p->>'mac')
                ON CONFLICT (holder) DO UPDATE SET mac = excluded.mac;
        END LOOP;"""

#: Appending, on the server: one call takes the write lock, checks each batch in order against the log
#: as the batches before it left it (a command id recorded before: its earlier row; an aggregate that
#: moved: a conflict, nothing of that batch written), gives positions from the head on and chains
#: events and command rows, and inserts them. Called as one statement outside a transaction block,
#: it is its own transaction: the lock is held only while the server runs it, never across a client's
#: round trips. The hashes are :func:`~ledger.store.base.chain_hash` and
#: :func:`~ledger.store.base.command_hash`, byte for byte: the client sends each event's rendering
#: after its position (``tail``, :func:`~ledger.store.base.event_hash_tail`) and each command's middle
#: (:func:`~ledger.store.base.command_hash_middle`); the server adds only the numbers only it knows.
#: ``batches``: ``[{id, type, by, payload, digest, at, middle, expected: [[id, version]…], events:
#: [{aggregate, version, topic, state, at, on, tail}…]}…]``. One row per batch, in order: outcome 1
#: recorded, 0 recorded before (its earlier row), 2 a conflict (the aggregate, expected, actual).
#: ``atomic``: a conflict fails the whole call instead, and nothing is written.
#: A batch's ``personal``: ``[{person, holder, key, nonce, ciphertext, mac, at}…]``
#: (:class:`~ledger.store.PersonalRecord`), kept in the personal-data vault's tables with the batch
#: (:data:`APPEND_PERSONAL_CHECK`, :data:`APPEND_PERSONAL_KEEP`); outcome 3: a person of the batch has
#: another key by now (nothing of that batch written; ``atomic``: the call fails with :data:`PERSON_HAS_KEY`).
APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ledger_append(batches jsonb, atomic boolean) RETURNS TABLE (
    outcome integer, from_position bigint, to_position bigint, recorded_digest text, recorded_type text,
    recorded_when timestamptz, conflict_id uuid, conflict_expected integer, conflict_actual integer
) LANGUAGE plpgsql AS $$
DECLARE
    b jsonb;
    e jsonb;
    x jsonb;
    head_position bigint;
    head_hash text;
    command_seq bigint;
    command_chain text;
    earlier record;
    current_version integer;
    moved boolean;
    digest text;
    first_written bigint;
    last_written bigint;
    stamp timestamptz;
    p jsonb;
    kept_key text;
    keep jsonb;
BEGIN
    PERFORM {WRITE_LOCK};
    SELECT l.position, l.hash INTO head_position, head_hash FROM ledger_events l ORDER BY l.position DESC LIMIT 1;
    IF NOT FOUND THEN
        head_position := 0;
        head_hash := '{GENESIS_HASH}';
    END IF;
    SELECT c.seq, c.hash INTO command_seq, command_chain FROM ledger_commands c ORDER BY c.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        command_seq := 0;
        command_chain := '{GENESIS_HASH}';
    END IF;
    FOR b IN SELECT value FROM jsonb_array_elements(batches) LOOP
        outcome := NULL; from_position := NULL; to_position := NULL; recorded_digest := NULL; recorded_type := NULL;
        recorded_when := NULL; conflict_id := NULL; conflict_expected := NULL; conflict_actual := NULL;
        SELECT c.first_position, c.last_position, c.payload_digest, c.command_type, c.recorded_at INTO earlier
          FROM ledger_commands c WHERE c.command_id = b->>'id';
        IF FOUND THEN
            IF earlier.payload_digest <> b->>'digest' THEN
                RAISE EXCEPTION 'command id % was already used for a different command', b->>'id'
                    USING ERRCODE = '{COMMAND_ID_REUSED}';
            END IF;
            outcome := 0; from_position := earlier.first_position; to_position := earlier.last_position;
            recorded_digest := earlier.payload_digest; recorded_type := earlier.command_type; recorded_when := earlier.recorded_at;
            RETURN NEXT;
            CONTINUE;
        END IF;
        moved := false;
        FOR x IN SELECT value FROM jsonb_array_elements(b->'expected') LOOP
            SELECT coalesce(max(l.originator_version), 0) INTO current_version
              FROM ledger_events l WHERE l.originator_id = (x->>0)::uuid;
            IF current_version <> (x->>1)::integer THEN
                IF atomic THEN
                    RAISE EXCEPTION 'aggregate % is at version %, the command expected %', x->>0, current_version, x->>1
                        USING ERRCODE = '{ATOMIC_CONFLICT}', DETAIL = jsonb_build_array(x->0, x->1, current_version)::text;
                END IF;
                outcome := 2; conflict_id := (x->>0)::uuid; conflict_expected := (x->>1)::integer; conflict_actual := current_version;
                RETURN NEXT;
                moved := true;
                EXIT;
            END IF;
        END LOOP;
        CONTINUE WHEN moved;{APPEND_PERSONAL_CHECK}
        first_written := NULL;
        last_written := NULL;
        FOR e IN SELECT value FROM jsonb_array_elements(b->'events') LOOP
            head_position := head_position + 1;
            digest := encode(sha256(convert_to(head_hash || '[' || head_position || ',' || (e->>'tail'), 'UTF8')), 'hex');
            INSERT INTO ledger_events (position, originator_id, originator_version, topic, state, recorded_at,
                                       effective_on, recorded_by, command_id, prev_hash, hash)
            VALUES (head_position, (e->>'aggregate')::uuid, (e->>'version')::integer, e->>'topic', e->>'state',
                    (e->>'at')::timestamptz, (e->>'on')::date, b->>'by', b->>'id', head_hash, digest);
            head_hash := digest;
            first_written := coalesce(first_written, head_position);
            last_written := head_position;
        END LOOP;
        command_seq := command_seq + 1;
        stamp := (b->>'at')::timestamptz;
        digest := encode(sha256(convert_to(command_chain || '[' || command_seq || ',' || (b->>'middle') || ','
                  || coalesce(first_written::text, 'null') || ',' || coalesce(last_written::text, 'null') || ']', 'UTF8')), 'hex');
        INSERT INTO ledger_commands (seq, command_id, command_type, recorded_by, recorded_at, payload, payload_digest,
                                     first_position, last_position, prev_hash, hash)
        VALUES (command_seq, b->>'id', b->>'type', b->>'by', stamp, b->>'payload', b->>'digest',
                first_written, last_written, command_chain, digest);
        command_chain := digest;{APPEND_PERSONAL_KEEP}
        outcome := 1; from_position := first_written; to_position := last_written;
        recorded_digest := b->>'digest'; recorded_type := b->>'type'; recorded_when := stamp;
        RETURN NEXT;
    END LOOP;
END
$$;
"""

#: the body of ledger_append() as created (compared, blanks aside, by protection_problems)
APPEND_BODY = APPEND_FUNCTION.split("AS $$", 1)[1].split("$$;", 1)[0]

#: append_many's one statement (outside a transaction block: its own transaction), prepared on each
#: pooled connection: the server no longer parses, analyses and plans it — and lexes the document —
#: on every call (one call in a loop, 3 December: server CPU 0.307 -> 0.250 and 0.407 -> 0.357 ms a
#: call, client 0.089 -> 0.071 and 0.116 -> 0.089 ms, against the same call inlined as a simple query).
#: It is sent through libpq itself (:func:`_call_append`), under the name :data:`APPEND_NAME`.
APPEND = b"SELECT * FROM ledger_append($1::jsonb, $2::boolean)"
APPEND_NAME = b"ledger_append_call"
#: SQLSTATE of a prepared statement the connection does not have: it is prepared then (on a new
#: connection; or after psycopg deallocated every statement of the connection, as it does after a rollback)
NO_SUCH_STATEMENT = b"26000"


def _call_append(conn: psycopg.Connection, document: bytes, atomic: bool) -> list[tuple[Any, ...]]:
    """One call of ``ledger_append``, the prepared :data:`APPEND`, through psycopg's libpq
    interface (``psycopg.pq``) rather than a cursor: the group's leader sends it while the other
    writers wait, and a cursor's execute — its adaptation, its generators, its result loaders —
    cost 71-85 us of the interpreter a call against 37-44 us for the same round trip here
    (BENCHMARKS.md). It is sent without blocking and waited for by psycopg (``Connection.wait``), as
    a cursor's is: the interpreter is free meanwhile, and Ctrl-C cancels the call on the server
    (libpq's own blocking call would let it wait for the server — a writer holding the log's
    lock — whatever the user presses). Outside a transaction block (a command, a group) it is the
    statement prepared on the connection; within one (an import's chunks) an unnamed one, parsed
    for each chunk. The document is UTF-8, as the pool's connections speak (:func:`_configure`).
    The rows as ``ledger_append`` returns them, typed; a refusal is the ``psycopg.errors``
    exception psycopg raises for it, a lost connection :class:`psycopg.OperationalError` (the
    connection is then broken: the pool drops it)."""
    pgconn = conn.pgconn
    params = [document, b"t" if atomic else b"f"]
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:  # within an import's transaction: not prepared
        result = _sent(conn, lambda: pgconn.send_query_params(APPEND, params))  # (a failure would abort it)
    else:
        result = _sent(conn, lambda: pgconn.send_query_prepared(APPEND_NAME, params))
        if result.error_field(pq.DiagnosticField.SQLSTATE) == NO_SUCH_STATEMENT:
            _check(conn, _sent(conn, lambda: pgconn.send_prepare(APPEND_NAME, APPEND)))
            result = _sent(conn, lambda: pgconn.send_query_prepared(APPEND_NAME, params))
    _check(conn, result)
    rows = []
    for row in range(result.ntuples):
        outcome, first, last, digest, command_type, recorded_at, moved, expected, actual = (
            result.get_value(row, column) for column in range(9)
        )
        rows.append((
            int(outcome or 0), _int(first), _int(last), _text(digest), _text(command_type),
            datetime.fromisoformat(recorded_at.decode()) if recorded_at else None,  # UTC, ISO (_configure)
            UUID(moved.decode()) if moved else None, _int(expected), _int(actual),
        ))  # fmt: skip
    return rows


def _sent(conn: psycopg.Connection, send: Callable[[], None]) -> pq.abc.PGresult:
    """The result of one statement ``send`` puts on the connection, waited for as psycopg waits."""
    send()
    return conn.wait(generators.execute(conn.pgconn))[-1]


def _check(conn: psycopg.Connection, result: pq.abc.PGresult) -> None:
    """Raise what psycopg would for a failed result (a connection lost while waiting: ``Connection.wait``
    raised already)."""
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _append_document(item: _batch.PreparedBatch) -> dict[str, Any]:
    """One batch as ``ledger_append`` takes it (:data:`APPEND_FUNCTION`)."""
    batch = item.batch
    command_id, recorded_by, digest = batch.command_id, batch.recorded_by, batch.payload_digest
    texts = (command_id, batch.command_type, recorded_by, batch.payload)
    if any("\x00" in text for text in texts) or any("\x00" in e.state or "\x00" in e.topic for e in item.events):
        # refused here, by name, rather than as a JSON escape the server cannot convert
        raise ValueError(f"command {command_id!r}: PostgreSQL text fields cannot contain NUL (0x00) bytes")
    events = []
    for e in item.events:
        tail = event_hash_tail(
            e.originator_id, e.originator_version, e.topic, e.state, e.recorded_at, e.effective_on, recorded_by, command_id
        )  # fmt: skip
        events.append({
            "aggregate": e.originator_id, "version": e.originator_version, "topic": e.topic, "state": e.state,
            "at": e.recorded_at, "on": e.effective_on, "tail": tail,
        })  # fmt: skip
    recorded_at = _batch.command_recorded_at(item.events)
    document = {
        "id": command_id, "type": batch.command_type, "by": recorded_by, "payload": batch.payload, "digest": digest,
        "at": recorded_at, "middle": command_hash_middle(command_id, batch.command_type, recorded_by, recorded_at, digest),
        "expected": list(item.expected.items()), "events": events,
    }  # fmt: skip
    if batch.personal:
        document["personal"] = [{
            "person": r.person_id, "holder": r.holder, "key": r.key_material, "nonce": r.nonce,
            "ciphertext": r.ciphertext, "mac": r.mac, "at": r.sealed_at,
        } for r in batch.personal]  # fmt: skip
    return document


@dataclasses.dataclass(frozen=True)
class EncodedBatch(_batch.PreparedBatch):
    """A batch prepared and rendered ahead of its group's call (:meth:`PostgresEventStore.prepare`)."""

    #: its element of the call's document (:func:`_append_document`, JSON)
    document: bytes


def _append_call(items: Sequence[_batch.PreparedBatch]) -> bytes:
    """The document of one call of ``ledger_append`` (each batch's element as rendered ahead, if it was)."""
    elements = [item.document if isinstance(item, EncodedBatch) else orjson.dumps(_append_document(item)) for item in items]
    return b"[%b]" % b",".join(elements)


#: batches per call of ``ledger_append``: more (an import of a whole file) are sent in calls of this
#: many within one transaction, so that no document of the whole file is built in memory (an import of
#: 100,484 commands: peak memory 1,401 -> 569 MiB, BENCHMARKS.md)
APPEND_CHUNK = 1000

#: what opening needs to know about the log in the connection's schema, before touching it
FOUND = """
SELECT current_user, current_schema(),
       (SELECT pg_has_role(current_user, n.nspowner, 'USAGE') FROM pg_namespace n WHERE n.nspname = current_schema()),
       ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = current_schema() AND c.relname IN ('ledger_events', 'ledger_commands', 'ledger_meta')),
       (SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relname = 'ledger_events'),
       EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relname = 'ledger_commands' AND a.attname = 'seq' AND NOT a.attisdropped),
       (SELECT has_table_privilege(c.oid, 'SELECT') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relname = 'ledger_events'),
       (SELECT bool_or(p.prosrc LIKE '%personal_keys%') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = current_schema() AND p.proname = 'ledger_append')
"""


class SchemaNotReady(Exception):
    """The log is missing, older than this version, or not readable, and the connected role may not
    fix that: the owner runs ``ledger migrate`` (:mod:`ledger.store.migrate`)."""

    def __init__(self, problem: str, role: str) -> None:
        super().__init__(
            f"{problem}, and role {role} does not own it: run `ledger migrate -d OWNER_URL --app-role {role}`"
            " with the URL of the role that owns the ledger's schema"
        )
        self.role = role


@dataclasses.dataclass(frozen=True)
class Found:
    """The log in the connection's schema as found before opening it."""

    role: str
    schema: str | None
    owns_schema: bool
    tables: frozenset[str]
    owns_log: bool
    chained: bool
    may_read: bool
    appends_on_server: bool
    keeps_personal: bool

    @property
    def version(self) -> int:
        """0: no log; 1: made before the command chain; 2: before ``ledger_append``; 3: before it
        kept personal records; 4: current (:data:`SCHEMA_VERSION`)."""
        if not self.tables:
            return 0
        if "ledger_commands" in self.tables and not self.chained:
            return 1
        if not self.appends_on_server:
            return 2
        if not self.keeps_personal:
            return 3
        return SCHEMA_VERSION

    @property
    def may_migrate(self) -> bool:
        """The role may create the log (it owns the schema) or upgrade it (it owns the log)."""
        return self.owns_log if self.tables else self.owns_schema


def found(conn: psycopg.Connection) -> Found:
    row = conn.execute(FOUND).fetchone()
    assert row is not None
    role, schema, owns_schema, tables, owns_log, chained, may_read, keeps_personal = row  # keeps_personal: None without ledger_append
    return Found(
        role, schema, bool(owns_schema), frozenset(tables), bool(owns_log), bool(chained), bool(may_read),
        keeps_personal is not None, bool(keeps_personal),
    )  # fmt: skip


def migrate_schema(conn: psycopg.Connection) -> str:
    """Create the log, or upgrade one made by an older version, in one transaction (serialised
    between processes); ``"created"``, ``"upgraded from version N"`` or ``"up to date"``.
    Needs the rights of the schema's (to create) or the log's (to upgrade) owner."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        version = found(conn).version
        if version == 0:
            conn.execute(TABLES)
            conn.execute(REFUSE_FUNCTION)
            conn.execute(RECORD_IDENTITIES)
            for _, definition in TRIGGERS.values():
                conn.execute(definition)
            conn.execute(APPEND_FUNCTION)
            return "created"
        if version == 1:
            _upgrade_from_1(conn)
        if version in (1, 2, 3):
            conn.execute(APPEND_FUNCTION)  # 2 -> 3, 3 -> 4: no table changes
            return f"upgraded from version {version}"
        return "up to date"


def _upgrade_from_1(conn: psycopg.Connection) -> None:
    """Version 1 -> 2: chain the command rows recorded so far (in the order they were recorded) and
    add ledger_meta with its triggers. No event is touched. The command rows' append-only trigger
    is off only inside this transaction (nobody sees it off), and only if it was on."""
    conn.execute(
        "ALTER TABLE ledger_commands ADD COLUMN payload_digest TEXT, ADD COLUMN seq BIGINT,"
        " ADD COLUMN prev_hash TEXT, ADD COLUMN hash TEXT"
    )
    rows = conn.execute(
        "SELECT command_id, command_type, recorded_by, recorded_at, payload, first_position, last_position"
        " FROM ledger_commands ORDER BY recorded_at, first_position NULLS LAST, command_id"
    ).fetchall()
    chained = chain_command_rows(rows, lambda recorded_at: recorded_at.astimezone(timezone.utc))
    enabled = [
        name
        for (name,) in conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'ledger_commands'::regclass AND NOT tgisinternal"
            " AND tgenabled IN ('O', 'A') AND tgtype & 16 = 16"  # row-level UPDATE triggers
        ).fetchall()
    ]
    for name in enabled:
        conn.execute(f'ALTER TABLE ledger_commands DISABLE TRIGGER "{name}"')
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE ledger_commands SET payload_digest = %s, seq = %s, prev_hash = %s, hash = %s WHERE command_id = %s",
            chained,
        )
    for name in enabled:
        conn.execute(f'ALTER TABLE ledger_commands ENABLE TRIGGER "{name}"')
    conn.execute(
        "ALTER TABLE ledger_commands ALTER COLUMN payload_digest SET NOT NULL, ALTER COLUMN seq SET NOT NULL,"
        " ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL, ADD UNIQUE (seq)"
    )
    conn.execute(TABLES)  # IF NOT EXISTS: only ledger_meta is new
    if conn.execute("SELECT to_regproc('ledger_refuse_change')").fetchone() == (None,):
        conn.execute(REFUSE_FUNCTION)  # an existing one is kept as found (protection_problems judges it)
    conn.execute(RECORD_IDENTITIES)
    for table, definition in TRIGGERS.values():
        if table == "ledger_meta":
            conn.execute(definition)


#: the body of ledger_refuse_change() as created (compared, blanks aside, by protection_problems)
REFUSE_CHANGE_BODY = REFUSE_FUNCTION.split("AS $$", 1)[1].split("$$;", 1)[0]

#: the protected tables, and the identity (oid) each had when the ledger was created
PROTECTED_TABLES = ("ledger_events", "ledger_commands", "ledger_meta")

PROTECTIONS = """
SELECT t.tgname, t.tgenabled, p.proname, p.prosrc
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
 WHERE t.tgrelid IN (to_regclass('ledger_events'), to_regclass('ledger_commands'), to_regclass('ledger_meta'))
   AND NOT t.tgisinternal
"""

#: the source of ledger_append() in the connection's schema
APPEND_SOURCE = """
SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema() AND p.proname = 'ledger_append'
"""

TABLE_IDENTITIES = """
SELECT t.name, to_regclass(t.name)::oid::text, m.value
  FROM unnest(%s::text[]) AS t(name) LEFT JOIN ledger_meta m ON m.key = t.name
"""

#: trigger name -> (table, definition)
TRIGGERS: dict[str, tuple[str, str]] = {}
for _table in PROTECTED_TABLES:
    TRIGGERS[f"{_table}_append_only"] = (
        _table,
        f"CREATE TRIGGER {_table}_append_only BEFORE UPDATE OR DELETE ON {_table}"
        " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
    )
    TRIGGERS[f"{_table}_no_truncate"] = (
        _table,
        f"CREATE TRIGGER {_table}_no_truncate BEFORE TRUNCATE ON {_table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    )

EVENT_COLUMNS = (
    "position, originator_id, originator_version, topic, state, recorded_at, effective_on,"
    " recorded_by, command_id, prev_hash, hash"
)

COMMAND_COLUMNS = (
    "seq, command_id, command_type, recorded_by, recorded_at, payload, payload_digest,"
    " first_position, last_position, prev_hash, hash"
)

#: what a retry is checked against
EARLIER_COMMAND = f"SELECT {EARLIER_COLUMNS} FROM ledger_commands WHERE command_id = %s"

READ_CHUNK = 1000
#: command ids per query of :meth:`PostgresEventStore.command_results`
IDS_CHUNK = 10_000
#: rows a scan receives per chunk of its stream
SCAN_CHUNK = 5000
#: a scan's session: instants written in UTC and dates as ISO (``effective_on::text``), no JIT (compiling
#: costs more than it saves on these expressions), no parallel workers, and an index scan in position
#: order rather than a sort: the planner estimates a share's filter at a few rows where it keeps half
#: the log, and would sort it (on disk, beyond ``work_mem``)
SCAN_SETTINGS = {"timezone": "UTC", "datestyle": "ISO", "jit": "off", "max_parallel_workers_per_gather": "0", "enable_sort": "off"}
#: a scan aggregate by aggregate: the share read once in the heap's order and sorted by the server,
#: in memory up to ``work_mem`` and beyond it on disk (the server's temporary files, about the share's
#: size), not by the ``(originator_id, originator_version)`` index: the log interleaves its aggregates,
#: so the index visits a heap page for nearly every event and, the log larger than ``shared_buffers``,
#: reads most of them from the kernel again (384,478 buffers read for 502,701 events of a share of the
#: 1,000,000-event log, against 47,693 by the sort: 1.7 s of the server's CPU against 1.0 s; BENCHMARKS.md)
BY_AGGREGATE_SETTINGS = {**SCAN_SETTINGS, "enable_sort": "on", "enable_indexscan": "off", "enable_bitmapscan": "off", "work_mem": "256MB"}
#: a scan's columns as text, written by the server (in :data:`SCAN_SETTINGS`' session) exactly as
#: ``str(UUID)``, ``datetime.isoformat()`` (microseconds only when there are some) and ``date.isoformat()``
#: write them
SCAN_AS_TEXT = {
    "originator_id": "originator_id::text",
    "recorded_at": (
        "CASE WHEN recorded_at = date_trunc('second', recorded_at)"
        " THEN to_char(recorded_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"
        " ELSE to_char(recorded_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END"
    ),
    "effective_on": "effective_on::text",
}


def _event(row: tuple[Any, ...]) -> RecordedEvent:
    (position, originator_id, version, topic, state, recorded_at, effective_on,
     recorded_by, command_id, prev_hash, digest) = row
    return RecordedEvent(
        position=position,
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=state,
        recorded_at=recorded_at.astimezone(timezone.utc),
        effective_on=effective_on,
        recorded_by=recorded_by,
        command_id=command_id,
        prev_hash=prev_hash,
        hash=digest,
    )


def _earlier(command_id: str, row: tuple[Any, ...]) -> AppendResult:
    first, last, digest, command_type, recorded_at = row
    return AppendResult(
        command_id, _batch.positions_of(first, last), duplicate=True, payload_digest=digest,
        command_type=command_type, recorded_at=recorded_at.astimezone(timezone.utc) if recorded_at else None,
    )  # fmt: skip


def _configure(conn: psycopg.Connection) -> None:
    # instants and dates as SCAN_AS_TEXT writes them; text as UTF-8 whatever the database's encoding
    # (GB18030, EUC_CN…: the server converts), as _call_append sends it and reads it back
    conn.execute("SET TIME ZONE 'UTC'; SET DateStyle TO ISO; SET client_encoding TO 'UTF8'")


class PostgresEventStore(EventStore):
    """Event store in PostgreSQL; safe for concurrent use from threads and processes."""

    def __init__(self, database_url: str, pool_size: int = 4, *, timeout: float = 30.0, create: bool = True) -> None:
        self.database_url = database_url
        # Connect once directly: a bad URL or a server that is down fails here with a clear error.
        with psycopg.connect(database_url, autocommit=True) as conn:
            self._open_schema(conn, create=create, shown_url=redact(database_url))
        self._pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},  # reads are single statements; writes use explicit transactions
            configure=_configure,
            timeout=timeout,
            open=False,
            name="ledger-event-store",
        )
        self._pool.open(wait=True, timeout=timeout)

    # -- schema ----------------------------------------------------------------------

    @staticmethod
    def _open_schema(conn: psycopg.Connection, *, create: bool = True, shown_url: str = "the URL") -> None:
        """Create or upgrade the log if the role may (it owns the schema or the log); else say to
        run ``ledger migrate``. An existing, current log is left as it is: a protection that was
        removed is reported by :meth:`protection_problems`, never silently put back. Without
        ``create`` (a read) nothing is created or upgraded: a schema without a current log is
        refused (:class:`~ledger.store.base.NoLedger`)."""
        state = found(conn)
        if state.schema is None:
            raise SchemaNotReady("no schema of the URL's search_path exists or may be used", state.role)
        missing = "ledger_events" not in state.tables
        if not create and state.may_migrate and (missing or state.version < SCHEMA_VERSION):
            raise NoLedger.missing(shown_url) if missing else NoLedger.older(shown_url, state.version, SCHEMA_VERSION)
        if state.version < SCHEMA_VERSION or (missing and not create):
            if not state.may_migrate:  # (a read by a role that may not migrate ends here too)
                problem = (
                    f"the ledger has no tables in schema {state.schema}"
                    if missing
                    else f"the ledger in schema {state.schema} was made by an older version"
                    f" (schema {state.version}; this version needs {SCHEMA_VERSION})"
                )
                raise SchemaNotReady(problem, state.role)
            migrate_schema(conn)
        elif "ledger_events" in state.tables and not state.may_read:
            raise SchemaNotReady(f"role {state.role} may not read the ledger in schema {state.schema}", state.role)

    def protection_problems(self) -> list[str]:
        """Missing, disabled or redefined triggers and trigger function; tables dropped and recreated."""
        problems = []
        with self._pool.connection() as conn:
            for name, current, recorded in conn.execute(TABLE_IDENTITIES, (list(PROTECTED_TABLES),)) if self._meta(conn) else []:
                if current is None:
                    problems.append(f"table {name} is missing: it was dropped")
                elif recorded is None:
                    problems.append(f"table {name} has no recorded identity in ledger_meta")
                elif current != recorded:
                    problems.append(f"table {name} was dropped and recreated (not the table the ledger created)")
            if not self._meta(conn):
                problems.append("table ledger_meta is missing: it was dropped")
            found = {name: (enabled, function, body) for name, enabled, function, body in conn.execute(PROTECTIONS)}
            appender = conn.execute(APPEND_SOURCE).fetchone()
        appender = appender[0] if appender else None
        for name in TRIGGERS:
            if name not in found:
                problems.append(f"protection removed: trigger {name} is missing")
                continue
            enabled, function, body = found[name]
            if enabled not in ("O", "A"):
                problems.append(f"protection disabled: trigger {name} is switched off")
            if function != "ledger_refuse_change" or " ".join(body.split()) != " ".join(REFUSE_CHANGE_BODY.split()):
                problems.append(f"protection redefined: trigger {name} no longer runs the ledger's refusal")
        if appender is None:
            problems.append("function ledger_append is missing: appends fail until the owner runs `ledger migrate`")
        elif " ".join(appender.split()) != " ".join(APPEND_BODY.split()):
            problems.append("function ledger_append redefined: it is not the ledger's append (its lock, checks or chaining)")
        return problems

    @staticmethod
    def _meta(conn: psycopg.Connection) -> bool:
        row = conn.execute("SELECT to_regclass('ledger_meta')").fetchone()
        return row is not None and row[0] is not None

    # -- writing ---------------------------------------------------------------------

    def append(self, batch: CommandBatch) -> AppendResult:
        """One batch is a group of one (a conflict is raised; nothing of the batch is written)."""
        [outcome] = self.append_many([batch], atomic=True)
        assert isinstance(outcome, AppendResult)
        return outcome

    def prepare(self, batch: CommandBatch) -> _batch.PreparedBatch:
        """The batch checked and rendered as ``ledger_append`` takes it (:class:`EncodedBatch`)."""
        item = _batch.prepare(batch)
        return EncodedBatch(item.batch, item.events, item.expected, orjson.dumps(_append_document(item)))

    def append_many(
        self, batches: Sequence[CommandBatch | _batch.PreparedBatch], atomic: bool = False
    ) -> list[AppendResult | ConcurrencyConflict]:
        """Group commit in one round trip: one call of the server's ``ledger_append``
        (:data:`APPEND_FUNCTION`), its own transaction (more than :data:`APPEND_CHUNK` batches, an
        import: one transaction of a call per chunk, each seeing what the ones before it wrote). The server takes the write
        lock, checks the batches in order (each against the log as the batches before it left it,
        exactly as if each were checked and written alone), chains and writes them, and commits; the
        lock is never held while this process decides, encodes or waits for its interpreter. A
        conflicting or duplicate batch writes nothing; the others are written. A command id
        recorded before for a different command fails the whole call (nothing is written) with
        :class:`~ledger.store.CommandIdReused`. The call is a prepared statement (:data:`APPEND`).
        A batch given as :meth:`prepare` returned it is not rendered again."""
        prepared = [_batch.prepared(batch) for batch in batches]
        if not prepared:
            return []
        try:
            with self._pool.connection() as conn:
                if len(prepared) <= APPEND_CHUNK:  # a command, a group: one call, its own transaction
                    rows = _call_append(conn, _append_call(prepared), atomic)
                else:  # an import: one transaction of calls that each carry a chunk (bounded memory)
                    rows = []
                    with conn.transaction():
                        for start in range(0, len(prepared), APPEND_CHUNK):
                            chunk = _append_call(prepared[start:start + APPEND_CHUNK])
                            rows += _call_append(conn, chunk, atomic)
        except psycopg.Error as error:
            if error.sqlstate == ATOMIC_CONFLICT:
                moved, expected, actual = orjson.loads(error.diag.message_detail or "null")
                raise ConcurrencyConflict(UUID(moved), expected, actual) from None
            if error.sqlstate == COMMAND_ID_REUSED:
                self._refuse_reused(prepared)
            if error.sqlstate == PERSON_HAS_KEY:
                raise PersonalKeyConflict([error.diag.message_detail or "a person"]) from None
            raise
        outcomes: list[AppendResult | ConcurrencyConflict] = []
        for item, (outcome, first, last, digest, command_type, recorded_at, moved, expected, actual) in zip(prepared, rows, strict=True):
            command_id = item.batch.command_id
            if outcome == 2:
                outcomes.append(ConcurrencyConflict(moved, expected, actual))
                continue
            if outcome == 3:
                outcomes.append(PersonalKeyConflict([r.person_id for r in item.batch.personal]))
                continue
            outcomes.append(AppendResult(
                command_id, _batch.positions_of(first, last), duplicate=outcome == 0, payload_digest=digest,
                command_type=command_type, recorded_at=recorded_at.astimezone(timezone.utc),
            ))  # fmt: skip
        return outcomes

    def _refuse_reused(self, prepared: Sequence[_batch.PreparedBatch]) -> NoReturn:
        """Raise the refusal ``ledger_append`` made: :class:`~ledger.store.CommandIdReused`, by
        :meth:`~ledger.store.AppendResult.check_retry`, for the first batch whose command id was
        recorded for another command, before this call or earlier in it."""
        earlier_in_call: dict[str, AppendResult] = {}
        for item in prepared:
            batch = item.batch
            earlier = self.command_result(batch.command_id) or earlier_in_call.get(batch.command_id)
            if earlier is not None:
                earlier.check_retry(batch.command_id, batch.payload_digest)
            earlier_in_call.setdefault(batch.command_id, AppendResult(batch.command_id, (), duplicate=True, payload_digest=batch.payload_digest))
        raise AssertionError("ledger_append refused a command id that no batch reuses")

    # -- reading ---------------------------------------------------------------------

    def _fetchall(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One read statement; sent again, once, on another connection if the server had closed the
        pooled one (a restart since it was last used: the pool drops a broken connection when it is
        given back). A read changes nothing, so sending it twice is safe; a server still down fails again."""
        with self._pool.connection() as conn:
            try:
                return conn.execute(query, params).fetchall()
            except psycopg.OperationalError:
                if not conn.broken:
                    raise
        with self._pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    def read_aggregate(self, originator_id: UUID, from_version: int = 1) -> list[RecordedEvent]:
        rows = self._fetchall(
            f"SELECT {EVENT_COLUMNS} FROM ledger_events WHERE originator_id = %s AND originator_version >= %s"
            " ORDER BY originator_version",
            (originator_id, from_version),
        )
        return [_event(row) for row in rows]

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        return _batch.paged(
            lambda last, size: self._fetchall(
                f"SELECT {EVENT_COLUMNS} FROM ledger_events WHERE position > %s ORDER BY position LIMIT %s", (last, size)
            ),
            _event,
            after,
            limit,
            READ_CHUNK,
        )

    def scan(self, upto: int, share: int = 0, shares: int = 1, *, by_aggregate: bool = False) -> Generator[tuple, None, None]:
        """One query streamed in chunks (libpq's chunked rows mode: no cursor to FETCH from, which the
        server would copy into a tuple store first) on a connection of its own; the server reads the
        share's range of ids (:func:`share_range`) and writes ids and instants as text
        (:data:`SCAN_AS_TEXT`). In position order by the log's key; ``by_aggregate`` in
        ``(originator_id, originator_version)`` order, sorted by the server (:data:`BY_AGGREGATE_SETTINGS`)."""
        where = "position <= %s"
        params: tuple[Any, ...] = (upto,)
        if shares > 1:
            start, end = share_range(share, shares)
            where += " AND ledger_events.originator_id >= %s" + (" AND ledger_events.originator_id < %s" if end is not None else "")
            params += (start,) if end is None else (start, end)
        order = "ledger_events.originator_id, ledger_events.originator_version" if by_aggregate else "position"
        settings = BY_AGGREGATE_SETTINGS if by_aggregate else SCAN_SETTINGS
        with psycopg.connect(self.database_url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join("set_config(%s, %s, false)" for _ in settings), [v for item in settings.items() for v in item])
            columns = ", ".join(SCAN_AS_TEXT.get(c, c) for c in SCAN_COLUMNS)
            yield from cursor.stream(f"SELECT {columns} FROM ledger_events WHERE {where} ORDER BY {order}", params, size=SCAN_CHUNK)

    def read_rows(self, after: int, limit: int) -> list[tuple]:
        columns = ", ".join(SCAN_AS_TEXT.get(c, c) for c in ROW_COLUMNS)  # the pool's sessions are in UTC, ISO dates
        return self._fetchall(f"SELECT {columns} FROM ledger_events WHERE position > %s ORDER BY position LIMIT %s", (after, limit))

    def read_refs(self, refs: Iterable[str]) -> dict[str, RecordedEvent]:
        wanted = _batch.parse_refs(refs)
        if not wanted:
            return {}
        keys = list(set(wanted.values()))
        rows = self._fetchall(
            f"SELECT {EVENT_COLUMNS} FROM ledger_events"
            " WHERE (originator_id, originator_version) IN (SELECT * FROM unnest(%s::uuid[], %s::int[]))",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        by_key = {(e.originator_id, e.originator_version): e for e in map(_event, rows)}
        return {ref: by_key[key] for ref, key in wanted.items() if key in by_key}

    def max_position(self) -> int:
        return self._fetchall("SELECT COALESCE(MAX(position), 0) FROM ledger_events")[0][0]

    def command_result(self, command_id: str) -> AppendResult | None:
        rows = self._fetchall(EARLIER_COMMAND, (command_id,))
        return _earlier(command_id, rows[0]) if rows else None

    def command_results(self, command_ids: Iterable[str]) -> dict[str, AppendResult]:
        ids = list(dict.fromkeys(command_ids))
        found: dict[str, AppendResult] = {}
        for start in range(0, len(ids), IDS_CHUNK):
            rows = self._fetchall(
                f"SELECT command_id, {EARLIER_COLUMNS}"
                " FROM ledger_commands WHERE command_id = ANY(%s::text[])",
                (ids[start:start + IDS_CHUNK],),
            )
            found.update((command_id, _earlier(command_id, tuple(rest))) for command_id, *rest in rows)
        return found

    def read_commands(self, after: int = 0) -> Iterator[RecordedCommand]:
        last = after
        while True:
            rows = self._fetchall(
                f"SELECT {COMMAND_COLUMNS} FROM ledger_commands WHERE seq > %s ORDER BY seq LIMIT %s", (last, READ_CHUNK)
            )
            for row in rows:
                seq, command_id, command_type, recorded_by, recorded_at, *rest = row
                yield RecordedCommand(seq, command_id, command_type, recorded_by, recorded_at.astimezone(timezone.utc), *rest)
            if len(rows) < READ_CHUNK:
                return
            last = rows[-1][0]

    def originator_ids(self, topic_prefix: str) -> list[UUID]:
        # LIKE 'prefix%' is an index range on ledger_events_creations_prefix (text_pattern_ops)
        pattern = re.sub(r"([\\%_])", r"\\\1", topic_prefix) + "%"
        rows = self._fetchall(
            "SELECT originator_id FROM ledger_events"
            " WHERE originator_version = 1 AND topic LIKE %s ORDER BY position",
            (pattern,),
        )
        return [originator_id for (originator_id,) in rows]

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresEventStore({redact(self.database_url)!r})"
