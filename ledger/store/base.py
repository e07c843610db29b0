"""What every event store of the ledger guarantees.

The log is one totally ordered sequence of events. ``position`` is assigned
under the store's write lock, starting at 1 and without gaps, and a position
becomes visible only after every smaller one is visible: a relay can tail the
log with ``read_all(after=last_seen)`` and never miss an event.

Every event carries ``prev_hash`` (the hash of the event before it in the log)
and ``hash`` = :func:`chain_hash` of its own content and ``prev_hash``, so any
change to a stored event breaks the chain from that event on.

Every command row is chained too, in a second chain of its own (``seq`` from 1,
``prev_hash``, ``hash`` = :func:`command_hash`), over a SHA-256 digest of the
command's canonical JSON (``payload_digest``): a forged payload breaks it. The
digest also tells a retry (the same command again: recorded once) from a reused
command id with another payload (refused with :class:`CommandIdReused`).

A *command batch* holds the events one command produced, across aggregates,
with the version each aggregate had when the command loaded it. A batch is
recorded whole or not at all. ``append_many`` records several batches in one
database transaction (group commit), each still all-or-nothing (SQLite: a
savepoint per batch; PostgreSQL: every batch is checked, against the log as the
batches before it left it, before anything is written), so one conflicting batch
does not sink the others.
"""
from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from ledger.store._batch import PreparedBatch

GENESIS_HASH = "0" * 64

#: the canonical rendering hashed by :func:`chain_hash` and :func:`command_hash` (what
#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` writes, without building an
#: encoder per call)
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class ConcurrencyConflict(Exception):
    """Another command changed one of the aggregates since it was loaded."""

    def __init__(self, originator_id: UUID, expected: int, actual: int) -> None:
        super().__init__(
            f"aggregate {originator_id} is at version {actual}, the command expected {expected}"
        )
        self.originator_id = originator_id
        self.expected = expected
        self.actual = actual


class PersonalKeyConflict(ConcurrencyConflict):
    """A batch carried a new key for a person who has one in the personal-data vault by now: it
    presumed them new (:meth:`ledger.personal.PersonalDataVault.records`). Nothing of the batch is
    written; it is sealed again under the person's key and appended again. It names people, not an
    aggregate: ``originator_id`` and the versions are not set."""

    def __init__(self, person_ids: Sequence[str]) -> None:
        Exception.__init__(self, f"{', '.join(person_ids)} already had a key in the personal-data vault")
        self.person_ids = tuple(person_ids)


class ReadOnlyLedger(Exception):
    """A command sent to a ledger this process may only read (``EventStore.read_only``: a SQLite file
    on a read-only mount, an immutable file, or one whose folder and WAL files may not be written).
    Nothing was decided or written."""


class NoLedger(Exception):
    """Opened only to read (``open_store(url, create=False)``): the database holds no ledger, or one
    that this version must upgrade first (``ledger migrate``). Nothing was created or changed."""

    @classmethod
    def missing(cls, shown_url: str) -> NoLedger:
        return cls(
            f"no ledger at {shown_url}: it has no ledger tables"
            " (create one with ledger demo, ledger import or ledger migrate)"
        )

    @classmethod
    def older(cls, shown_url: str, version: int, needed: int) -> NoLedger:
        return cls(
            f"the ledger at {shown_url} was made by an older version (schema {version}; this version needs"
            f" {needed}): upgrade it with ledger migrate -d URL first (only demo, import and migrate change a ledger's tables)"
        )


class CommandIdReused(Exception):
    """A command id already recorded for a different command: a retry must repeat the command exactly."""

    def __init__(self, command_id: str, earlier: AppendResult) -> None:
        when = f" recorded at {earlier.recorded_at.isoformat()}" if earlier.recorded_at else ""
        super().__init__(
            f"command id {command_id!r} was already used for a different command "
            f"({earlier.command_type or 'unknown type'}{when}); a retry must repeat the command exactly"
        )
        self.command_id = command_id
        self.earlier = earlier


@dataclass(frozen=True)
class NewEvent:
    originator_id: UUID
    originator_version: int
    topic: str
    state: str  # canonical JSON text of the event's attributes
    recorded_at: datetime
    effective_on: date | None


