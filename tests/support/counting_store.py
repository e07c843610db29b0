"""A real event store that counts what the cache and snapshot tests look at."""
from __future__ import annotations

from collections import Counter
from typing import Any, cast
from uuid import UUID

from ledger.store import ConcurrencyConflict, EventStore


class CountingStore:
    """The store it wraps, counting aggregate reads (calls, the ids read, the events returned per
    aggregate) and appends refused for a conflict; everything else goes straight to the store."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.reads = 0
        self.read_ids: list[UUID] = []
        self.events_read: Counter[UUID] = Counter()
        self.conflicts = 0

    def read_aggregate(self, originator_id: UUID, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        self.read_ids.append(originator_id)
        events = self._store.read_aggregate(originator_id, *args, **kwargs)
        self.events_read[originator_id] += len(events)
        return events

    def append(self, batch: Any) -> Any:
        try:
            return self._store.append(batch)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def as_store(self) -> EventStore:
        """This proxy where an ``EventStore`` is expected (it is one by delegation)."""
        return cast(EventStore, self)
