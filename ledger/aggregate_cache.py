"""Aggregates kept in memory between commands, so that a command does not refold a long history.

Without it every command reads each aggregate it touches from the store and
folds all its events: a provider with 10,000 events costs 10,000 rows and
10,000 ``mutate`` calls per command. The cache keeps each aggregate as its last
recorded version left it.

It is kept honest by the append's version check, not by invalidation messages:

- a command *takes* an aggregate out of the cache (no other command can use or
  change the same object meanwhile; a concurrent command on the same aggregate
  waits for its turn, below, or — a rulebook, or after the wait — misses and
  reads the store);
- the command's batch expects the version the cached aggregate has; if another
  writer (another process, a thread that read the store) recorded a newer
  version, the store refuses the batch with a ``ConcurrencyConflict`` — detected,
  never merged — the taken aggregates are dropped and the command is decided
  again on aggregates read from the store;
- only after the batch is recorded are the command's aggregates *put* back, at
  their new versions (and the ids it looked up and did not find, as absent:
  version 0, which the version check keeps honest the same way). A command that fails, conflicts or turns out to be a
  duplicate puts nothing back (its aggregates may hold changes that were not
  recorded).

Commands of one process on the same aggregate take turns (:meth:`AggregateCache.claim`): a
command *claims* each aggregate it names before taking it, and a second command claiming it
waits until the first has recorded (and put the aggregate back) or given up. Without turns,
concurrent commands on one provider all missed, all read it from the store and all but one
conflicted, again and again: 16 connections changing one provider over HTTP got 12.9 commands/s,
265 answers of 409 for 300 commands and 74 ms of server CPU a command (BENCHMARKS.md). Two
commands on one aggregate cannot both be recorded at the same version, so the turn costs
nothing they would not have lost to the conflict. A claim waits at most ``CLAIM_WAIT`` seconds
(two commands claiming two aggregates in opposite orders), then the command goes on unclaimed:
it reads the store, and the version check keeps it honest as before. Rulebooks are not claimed:
every command of a jurisdiction reads its rulebook, and claiming it would queue them all.

Bounded (least recently used out first). In memory only: nothing to upcast when
an aggregate class changes, a restart starts cold.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate

#: aggregates kept by default (a Provider with 10,000 events is a few MB)
DEFAULT_SIZE = 4096
#: seconds a command waits for its turn on an aggregate before it goes on unclaimed
CLAIM_WAIT = 0.5


class AggregateCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        #: id -> the aggregate, or None: known to be absent
        self._entries: OrderedDict[UUID, LedgerAggregate | None] = OrderedDict()
        self._lock = threading.Lock()
        #: aggregates a command of this process is deciding on (see :meth:`claim`)
        self._claimed: set[UUID] = set()
        self._turn = threading.Condition(self._lock)
        self.hits = 0
        self.misses = 0
        #: claims that waited for another command, and those that gave up waiting
        self.waits = 0
        self.unclaimed = 0

    def claim(self, aggregate_id: UUID, timeout: float = CLAIM_WAIT) -> bool:
        """Wait (at most ``timeout`` seconds) until no other command of this process has claimed
        the aggregate, and claim it; False if the wait ran out (the caller goes on unclaimed).
        Every claim is let go with :meth:`let_go`."""
        with self._turn:
            if aggregate_id in self._claimed:
                self.waits += 1
                if not self._turn.wait_for(lambda: aggregate_id not in self._claimed, timeout):
                    self.unclaimed += 1
                    return False
            self._claimed.add(aggregate_id)
            return True

    def let_go(self, aggregate_ids: Iterable[UUID]) -> None:
        """End claims (after the command's aggregates were put back, or it gave up): the next
        command waiting for one of them takes its turn."""
        with self._turn:
            self._claimed.difference_update(aggregate_ids)
            self._turn.notify_all()

    def take(self, aggregate_id: UUID) -> tuple[bool, LedgerAggregate | None]:
        """(hit, the aggregate as last recorded or None if known absent), removed from the cache."""
        with self._lock:
            if aggregate_id not in self._entries:
                self.misses += 1
                return False, None
            self.hits += 1
            return True, self._entries.pop(aggregate_id)

    def peek(self, aggregate_id: UUID) -> LedgerAggregate | None:
        """The aggregate as last recorded, left in the cache, or None (not kept, or taken by a
        command): for what never changes once an aggregate is created (its jurisdiction)."""
        with self._lock:
            return self._entries.get(aggregate_id)

    def put(self, aggregates: Iterable[LedgerAggregate], absent: Iterable[UUID] = ()) -> None:
        """Keep recorded aggregates (never replacing a newer version) and ids known to be absent."""
        with self._lock:
            for aggregate in aggregates:
                current = self._entries.get(aggregate.id)
                if current is not None and current.version > aggregate.version:
                    continue
                self._entries[aggregate.id] = aggregate
                self._entries.move_to_end(aggregate.id)
            for aggregate_id in absent:
                if self._entries.get(aggregate_id) is None:
                    self._entries[aggregate_id] = None
                    self._entries.move_to_end(aggregate_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