@dataclass(frozen=True)
class PersonalRecord:
    """One holder's personal values, encrypted by :mod:`ledger.personal` (AES-256-GCM under the
    person's key): the rows of ``personal_keys``, ``personal_data`` and ``personal_macs`` a store
    writes when it records the batch that carries it. A store writes nothing of it for a person who
    was erased (erased people stay erased), and refuses the batch with
    :class:`PersonalKeyConflict` if the person has a key other than ``key_material``."""

    person_id: str
    holder: str
    key_material: str  # hex: the person's key (a new one, unless the vault was asked for theirs)
    nonce: str  # hex
    ciphertext: str  # hex
    mac: str  # HMAC-SHA256 of the values (what a retry is compared with)
    sealed_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class CommandBatch:
    command_id: str
    command_type: str
    recorded_by: str
    payload: str  # the command as canonical JSON, kept for audit
    events: Sequence[NewEvent]
    #: aggregate id -> version it had when loaded (0 for an aggregate the command creates)
    expected_versions: dict[UUID, int] = field(default_factory=dict)
    #: personal values the command carried, encrypted, kept beside the log (outside the chain) in
    #: the transaction that records the batch, and only if it records it
    personal: Sequence[PersonalRecord] = ()

    @property
    def payload_digest(self) -> str:
        return payload_digest(self.payload)


@dataclass(frozen=True)
class AppendResult:
    command_id: str
    positions: tuple[int, ...]  # positions of the batch's events, empty for a no-op command
    duplicate: bool = False  # True when the command id had already been recorded
    #: of the command as recorded (for a duplicate: the earlier one), its type and when it was recorded
    payload_digest: str | None = field(default=None, compare=False)
    command_type: str | None = field(default=None, compare=False)
    recorded_at: datetime | None = field(default=None, compare=False)

    def check_retry(self, command_id: str, digest: str) -> AppendResult:
        """This earlier result, if ``digest`` is the recorded command's; else :class:`CommandIdReused`."""
        if self.payload_digest is not None and self.payload_digest != digest:
            raise CommandIdReused(command_id, self)
        return self


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: str
    recorded_at: datetime
    effective_on: date | None
    recorded_by: str
    command_id: str
    prev_hash: str
    hash: str

    @property
    def ref(self) -> str:
        """The stable reference by which evidence and citations name this event."""
        return event_ref(self.originator_id, self.originator_version)


@dataclass(frozen=True)
class RecordedCommand:
    """A row of the command chain."""

    seq: int
    command_id: str
    command_type: str
    recorded_by: str
    recorded_at: datetime
    payload: str
    payload_digest: str
    first_position: int | None
    last_position: int | None
    prev_hash: str
    hash: str


def payload_digest(payload: str) -> str:
    """SHA-256 of a command's canonical JSON."""
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def command_hash(
    prev_hash: str,
    seq: int,
    command_id: str,
    command_type: str,
    recorded_by: str,
    recorded_at: datetime,
    payload_digest: str,
    first_position: int | None,
    last_position: int | None,
) -> str:
    """SHA-256 over the previous command's hash and a canonical rendering of the command row:
    ``[seq,command_id,command_type,recorded_by,recorded_at,payload_digest,first_position,last_position]``
    (:data:`_CANONICAL`), built around :func:`command_hash_middle` as PostgreSQL's ``ledger_append``
    builds it."""
    middle = command_hash_middle(command_id, command_type, recorded_by, recorded_at, payload_digest)
    content = f"[{seq},{middle},{_json_int(first_position)},{_json_int(last_position)}]"
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def command_hash_middle(command_id: str, command_type: str, recorded_by: str, recorded_at: datetime, payload_digest: str) -> str:
    """The part of a command row's canonical rendering that does not depend on its place in the chain."""
    return _CANONICAL.encode([command_id, command_type, recorded_by, recorded_at.isoformat(), payload_digest])[1:-1]


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def chain_command_rows(rows: Iterable[tuple[Any, ...]], utc: Callable[[Any], datetime]) -> list[tuple[str, int, str, str, str]]:
    """The command chain over command rows recorded before it existed (an upgrade), in the order given.

    ``rows``: ``(command_id, command_type, recorded_by, recorded_at, payload, first_position,
    last_position)``; ``utc`` turns the backend's ``recorded_at`` into an aware UTC time. Returns
    ``(payload_digest, seq, prev_hash, hash, command_id)`` per row, ready for the UPDATE."""
    chained, prev_hash = [], GENESIS_HASH
    for seq, (command_id, command_type, recorded_by, recorded_at, payload, first, last) in enumerate(rows, start=1):
        digest = payload_digest(payload)
        hash_ = command_hash(prev_hash, seq, command_id, command_type, recorded_by, utc(recorded_at), digest, first, last)
        chained.append((digest, seq, prev_hash, hash_, command_id))
        prev_hash = hash_
    return chained


