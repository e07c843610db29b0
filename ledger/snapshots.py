"""Persistent snapshots of aggregates: a fresh process folds the tail of a long history, not all of it.

The aggregate cache (:mod:`ledger.aggregate_cache`) keeps a warm process from refolding; a process
that starts cold (a CLI command, a restarted API worker, another writer process) would still read
and fold a provider's whole history on its first command — 10,000 events, hundreds of
milliseconds. So every ``every`` events (setting ``LEDGER_SNAPSHOT_EVERY``, 0: off) the ledger
keeps the aggregate's state as of a version in ``aggregate_snapshots``, and a load reads that
snapshot and only the events after it. A command that had to fold :data:`REREAD_TAIL` events or
more when it read an aggregate from the store keeps one too, once it has recorded.

A snapshot is a cache, never a record:

- it lives beside the read models, outside the hash chain, in a table the application may
  overwrite (a newer snapshot replaces an older one); ``ledger verify``, ``replay`` and every read
  model ignore it;
- it is never trusted over the log. It names the version it was taken at and the *hash of the
  log's event at that version*, and carries a digest of its own state. A load reads the log from
  that version on: if the event there is not the one the snapshot names (another ledger's
  snapshot, a log restored from elsewhere), if the state does not match its digest or does not
  decode to an aggregate of that id and version, the snapshot is ignored and the whole history is
  folded, as without snapshots;
- the events after it are always folded, and the append's version check still guards every
  command, so a snapshot older than the log only costs a longer tail.

What the checks do not stop: someone who can write this table could plant a state that decodes
and matches its own digest; it would steer decisions (as a forged read model would steer readers),
not change the log, and ``ledger verify`` / ``replay`` (which never read snapshots) would not be
misled. Keep write access to the database with the ledger's role.

The state is the eventsourcing library's snapshot of the aggregate (its ``__dict__`` through the
ledger's JSON transcoder, :func:`ledger.wire.encode_snapshot`). A change to an aggregate's
attributes makes old snapshots undecodable or wrong for the new code: bump
:data:`SNAPSHOT_FORMAT` so they are ignored (and replaced as histories grow).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ledger.projections.db import POSTGRES, ReadModelDB
from ledger.projections.schema import lock_schema

log = logging.getLogger("ledger.snapshots")

#: events between two snapshots of an aggregate, by default
DEFAULT_EVERY = 500
#: a command that had to read an aggregate from the store folding this many events or more after
#: its snapshot keeps a new one once it has recorded: the next cold process, or this one after a
#: conflict with another writer process (which drops its copy), reads a short tail. Two workers
#: changing one provider re-read it on each conflict, its whole tail since the last of the
#: snapshots taken every ``every`` events (BENCHMARKS.md, commands over HTTP)
REREAD_TAIL = 64

#: the shape of what is kept; snapshots of another format are ignored
#: (2: the Provider keeps only its late profile reports, not every profile change;
#: 3: the Project keeps the days its filing was approved and it passed, and fees_not_payable;
#: 4: and the day of its latest failed acceptance)
SNAPSHOT_FORMAT = 4

TABLE = "aggregate_snapshots"

SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    originator_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    event_hash TEXT NOT NULL,
    format INTEGER NOT NULL,
    state TEXT NOT NULL,
    state_digest TEXT NOT NULL,
    taken_at TEXT NOT NULL
)"""


def digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    originator_id: UUID
    #: the aggregate's version it was taken at
    version: int
    #: the hash of the log's event at that version: what ties the snapshot to this log
    event_hash: str
    format: int
    state: str
    state_digest: str


