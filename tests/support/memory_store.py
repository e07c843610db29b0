"""An in-memory event store for pure unit tests of the domain (never for integration)."""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from uuid import UUID

from ledger.store import _batch
from ledger.store.base import (
    GENESIS_HASH,
    AppendResult,
    CommandBatch,
    CommandIdReused,
    ConcurrencyConflict,
    EventStore,
    RecordedCommand,
    RecordedEvent,
)


class MemoryEventStore(EventStore):
    database_url = "memory:"

    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._commands: dict[str, AppendResult] = {}
        self._command_chain: list[RecordedCommand] = []
        self._lock = threading.Lock()
        # indexes over ``_events``, so that reads do not scan the whole log
        self._by_aggregate: dict[UUID, list[RecordedEvent]] = {}
        self._by_ref: dict[str, RecordedEvent] = {}
        self._firsts: list[RecordedEvent] = []  # every aggregate's first event, in log order

    def _index(self, event: RecordedEvent) -> None:
        self._by_aggregate.setdefault(event.originator_id, []).append(event)
        self._by_ref[event.ref] = event
        if event.originator_version == 1:
            self._firsts.append(event)

    def _reindex(self) -> None:
        self._by_aggregate, self._by_ref, self._firsts = {}, {}, []
        for event in self._events:
            self._index(event)

    def _version(self, originator_id: UUID) -> int:
        events = self._by_aggregate.get(originator_id)
        return events[-1].originator_version if events else 0

    def _append(self, batch: CommandBatch) -> AppendResult:
        """The real stores' steps (ledger.store._batch), on lists."""
        if batch.command_id in self._commands:
            earlier = self._commands[batch.command_id].check_retry(batch.command_id, batch.payload_digest)
            return AppendResult(batch.command_id, earlier.positions, duplicate=True, payload_digest=earlier.payload_digest)
        prepared = _batch.prepare(batch)
        conflict = _batch.find_conflict(prepared.expected, {agg_id: self._version(agg_id) for agg_id in prepared.expected})
        if conflict is not None:
            raise conflict
        last = self._events[-1] if self._events else None
        recorded = _batch.chain(prepared, _batch.Head(last.position, last.hash) if last else _batch.Head(0, GENESIS_HASH))
        for event in recorded:
            self._events.append(event)
            self._index(event)
        head = self._command_chain[-1] if self._command_chain else None
        command = _batch.chain_command(
            batch, recorded, _batch.Head(head.seq, head.hash) if head else _batch.Head(0, GENESIS_HASH)
        )
        self._command_chain.append(command)
        positions = tuple(e.position for e in recorded)
        # what command_result() says later, as the real stores do: an earlier, recorded command
        self._commands[batch.command_id] = AppendResult(
            batch.command_id, positions, duplicate=True, payload_digest=command.payload_digest,
            command_type=batch.command_type, recorded_at=command.recorded_at,
        )  # fmt: skip
        return AppendResult(batch.command_id, positions, payload_digest=command.payload_digest)

    def append(self, batch):
        with self._lock:
            return self._append(batch)

    def append_many(self, batches: Sequence[CommandBatch | _batch.PreparedBatch], atomic: bool = False):
        with self._lock:
            saved = (list(self._events), dict(self._commands), list(self._command_chain))
            out: list[AppendResult | ConcurrencyConflict] = []
            for batch in batches:
                try:
                    out.append(self._append(batch.batch if isinstance(batch, _batch.PreparedBatch) else batch))
                except ConcurrencyConflict as conflict:
                    if atomic:
                        self._events, self._commands, self._command_chain = saved
                        self._reindex()
                        raise
                    out.append(conflict)
                except CommandIdReused:
                    self._events, self._commands, self._command_chain = saved
                    self._reindex()
                    raise
            return out

    def read_aggregate(self, originator_id, from_version=1):
        return [e for e in self._by_aggregate.get(originator_id, ()) if e.originator_version >= from_version]

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        events = self._events[after:]
        return iter(events[:limit] if limit is not None else events)

    def read_refs(self, refs: Iterable[str]):
        return {ref: self._by_ref[ref] for ref in set(refs) if ref in self._by_ref}

    def max_position(self):
        return len(self._events)

    def command_result(self, command_id):
        return self._commands.get(command_id)

    def read_commands(self, after: int = 0) -> Iterator[RecordedCommand]:
        return iter(self._command_chain[after:])

    def originator_ids(self, topic_prefix):
        return [e.originator_id for e in self._firsts if e.topic.startswith(topic_prefix)]

    def close(self):
        pass