#: the fields of :meth:`EventStore.scan`'s tuples, in order (a ``RecordedEvent``'s, without the hashes)
SCAN_COLUMNS = (
    "position", "originator_id", "originator_version", "topic", "state", "recorded_at", "effective_on", "recorded_by", "command_id",
)  # fmt: skip
#: the columns of :meth:`EventStore.read_rows`: a scan's, and the event's hash
ROW_COLUMNS = (*SCAN_COLUMNS, "hash")


def text_row(e: RecordedEvent) -> tuple:
    """An event as a tuple of :data:`ROW_COLUMNS`, ids and instants as text (as ``str(UUID)`` and
    ``isoformat()`` write them): what :meth:`EventStore.read_rows` gives."""
    on = e.effective_on.isoformat() if e.effective_on is not None else None
    return (e.position, str(e.originator_id), e.originator_version, e.topic, e.state, e.recorded_at.isoformat(), on, e.recorded_by, e.command_id, e.hash)


def share_of(originator_id: UUID | str, shares: int) -> int:
    """Which of ``shares`` disjoint sets of aggregates an aggregate is in: its id's place among all
    ids, in ``shares`` equal ranges (every store splits alike; PostgreSQL reads a range of its
    index, :func:`share_range`). Ids are hashes (UUID 5): the ranges hold about as many aggregates."""
    value = originator_id.int if isinstance(originator_id, UUID) else int(originator_id.replace("-", ""), 16)
    return value * shares >> 128


