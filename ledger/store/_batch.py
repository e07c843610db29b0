"""Backend-independent parts of appending: validating a batch, checking versions, chaining.

Both stores run the same steps inside their write transaction, after taking the
write lock and reading the head of the log:

1. :func:`prepare` (may run before the transaction) validates and normalises a batch;
2. the store reads the current version of every aggregate in ``prepared.expected``;
3. :func:`find_conflict` compares them;
4. :func:`chain` assigns positions and hashes from the head on, and
   :func:`chain_command` the command row's place in the command chain.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from uuid import UUID

from ledger.store.base import (
    CommandBatch,
    ConcurrencyConflict,
    NewEvent,
    RecordedCommand,
    RecordedEvent,
    chain_hash,
    command_hash,
)


@dataclass(frozen=True)
class Head:
    """The last event of the log: where the next one chains on."""

    position: int
    hash: str


@dataclass(frozen=True)
class PreparedBatch:
    batch: CommandBatch
    events: tuple[NewEvent, ...]  # recorded_at normalised to UTC
    #: every aggregate the batch reads or writes -> the version it must be at now
    expected: dict[UUID, int]


def to_utc(when: datetime) -> datetime:
    """Normalise an aware datetime to ``tzinfo=timezone.utc``; naive datetimes are refused."""
    if not isinstance(when, datetime):
        raise TypeError(f"recorded_at must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"recorded_at must be timezone-aware, got naive {when.isoformat()}")
    return when.astimezone(timezone.utc)


def prepare(batch: CommandBatch) -> PreparedBatch:
    """Validate a batch and normalise its events.

    An aggregate that the batch writes but does not list in ``expected_versions``
    is expected to be at the version just before its first event in the batch.
    Raises ``ValueError``/``TypeError`` for a malformed batch (a bug in the caller,
    not a conflict).
    """
    expected: dict[UUID, int] = {
        key if type(key) is UUID else UUID(str(key)): int(value) for key, value in batch.expected_versions.items()
    }
    last_version: dict[UUID, int] = {}
    events: list[NewEvent] = []
    for event in batch.events:
        originator_id = event.originator_id if isinstance(event.originator_id, UUID) else UUID(str(event.originator_id))
        effective_on = event.effective_on
        if isinstance(effective_on, datetime) or not (effective_on is None or isinstance(effective_on, date)):
            raise TypeError(f"effective_on must be a date or None, got {effective_on!r}")
        if originator_id in last_version:
            wanted = last_version[originator_id] + 1
        else:
            wanted = expected.setdefault(originator_id, event.originator_version - 1) + 1
        if event.originator_version != wanted or event.originator_version < 1:
            raise ValueError(
                f"command {batch.command_id}: event of {originator_id} has version "
                f"{event.originator_version}, expected {wanted} (versions must follow on without gaps)"
            )
        last_version[originator_id] = event.originator_version
        events.append(
            NewEvent(
                originator_id=originator_id,
                originator_version=event.originator_version,
                topic=event.topic,
                state=event.state,
                recorded_at=to_utc(event.recorded_at),
                effective_on=effective_on,
            )
        )
    return PreparedBatch(batch=batch, events=tuple(events), expected=expected)


def prepared(batch: CommandBatch | PreparedBatch) -> PreparedBatch:
    """``batch`` prepared: as it is if it already was (:meth:`~ledger.store.EventStore.prepare`)."""
    return batch if isinstance(batch, PreparedBatch) else prepare(batch)


def find_conflict(expected: Mapping[UUID, int], current: Mapping[UUID, int]) -> ConcurrencyConflict | None:
    """The first aggregate whose current version (0 if absent) is not the expected one."""
    for originator_id, version in expected.items():
        actual = current.get(originator_id, 0)
        if actual != version:
            return ConcurrencyConflict(originator_id, version, actual)
    return None


def chain(prepared: PreparedBatch, head: Head) -> list[RecordedEvent]:
    """The batch's events as they will be recorded after ``head``."""
    recorded: list[RecordedEvent] = []
    prev_hash, position = head.hash, head.position
    batch = prepared.batch
    for event in prepared.events:
        position += 1
        digest = chain_hash(
            prev_hash,
            position,
            event.originator_id,
            event.originator_version,
            event.topic,
            event.state,
            event.recorded_at,
            event.effective_on,
            batch.recorded_by,
            batch.command_id,
        )
        recorded.append(
            RecordedEvent(
                position=position,
                originator_id=event.originator_id,
                originator_version=event.originator_version,
                topic=event.topic,
                state=event.state,
                recorded_at=event.recorded_at,
                effective_on=event.effective_on,
                recorded_by=batch.recorded_by,
                command_id=batch.command_id,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    return recorded


def chain_command(batch: CommandBatch, recorded: list[RecordedEvent], head: Head) -> RecordedCommand:
    """The batch's command row as it will be recorded after ``head`` of the command chain."""
    seq = head.position + 1
    recorded_at = command_recorded_at(recorded)
    first, last = (recorded[0].position, recorded[-1].position) if recorded else (None, None)
    digest = batch.payload_digest
    return RecordedCommand(
        seq=seq,
        command_id=batch.command_id,
        command_type=batch.command_type,
        recorded_by=batch.recorded_by,
        recorded_at=recorded_at,
        payload=batch.payload,
        payload_digest=digest,
        first_position=first,
        last_position=last,
        prev_hash=head.hash,
        hash=command_hash(
            head.hash, seq, batch.command_id, batch.command_type, batch.recorded_by, recorded_at, digest, first, last
        ),
    )


def command_recorded_at(recorded: Sequence[NewEvent | RecordedEvent]) -> datetime:
    """A command row is stamped with its first event's time, or now for a no-op command."""
    return recorded[0].recorded_at if recorded else datetime.now(timezone.utc)


def positions_of(first: int | None, last: int | None) -> tuple[int, ...]:
    return tuple(range(first, last + 1)) if first is not None and last is not None else ()


def parse_refs(refs: Iterable[str]) -> dict[str, tuple[UUID, int]]:
    """``originator_id/version`` strings -> (id, version); malformed refs are left out."""
    parsed: dict[str, tuple[UUID, int]] = {}
    for ref in refs:
        head, sep, tail = str(ref).rpartition("/")
        if not sep:
            continue
        try:
            parsed[ref] = (UUID(head), int(tail))
        except ValueError:
            continue
    return parsed


def paged(
    fetch: Callable[[int, int], Sequence[tuple]], to_event: Callable[[tuple], RecordedEvent], after: int, limit: int | None, chunk: int
) -> Iterator[RecordedEvent]:
    """``read_all`` for both stores: rows after a position, ``chunk`` at a time, up to ``limit``.

    ``fetch(last_position, size)`` returns up to ``size`` rows (position first) after ``last_position``.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    remaining = limit
    last = after
    while remaining is None or remaining > 0:
        size = chunk if remaining is None else min(chunk, remaining)
        rows = fetch(last, size)
        for row in rows:
            yield to_event(row)
        if len(rows) < size:
            return
        last = rows[-1][0]
        if remaining is not None:
            remaining -= len(rows)
