"""The projection worker: the read models follow the log on their own, off the command path.

Before it, every command waited for the in-process projections to catch up
after its commit (about half of its time). Now a commit only *signals* the
worker (a thread of the embedded ledger; the Kafka consumers run the same
:class:`~ledger.projections.runner.ProjectionRunner` from their own process)
and returns. The worker catches up in its own transactions, as soon as it is
signalled, and at least every ``poll_interval`` seconds for what other
processes recorded.

Reading one's own writes is explicit: a writer that needs its command's effect
in the read models (the CLI after ``import``, an API request that asks for it)
calls :meth:`ProjectionWorker.wait_for` with the command's last position and a
timeout; a reader that does not care reads what is there. ``wait_for`` raises
:class:`ProjectionLag` (one clear line, with the worker's last error if it has
one) when the read models do not get there in time.

A commit does not start a catch-up at once: the worker gathers what is committed for up to
``gather`` seconds (default :data:`GATHER`) first, so that during a burst of commands it catches
up in batches of many commands instead of one or two (each catch-up is a transaction of a dozen
statements, whatever its size, run in the writers' interpreter). A caller of ``wait_for`` cuts the
gathering short: it never waits for the gathering.

A failing batch rolls back whole (``runner``): the worker logs it, waits a
little longer each time (up to ``poll_interval``) and tries again; the commands
are recorded either way.
"""
from __future__ import annotations

import logging
import threading
import time

from ledger.projections.runner import ProjectionRunner
from ledger.redaction import describe_failure
from ledger.store.base import EventStore

log = logging.getLogger("ledger.projections")

#: seconds a writer waits by default for the read models to reach its command
DEFAULT_WAIT = 30.0

#: seconds the worker gathers commits before catching up (unless someone waits for the read models)
GATHER = 0.05


class ProjectionLag(TimeoutError):
    """The read models did not reach a position in time."""


class ProjectionWorker:
    def __init__(
        self,
        runner: ProjectionRunner,
        store: EventStore,
        *,
        poll_interval: float = 1.0,
        gather: float = GATHER,
        name: str = "ledger-projections",
    ) -> None:
        self.runner = runner
        self.store = store
        self.poll_interval = poll_interval
        self.gather = gather
        self.name = name
        self.last_error: BaseException | None = None
        self._cond = threading.Condition()
        self._signalled = False
        self._waiters = 0  # callers inside wait_for: no gathering
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._position = self._tracked()
        #: CPU time the worker's thread spent catching up, and the events it read meanwhile (what a
        #: benchmark divides: ``python -m bench.throughput`` prints the CPU an event)
        self.cpu_seconds = 0.0
        self.events_read = 0

    # -- the caller's side ---------------------------------------------------------------

    @property
    def position(self) -> int:
        """The lowest tracking position of the projections, as the worker last saw it."""
        return self._position

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ProjectionWorker:
        with self._cond:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return self

    def notify(self) -> None:
        """Something was committed: catch up soon (cheap; called after each commit or group)."""
        with self._cond:
            self._signalled = True
            self._cond.notify_all()

    def wait_for(self, position: int, timeout: float = DEFAULT_WAIT) -> int:
        """Block until every projection has applied ``position``; returns the position reached.

        Without a running worker the caller catches up itself.
        """
        if self._position >= position:
            return self._position
        if not self.running:
            try:
                self._catch_up()
            except Exception as error:
                raise ProjectionLag(self._lag_message(position, 0.0)) from error
            if self._position >= position:
                return self._position
            raise ProjectionLag(self._lag_message(position, 0.0))
        deadline = time.monotonic() + timeout
        with self._cond:
            self._signalled = True
            self._waiters += 1
            self._cond.notify_all()
            try:
                while self._position < position:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self.running:
                        raise ProjectionLag(self._lag_message(position, timeout))
                    self._cond.wait(remaining)
                return self._position
            finally:
                self._waiters -= 1

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the worker's side ---------------------------------------------------------------

    def _tracked(self) -> int:
        return min(self.runner.positions().values(), default=0)

    def _catch_up(self) -> None:
        read, spent = 0, 0.0
        try:
            if self.store.max_position() > self._position:
                started = time.thread_time()
                read = self.runner.catch_up()
                spent = time.thread_time() - started
                position = self._tracked()
            else:
                position = self._position
            self.last_error = None
        except Exception as error:  # the commands are recorded; the next round retries
            self.last_error = error
            log.warning("projections could not catch up (%s); retrying", describe_failure(error))
            log.debug("projections could not catch up", exc_info=True)  # the traceback, for a developer
            raise
        with self._cond:
            self._position = max(self._position, position)
            self.cpu_seconds += spent
            self.events_read += read
            self._cond.notify_all()

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                if not self._signalled and not self._stopping:
                    self._cond.wait(backoff or self.poll_interval)
                if self._signalled and not backoff:
                    self._gather()
                if self._stopping:
                    return
                self._signalled = False
            try:
                self._catch_up()
                backoff = 0.0
            except Exception:
                backoff = min(self.poll_interval, max(0.05, backoff * 2))
                time.sleep(backoff)

    def _gather(self) -> None:
        """Let commits accumulate for up to ``gather`` seconds, unless someone waits (holding the lock)."""
        deadline = time.monotonic() + self.gather
        while not self._stopping and not self._waiters:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _lag_message(self, position: int, timeout: float) -> str:
        why = f"; last error: {self.last_error}" if self.last_error is not None else ""
        return f"the read models are at position {self._position}, not {position}, after {timeout:g} s{why}"