def share_range(share: int, shares: int) -> tuple[UUID, UUID | None]:
    """The ids of :func:`share_of`'s ``share``: from the first (inclusive) to the second (exclusive;
    None for the last share, which ends with the largest id)."""

    def start(k: int) -> UUID:
        return UUID(int=-(-(k << 128) // shares))  # the smallest id with id * shares >= k * 2**128

    return start(share), start(share + 1) if share + 1 < shares else None


#: what a recorded command's row tells a retry (``_earlier`` in each store reads them in this order)
EARLIER_COLUMNS = "first_position, last_position, payload_digest, command_type, recorded_at"


def event_ref(originator_id: UUID | str, originator_version: int) -> str:
    return f"{originator_id}/{originator_version}"


def chain_hash(
    prev_hash: str,
    position: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: str,
    recorded_at: datetime,
    effective_on: date | None,
    recorded_by: str,
    command_id: str,
) -> str:
    """SHA-256 over the previous hash and a canonical rendering of the event:
    ``[position,originator_id,originator_version,topic,state,recorded_at,effective_on,recorded_by,command_id]``
    (:data:`_CANONICAL`), the position followed by :func:`event_hash_tail`, as PostgreSQL's
    ``ledger_append`` builds it."""
    tail = event_hash_tail(originator_id, originator_version, topic, state, recorded_at, effective_on, recorded_by, command_id)
    return hashlib.sha256(f"{prev_hash}[{int(position)},{tail}".encode()).hexdigest()


def event_hash_tail(
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: str,
    recorded_at: datetime,
    effective_on: date | None,
    recorded_by: str,
    command_id: str,
) -> str:
    """The part of an event's canonical rendering after its position (which only the log's head decides)."""
    return _CANONICAL.encode(
        [
            str(originator_id),
            originator_version,
            topic,
            state,
            recorded_at.isoformat(),
            effective_on.isoformat() if effective_on else None,
            recorded_by,
            command_id,
        ]
    )[1:]


class EventStore(ABC):
    """The ledger's log. Implementations: SQLite (embedded) and PostgreSQL."""

    database_url: str
    #: opened to read a database this process may not write (SQLite: a read-only file or mount); its
    #: read models are read as they stand, never caught up (:func:`ledger.bootstrap.bootstrap`)
    read_only: bool = False

    @abstractmethod
    def append(self, batch: CommandBatch) -> AppendResult:
        """Record one command's events atomically.

        Raises :class:`ConcurrencyConflict` if any aggregate's current version
        differs from ``batch.expected_versions``. Returns ``duplicate=True`` (and
        writes nothing) if ``batch.command_id`` was recorded before with the same
        payload; raises :class:`CommandIdReused` if with another.
        """

    def prepare(self, batch: CommandBatch) -> PreparedBatch:
        """Validate ``batch`` and do the part of appending it that needs no transaction (PostgreSQL:
        render it as ``ledger_append`` takes it), ahead of :meth:`append_many`, which takes the
        result in place of the batch. Group commit calls it in the thread that submits the batch,
        so the group's leader, whose work the other threads wait for, does less. Raises
        ``ValueError``/``TypeError`` for a malformed batch."""
        from ledger.store import _batch  # _batch builds on this module

        return _batch.prepare(batch)

    @abstractmethod
    def append_many(
        self, batches: Sequence[CommandBatch | PreparedBatch], atomic: bool = False
    ) -> list[AppendResult | ConcurrencyConflict]:
        """Group commit: several batches in one transaction, each all-or-nothing (a batch may be
        given as :meth:`prepare` returned it).

        A conflicting batch writes nothing and its slot in the result holds the
        :class:`ConcurrencyConflict`; the others are recorded. A batch sees the
        batches before it in the call: it may conflict with them, and a command id
        recorded earlier in the call is a duplicate.
        With ``atomic=True`` the first conflict rolls back every batch and is
        raised instead: all are recorded or none. A reused command id with another
        payload (:class:`CommandIdReused`) is always raised, writing nothing.
        """

    @abstractmethod
    def read_aggregate(self, originator_id: UUID, from_version: int = 1) -> list[RecordedEvent]:
        """One aggregate's events in version order, from ``from_version`` on (after a snapshot)."""

    @abstractmethod
    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        """The log in position order, from ``after + 1``."""

    def scan(self, upto: int, share: int = 0, shares: int = 1, *, by_aggregate: bool = False) -> Generator[tuple, None, None]:
        """The events at positions 1 … ``upto`` of the aggregates in ``share`` (of ``shares``
        disjoint sets, :func:`share_of`), in position order, as tuples of :data:`SCAN_COLUMNS`,
        ids and instants as text: the originator id as ``str(UUID)`` writes it, ``recorded_at``
        and ``effective_on`` as ``isoformat()`` writes them (``recorded_at`` in UTC). With
        ``by_aggregate``, each aggregate's events together in version order, aggregates by id.

        One pass over the log for a bulk reader (a replay): no hashes, no ``RecordedEvent``
        objects, and ``shares`` readers together read each event once. This default goes
        through :meth:`read_all` (and sorts in memory ``by_aggregate``); the stores read their
        tables directly.
        """
        rows = self._scan_in_position_order(upto, share, shares)
        yield from sorted(rows, key=lambda row: (UUID(row[1]).int, row[2])) if by_aggregate else rows

    def _scan_in_position_order(self, upto: int, share: int, shares: int) -> Generator[tuple, None, None]:
        for e in self.read_all(limit=upto):
            if e.position > upto:
                return
            if shares == 1 or share_of(e.originator_id, shares) == share:
                yield text_row(e)[:-1]

    def read_rows(self, after: int, limit: int) -> list[tuple]:
        """The log in position order from ``after + 1``, at most ``limit`` events, as tuples of
        :data:`ROW_COLUMNS` (:func:`text_row`): for a reader that writes the events out again (the
        relay's messages), no ``RecordedEvent`` built and no id or instant parsed to be formatted
        back. This default goes through :meth:`read_all`; the stores read their tables directly."""
        return [text_row(e) for e in self.read_all(after=after, limit=limit)]

    @abstractmethod
    def read_refs(self, refs: Iterable[str]) -> dict[str, RecordedEvent]:
        """Events by their ``originator_id/version`` reference."""

    @abstractmethod
    def max_position(self) -> int: ...

    @abstractmethod
    def command_result(self, command_id: str) -> AppendResult | None:
        """What an already recorded command appended (with its payload digest), or None."""

    def command_results(self, command_ids: Iterable[str]) -> dict[str, AppendResult]:
        """:meth:`command_result` of many commands at once (an import checks each of its commands):
        the ids already recorded, each with what it appended. The stores read them in a few queries."""
        found: dict[str, AppendResult] = {}
        for command_id in dict.fromkeys(command_ids):
            result = self.command_result(command_id)
            if result is not None:
                found[command_id] = result
        return found

    @abstractmethod
    def read_commands(self, after: int = 0) -> Iterator[RecordedCommand]:
        """The command chain in ``seq`` order, from ``after + 1``."""

    @abstractmethod
    def originator_ids(self, topic_prefix: str) -> list[UUID]:
        """Ids of aggregates whose first event's topic starts with ``topic_prefix``."""

    def protection_problems(self) -> list[str]:
        """Append-only protections of the database that are missing, disabled or redefined
        (each one line); opening a store never puts one back silently."""
        return []

    @abstractmethod
    def close(self) -> None: ...