class SnapshotStore:
    """The ``aggregate_snapshots`` table: read on a cold load, written every ``every`` events."""

    def __init__(self, database_url: str, every: int = DEFAULT_EVERY) -> None:
        if every < 0:
            raise ValueError("snapshot interval must not be negative (0: no snapshots)")
        self.database_url = database_url
        self.every = every
        self._db: ReadModelDB | None = None
        self._lock = threading.Lock()
        #: id -> version of the snapshots known to this process (loaded once; None: not yet)
        self._known: dict[UUID, int] | None = None
        self._table = False
        #: snapshots written, and found unusable and ignored, by this process
        self.taken = 0
        self.ignored = 0
        #: False once a write failed (e.g. a role that may not create the table): no more attempts
        self.writable = True

    @property
    def db(self) -> ReadModelDB:
        with self._lock:
            if self._db is None:
                self._db = ReadModelDB(self.database_url)
            return self._db

    def _exists(self) -> bool:
        with self.db.transaction(write=False) as tx:
            if tx.dialect == POSTGRES:
                row = tx.fetchone("SELECT to_regclass(?) IS NOT NULL", (TABLE,))
            else:
                row = tx.fetchone("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,))
        return bool(row and row[0])

    def known(self) -> dict[UUID, int]:
        """The snapshots this process knows of: looked up once (reading creates nothing), then kept
        up to date with its own writes. A snapshot another process writes later is found when this
        one next writes a snapshot of that aggregate, or never: that only costs a longer fold."""
        if self._known is None:
            known: dict[UUID, int] = {}
            if self._exists():
                with self.db.transaction(write=False) as tx:
                    rows = tx.fetchall(f"SELECT originator_id, version FROM {TABLE} WHERE format = ?", (SNAPSHOT_FORMAT,))
                known = {UUID(originator_id): version for originator_id, version in rows}
                self._table = True
            with self._lock:
                if self._known is None:
                    self._known = known
        return self._known

    def read(self, originator_id: UUID) -> Snapshot | None:
        """The aggregate's snapshot, if this process knows of one (no query otherwise)."""
        if originator_id not in self.known():
            return None
        with self.db.transaction(write=False) as tx:
            row = tx.fetchone(
                f"SELECT version, event_hash, format, state, state_digest FROM {TABLE} WHERE originator_id = ?",
                (str(originator_id),),
            )
        if row is None:
            return None
        version, event_hash, fmt, state, state_digest = row
        return Snapshot(originator_id, version, event_hash, fmt, state, state_digest)

    def due(self, originator_id: UUID, version: int, folded: int = 0) -> bool:
        """Whether an aggregate at ``version`` is ``every`` events or more past its last snapshot, or
        was read from the store folding ``folded`` >= :data:`REREAD_TAIL` events."""
        if self.every <= 0 or not self.writable:
            return False
        return folded >= REREAD_TAIL or version - self.known().get(originator_id, 0) >= self.every

    def write(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` unless a newer one is there (writers in other processes may race)."""
        with self.db.transaction() as tx:
            if not self._table:
                lock_schema(tx)
                tx.execute(SCHEMA)
                self._table = True
            tx.execute(
                f"INSERT INTO {TABLE} (originator_id, version, event_hash, format, state, state_digest, taken_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (originator_id) DO UPDATE SET version = excluded.version, event_hash = excluded.event_hash,"
                " format = excluded.format, state = excluded.state, state_digest = excluded.state_digest,"
                f" taken_at = excluded.taken_at WHERE {TABLE}.version < excluded.version OR {TABLE}.format <> excluded.format",
                (
                    str(snapshot.originator_id), snapshot.version, snapshot.event_hash, snapshot.format,
                    snapshot.state, snapshot.state_digest, datetime.now(UTC).isoformat(),
                ),
            )  # fmt: skip
        known = self.known()
        with self._lock:
            known[snapshot.originator_id] = max(known.get(snapshot.originator_id, 0), snapshot.version)
        self.taken += 1

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def usable(snapshot: Snapshot, first_event: Any) -> bool:
    """Whether ``snapshot`` may stand in for the history up to its version: ``first_event`` is the
    log's event at that version (or None if the log has none there)."""
    return (
        snapshot.format == SNAPSHOT_FORMAT
        and first_event is not None
        and first_event.originator_version == snapshot.version
        and first_event.hash == snapshot.event_hash
        and digest(snapshot.state) == snapshot.state_digest
    )
