"""Group commit: concurrent commands share one store transaction.

Without it, every ``Ledger.execute`` appends its batch in a transaction of its
own, and writers queue behind the log's write lock (PostgreSQL's transaction-scoped
advisory lock, SQLite's write lock) one commit — one WAL flush — at a
time. With it (``Ledger(store, group_commit=True)``, setting
``LEDGER_GROUP_COMMIT=true``), each thread still decides its command on its own
and builds its :class:`~ledger.store.CommandBatch` as before, then hands the batch
to the ledger's :class:`GroupCommitter`, which records the batches waiting at that
moment with one :meth:`~ledger.store.EventStore.append_many` call: one
transaction in which each batch is still all-or-nothing, one commit (one WAL
flush) for the whole group.

Leader and followers
--------------------
There is no committer thread. A thread that submits a batch first has the store
prepare it (:meth:`~ledger.store.EventStore.prepare`: checked, and on PostgreSQL
rendered as the call's document takes it), so that the leader, whom the other
threads wait for, only joins what is prepared (in the throughput mix the gain is
within the machine's noise: BENCHMARKS.md); a malformed batch is refused there, in
its own thread, and never joins a group or makes it fall back. Then it queues the
batch; if no
group is being gathered or written, it becomes the *leader*: it takes up to
``max_batch`` queued batches (its own among them, in arrival order), writes them
with ``append_many``, and wakes their threads with their outcomes. The others
(*followers*) sleep until their batch is done, or until leadership is free and
their batch is first in the queue, and then lead themselves. Each thread is woken
only for its own batch: when it is done, or when it is first in the queue as
leadership comes free (waking every waiting thread at each step cost eight
threads 57–67 µs of CPU a batch for the committer alone, against 24–31 µs now:
``python -m bench.group_commit``, BENCHMARKS.md). While one group is being
written, the next one fills up behind it, so under load groups form by
themselves.

By default a leader takes what is queued and writes it at once. Given
``max_wait_ms``, it may first wait that long for more batches, but only while some
thread has entered :meth:`GroupCommitter.session` (``Ledger.execute`` does, for the
whole command, retries included) and has not yet queued a batch: a thread that is
still deciding. A lone client never waits. Waiting makes groups larger but keeps the
database idle meanwhile; in the throughput mix it cost commands/s at both settings
tried, 0.5 and 2 ms (8 clients, 2 ms: 1,682 / 1,893 commands/s against 2,419 /
2,179 without; BENCHMARKS.md).

Outcomes
--------
Each batch gets what ``EventStore.append`` would have given it:

- an :class:`~ledger.store.AppendResult` (``duplicate=True`` if its command id
  had been recorded before, including earlier in the same group: a command id
  is recorded once);
- a :class:`~ledger.store.ConcurrencyConflict` when an aggregate it read moved
  since it was loaded — also by an earlier batch of the same group. It is
  *returned*, not raised: the ledger re-decides that command on fresh state
  and submits it again, within its usual retry budget;
- an exception, if ``append_many`` fails for another reason and its whole
  transaction rolls back. If the failure is the database's, not a batch's (a
  lost connection, a pool timeout, a locked file: an ``OSError`` or an
  ``OperationalError``/``InterfaceError`` of the driver), every batch of the
  group gets the error, as each would have alone; whether a commit that failed
  half-way took effect is then as unknown as without group commit (a retry of
  the same command id is safe). Otherwise (a batch the database refuses: a
  command id reused for another command) the leader appends the group's
  batches again one by one with ``EventStore.append``, so that only the culprit
  gets its error.

After commit
------------
``on_commit`` (the ledger's ``after_commit`` listeners, e.g. the in-process
projections' catch-up) runs at most once per group, never once per command,
and only for groups in which at least one batch was recorded (or found recorded).
A group's threads return only after a run of ``on_commit`` that *started after
the group committed* has finished, so a command's caller still reads its own
writes. Runs do not overlap: a group that commits while ``on_commit`` is running
waits for that run to end, and the next run then serves every group committed
meanwhile at once (``notifications`` counts the runs). The leader gives up
leadership before this, so the next group is written while ``on_commit`` runs.

An exception from ``on_commit`` is raised in the threads whose batches were
recorded in the groups that run served (their commands stand), as
``Ledger.execute`` does without group commit. A listener may itself execute
commands: submitted from inside ``on_commit``, a batch is written on its own and
``on_commit`` is called again in that thread, as without group commit.

Counters (``groups``, ``batches``, ``largest_group``, ``conflicts``,
``fallbacks``, ``notifications``) say how well batches are being grouped; they
are updated under the committer's lock.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ledger.store import AppendResult, CommandBatch, ConcurrencyConflict, EventStore
from ledger.store._batch import PreparedBatch

Outcome = AppendResult | ConcurrencyConflict

#: names of exception classes (of any driver) that mean the database failed, not one batch
DATABASE_FAILURES = frozenset({"OperationalError", "InterfaceError"})


def database_failure(error: BaseException) -> bool:
    """Whether ``error`` says the database (connection, pool, lock) failed rather than one batch."""
    return isinstance(error, OSError) or any(cls.__name__ in DATABASE_FAILURES for cls in type(error).__mro__)


@dataclass(frozen=True)
class GroupCommitOptions:
    """How groups are formed."""

    #: the most batches written in one transaction
    max_batch: int = 64
    #: how long a leader may wait for batches that threads are still deciding (0: never wait)
    max_wait_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.max_wait_ms < 0:
            raise ValueError("max_wait_ms must not be negative")


class _Slot:
    """One submitted batch and, once its group is written, its outcome; ``wake`` is what its thread
    waits on (on the committer's lock), so that only that thread is woken for it."""

    __slots__ = ("batch", "done", "error", "outcome", "taken", "wake")

    def __init__(self, batch: PreparedBatch, lock: threading.Lock) -> None:
        self.batch = batch
        self.wake = threading.Condition(lock)
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.taken = False  # in a group being written
        self.done = False


class _Committed:
    """A group that recorded something and waits for a run of on_commit that started after it."""

    __slots__ = ("error", "notified", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.error: BaseException | None = None
        self.notified = False


class GroupCommitter:
    """Writes the batches of concurrent threads in shared transactions (see the module docstring)."""

    def __init__(
        self,
        store: EventStore,
        options: GroupCommitOptions | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.options = options or GroupCommitOptions()
        self.on_commit = on_commit
        self._lock = threading.Lock()
        #: a gathering leader waits on it (a batch queued, a thread done deciding)
        self._more = threading.Condition(self._lock)
        #: leaders waiting for a run of on_commit that started after their group committed
        self._served = threading.Condition(self._lock)
        self._queue: list[_Slot] = []
        self._leading = False  # a leader is gathering or writing a group
        self._deciding = 0  # threads inside session() that have no batch submitted
        self._local = threading.local()  # .in_session: the thread is inside session()
        self._committed_seq = 0  # groups committed that on_commit must serve
        self._awaiting: list[_Committed] = []  # those it has not served yet
        self._notifying = False  # a thread is running on_commit
        #: transactions written (append_many calls, one per group)
        self.groups = 0
        #: batches written in them
        self.batches = 0
        #: the most batches one group held
        self.largest_group = 0
        #: batches whose outcome was a ConcurrencyConflict
        self.conflicts = 0
        #: groups that append_many refused and that were appended again batch by batch
        self.fallbacks = 0
        #: runs of on_commit (at most one per group)
        self.notifications = 0

    # -- for callers -------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[None]:
        """Mark the calling thread as about to submit (deciding a command): a leader may wait for it."""
        if getattr(self._local, "in_session", False):
            yield  # nested: already counted
            return
        self._local.in_session = True
        with self._lock:
            self._deciding += 1
        try:
            yield
        finally:
            self._local.in_session = False
            with self._lock:
                self._deciding -= 1
                self._more.notify()  # a leader waiting for this thread's batch need not wait longer

    def submit(self, batch: CommandBatch) -> Outcome:
        """Record ``batch`` in a group; returns its AppendResult or its ConcurrencyConflict.

        Raises what recording it raised (other than a conflict), or what ``on_commit`` raised
        after it was recorded; a malformed batch's ``ValueError``/``TypeError`` before it is queued.
        """
        if getattr(self._local, "notifying", False):
            return self._submit_nested(batch)
        slot = _Slot(self.store.prepare(batch), self._lock)
        in_session = getattr(self._local, "in_session", False)
        with self._lock:
            self._queue.append(slot)
            if in_session:
                self._deciding -= 1
            self._more.notify()  # a leader may be waiting for more batches
        try:
            return self._await(slot)
        finally:
            if in_session:
                with self._lock:
                    self._deciding += 1  # deciding again (a retry), or about to leave the session

    def _await(self, slot: _Slot) -> Outcome:
        while True:
            with self._lock:
                while not slot.done and (slot.taken or self._leading):
                    slot.wake.wait()
                if slot.done:
                    break
                self._leading = True
                try:
                    group = self._gather()  # holds this slot, unless more than max_batch are ahead of it
                except BaseException:
                    self._leading = False
                    self._hand_on()
                    raise
            self._lead(group)
        if slot.error is not None:
            raise slot.error
        assert slot.outcome is not None
        return slot.outcome

    @property
    def pending(self) -> int:
        """Batches queued and not yet taken into a group."""
        with self._lock:
            return len(self._queue)

    @property
    def mean_group(self) -> float:
        return self.batches / self.groups if self.groups else 0.0

    def stats(self) -> dict[str, float]:
        return {
            "groups": self.groups,
            "batches": self.batches,
            "mean_group": round(self.mean_group, 2),
            "largest_group": self.largest_group,
            "conflicts": self.conflicts,
            "fallbacks": self.fallbacks,
            "notifications": self.notifications,
        }

    # -- the leader's work -----------------------------------------------------------------

    def _gather(self) -> list[_Slot]:
        """Take the next group from the queue (called by the new leader, holding the lock)."""
        max_batch, max_wait = self.options.max_batch, self.options.max_wait_ms / 1000
        if max_wait > 0 and len(self._queue) < max_batch and self._deciding > 0:
            deadline = time.monotonic() + max_wait
            while len(self._queue) < max_batch and self._deciding > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._more.wait(remaining)
        group = self._queue[:max_batch]
        del self._queue[:max_batch]
        for slot in group:
            slot.taken = True
        return group

    def _lead(self, group: list[_Slot]) -> None:
        """Write ``group``, hand leadership on, run on_commit, and wake the group's threads."""
        interrupted: BaseException | None = None
        try:
            outcomes = self._write([slot.batch for slot in group])
        except BaseException as error:
            interrupted = error
            outcomes = [error] * len(group)  # type: ignore[list-item]  # re-raised below, never returned
        with self._lock:
            self._leading = False
            self.groups += 1
            self.batches += len(group)
            self.largest_group = max(self.largest_group, len(group))
            self.conflicts += sum(isinstance(o, ConcurrencyConflict) for o in outcomes)
            self._hand_on()  # the next leader may start writing while on_commit runs
        listener_error: BaseException | None = None
        if self.on_commit is not None and any(isinstance(o, AppendResult) for o in outcomes):
            listener_error = self._after_commit()
        with self._lock:
            for slot, outcome in zip(group, outcomes):
                if isinstance(outcome, (AppendResult, ConcurrencyConflict)):
                    slot.outcome = outcome
                    if listener_error is not None and isinstance(outcome, AppendResult):
                        slot.error = listener_error
                else:
                    slot.error = outcome
                slot.done = True
                slot.wake.notify()
        if interrupted is not None:
            raise interrupted

    def _after_commit(self) -> BaseException | None:
        """Wait for (or run) a run of on_commit that starts after this group committed; returns its error."""
        with self._lock:
            self._committed_seq += 1
            mine = _Committed(self._committed_seq)
            self._awaiting.append(mine)
            while not mine.notified:
                if not self._notifying:
                    break
                self._served.wait()
            else:
                return mine.error
            self._notifying = True
            serves = self._committed_seq  # every group committed so far, this one included
        error: BaseException | None = None
        self._local.notifying = True
        try:
            assert self.on_commit is not None
            self.on_commit()
        except BaseException as raised:
            error = raised
        finally:
            self._local.notifying = False
        with self._lock:
            self.notifications += 1
            self._notifying = False
            served = [c for c in self._awaiting if c.seq <= serves]
            self._awaiting = [c for c in self._awaiting if c.seq > serves]
            for committed in served:
                committed.error = error
                committed.notified = True
            self._served.notify_all()
        return error

    def _submit_nested(self, batch: CommandBatch) -> Outcome:
        """A listener run by on_commit executes a command: write it alone and call on_commit
        again in this thread, as without group commit (waiting for a group would wait for itself)."""
        [outcome] = self._write([batch])
        with self._lock:
            self.groups += 1
            self.batches += 1
            self.largest_group = max(self.largest_group, 1)
            self.conflicts += isinstance(outcome, ConcurrencyConflict)
        if isinstance(outcome, Exception) and not isinstance(outcome, ConcurrencyConflict):
            raise outcome
        if isinstance(outcome, AppendResult) and self.on_commit is not None:
            self.on_commit()
        return outcome

    def _hand_on(self) -> None:
        """Leadership is free (called holding the lock): wake the thread of the first batch still
        queued, which leads the next group. The others sleep on; each is woken for its own batch."""
        if self._queue:
            self._queue[0].wake.notify()

    def _write(self, batches: Sequence[CommandBatch | PreparedBatch]) -> list[Outcome | Exception]:
        """One append_many; if a batch made it fail, each batch on its own so only the culprit fails."""
        try:
            return list(self.store.append_many(batches))
        except Exception as error:
            if len(batches) == 1 or database_failure(error):
                return [error] * len(batches)
        with self._lock:
            self.fallbacks += 1
        outcomes: list[Outcome | Exception] = []
        for batch in batches:
            try:
                outcomes.append(self.store.append(batch.batch if isinstance(batch, PreparedBatch) else batch))
            except ConcurrencyConflict as conflict:
                outcomes.append(conflict)
            except Exception as error:
                outcomes.append(error)
        return outcomes
