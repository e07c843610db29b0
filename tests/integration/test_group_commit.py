"""Group commit: concurrent commands share transactions and are still recorded once, whole, in order."""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timezone
from uuid import uuid4

import pytest

from ledger.aggregates import DomainError, Provider
from ledger.application import CommandConflict, CommandResult, Ledger
from ledger.audit.verify import verify_store
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.group_commit import GroupCommitOptions, GroupCommitter
from ledger.rules.base import COMPLAINT_VERIFIED
from ledger.store import CommandBatch, CommandIdReused, ConcurrencyConflict, NewEvent
from tests.integration.scenario import Scenario

WAIT = 20  # seconds before a test that waits for threads fails
RECORDED_AT = datetime(2025, 3, 1, 9, tzinfo=timezone.utc)


class GatedStore:
    """The real store; the first ``append_many`` holds until ``release()``, so that the
    batches submitted meanwhile queue up and are written together as the next group."""

    def __init__(self, store) -> None:
        self._store = store
        self._gate = threading.Event()
        self.holding = threading.Event()  # set once the first append_many is held
        self.groups: list[int] = []  # sizes of the append_many calls, in order

    def append_many(self, batches, atomic=False):
        self.groups.append(len(batches))
        if not self._gate.is_set():
            self.holding.set()
            assert self._gate.wait(WAIT)
        return self._store.append_many(batches, atomic)

    def release(self) -> None:
        self._gate.set()

    def __getattr__(self, name):
        return getattr(self._store, name)


def grouped_ledger(scenario: Scenario, store=None, **options) -> Ledger:
    """A group-committing ledger on the scenario's store (closed with the scenario's ledger)."""
    return Ledger(
        store or scenario.ledger.store, clock=scenario.clock, handlers=HANDLERS, group_commit=GroupCommitOptions(**options) if options else True
    )


def run_threads(target: Callable[[int], object], count: int) -> dict[int, object]:
    """Run ``target(i)`` in ``count`` threads; each one's result or the exception it raised."""
    outcomes: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            outcomes[i] = target(i)
        except Exception as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,), name=f"client-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def in_one_group(ledger: Ledger, gated: GatedStore, plug: m.Command, commands: list[m.Command], queued: int) -> dict[int, object]:
    """Execute ``plug``, hold its append; execute ``commands`` from threads of their own until
    ``queued`` batches wait behind it; then let everything through. Returns the commands' outcomes."""
    assert ledger.committer is not None
    plugged = threading.Thread(target=ledger.execute, args=(plug,))
    plugged.start()
    assert gated.holding.wait(WAIT)
    results: dict[int, object] = {}

    def run() -> None:
        results.update(run_threads(lambda i: ledger.execute(commands[i]), len(commands)))

    clients = threading.Thread(target=run)
    clients.start()
    committer = ledger.committer
    assert committer is not None
    wait_until(lambda: committer.pending == queued)
    gated.release()
    clients.join(WAIT * 3)
    plugged.join(WAIT)
    assert not clients.is_alive() and not plugged.is_alive()
    return results


def assert_log_sound(ledger: Ledger) -> list:
    """The log is gapless from 1, every command's events are contiguous, and the chain verifies."""
    events = list(ledger.store.read_all())
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    runs = [e.command_id for i, e in enumerate(events) if i == 0 or events[i - 1].command_id != e.command_id]
    assert len(runs) == len(set(runs)), "a command's events are interleaved with another's"
    report = verify_store(ledger.store)
    assert report.ok, report.summary()
    assert report.checked == len(events)
    return events


def profile_change(provider_id: str, value: str) -> m.RecordProfileChange:
    return m.RecordProfileChange(
        command_id=f"change-{uuid4()}", provider_id=provider_id, field="address", new_value=value,
        changed_on=date(2025, 3, 1), reported_on=date(2025, 3, 1),
    )  # fmt: skip


def complaint(provider_id: str, complaint_id: str) -> m.FileComplaint:
    return m.FileComplaint(
        command_id=f"file-{complaint_id}", complaint_id=complaint_id, provider_id=provider_id, complainant_kind="enterprise",
        complainant_name="enterprise complainant", contact="13800000000", evidence=["photos"], subject="service not delivered",
        enterprise_id=f"E-{complaint_id}",
    )  # fmt: skip


# --- many clients ----------------------------------------------------------------------------


def test_many_threads_record_every_command_once_in_shared_transactions(scenario):
    threads, per_thread = 8, 12
    for i in range(threads):
        scenario.admit(f"TS-{i}", "tangshan")
    scenario.admit("TS-shared", "tangshan")
    ledger = grouped_ledger(scenario)
    notified = []
    ledger.after_commit.append(lambda: notified.append(ledger.store.max_position()))
    before = ledger.store.max_position()
    # every thread also sends this one command (one that a thread deciding it after it was
    # recorded would still decide, so that it is found a duplicate, not refused)
    shared = profile_change("TS-shared", "No. 1")

    def client(i: int) -> list[CommandResult]:
        results = []
        for j in range(per_thread):
            if j == per_thread // 2:
                command = shared
            elif j % 2:
                command = complaint(f"TS-{(i + j) % threads}", f"C-{i}-{j}")  # reads a provider others write
            else:
                command = profile_change(f"TS-{i}", f"No. {j}")
            result = ledger.execute(command)
            if not result.duplicate:  # (a duplicate may be found recorded before its group's after_commit ran)
                assert notified and max(notified) >= max(result.positions, default=0), "returned before after_commit ran"
            results.append(result)
        return results

    outcomes = run_threads(client, threads)

    for outcome in outcomes.values():
        if isinstance(outcome, Exception):
            raise outcome
    results = [r for i in range(threads) for r in outcomes[i]]
    assert len(results) == threads * per_thread
    assert sum(1 for r in results if r.command_id == shared.command_id and not r.duplicate) == 1
    assert {r.positions for r in results if r.command_id == shared.command_id} == {
        ledger.store.command_result(shared.command_id).positions
    }
    events = assert_log_sound(ledger)
    new = [e for e in events if e.position > before]
    recorded = {r.command_id: r.positions for r in results if not r.duplicate}
    assert len(recorded) == threads * (per_thread - 1) + 1
    assert Counter(e.command_id for e in new) == Counter({c: len(p) for c, p in recorded.items()})
    assert sorted(p for positions in recorded.values() for p in positions) == [e.position for e in new]
    for i in range(threads):
        assert scenario.provider(f"TS-{i}").profile["address"] == f"No. {per_thread - 2}"
    committer = ledger.committer
    assert committer.batches >= len(results) - threads + 1  # duplicates may be caught before deciding
    assert committer.largest_group > 1 and committer.groups < committer.batches
    assert len(notified) <= committer.groups  # after_commit ran once per group, not once per command
    assert committer.pending == 0


def test_commands_racing_on_one_provider_take_turns_and_the_removal_is_derived_once(scenario):
    """天津 第十二条（四）: eight threads verify eight complaints against the same provider at once.
    They take turns on the provider (``AggregateCache.claim``): each decides on the provider as
    the one before it recorded it, none conflicts; the removal is derived exactly once, at the
    third verified complaint. (Before turns, every batch after the first in a group conflicted
    and was decided again on fresh state.)"""
    scenario.admit("TJ-1", "tianjin")
    complaints = [scenario.complaint("TJ-1") for _ in range(8)]
    ledger = grouped_ledger(scenario)
    start = threading.Barrier(len(complaints))
    gave_up = []

    def client(i: int) -> CommandResult:
        verify = scenario.command(m.VerifyComplaint, complaint_id=complaints[i], verdict="true")
        start.wait(WAIT)
        while True:  # a client whose command conflicted MAX_ATTEMPTS times sends it again (same command id)
            try:
                return ledger.execute(verify)
            except CommandConflict:
                gave_up.append(i)

    outcomes = run_threads(client, len(complaints))

    results = [outcomes[i] for i in range(len(complaints))]
    assert all(isinstance(r, CommandResult) and not r.duplicate for r in results), results
    assert ledger.committer.conflicts == 0 and gave_up == []
    assert ledger.aggregates.waits > 0 and ledger.aggregates.unclaimed == 0  # they waited for their turns
    derived = [r for r in results if "provider.sanction-imposed.v1" in r.events]
    assert len(derived) == 1
    assert all(r.events[:2] == ["complaint.verified.v1", "provider.fact-noted.v1"] for r in results)
    provider = scenario.provider("TJ-1")
    facts = [f.ref for f in provider.live_facts(COMPLAINT_VERIFIED)]
    assert len(facts) == 8
    [removal] = scenario.sanctions("TJ-1")
    assert removal["citation"]["article"] == "第十二条（四）"
    assert removal["evidence"] == facts[:3]
    assert provider.status == "removed"
    versions = [e.originator_version for e in ledger.store.read_aggregate(Provider.create_id("TJ-1"))]
    assert versions == list(range(1, provider.version + 1))
    assert_log_sound(ledger)


# --- one group, made deterministic ---------------------------------------------------------------


def test_a_conflict_inside_a_group_is_decided_again(scenario):
    """Both verifications are decided on the provider with one verified complaint and written in
    one group: the second conflicts with the first in the same transaction, is decided again,
    and is the third verified complaint that removes."""
    scenario.admit("TJ-1", "tianjin")
    scenario.admit("TJ-2", "tianjin")
    first = scenario.verified_complaint("TJ-1")
    complaints = [scenario.complaint("TJ-1") for _ in range(2)]
    gated = GatedStore(scenario.ledger.store)
    ledger = grouped_ledger(scenario, gated)
    calls = []
    ledger.after_commit.append(lambda: calls.append(1))
    verify = [scenario.command(m.VerifyComplaint, complaint_id=c, verdict="true") for c in complaints]

    outcomes = in_one_group(ledger, gated, profile_change("TJ-2", "plug"), verify, queued=2)

    assert gated.groups[:2] == [1, 2]
    assert ledger.committer.conflicts == 1
    events = sorted((outcomes[0].events, outcomes[1].events), key=len)
    assert events == [
        ["complaint.verified.v1", "provider.fact-noted.v1"],
        ["complaint.verified.v1", "provider.fact-noted.v1", "provider.sanction-imposed.v1"],
    ]
    facts = [f.ref for f in scenario.provider("TJ-1").live_facts(COMPLAINT_VERIFIED)]
    assert facts[0] == first.fact and len(facts) == 3
    [removal] = scenario.sanctions("TJ-1")
    assert removal["evidence"] == facts
    assert len(calls) == len(gated.groups)  # once per group (each recorded something)
    assert_log_sound(ledger)


def test_the_same_command_twice_in_one_group_is_recorded_once(scenario):
    scenario.admit("TS-1", "tangshan")
    scenario.admit("TS-2", "tangshan")
    gated = GatedStore(scenario.ledger.store)
    ledger = grouped_ledger(scenario, gated)
    change = profile_change("TS-1", "No. 9")

    outcomes = in_one_group(ledger, gated, profile_change("TS-2", "plug"), [change] * 3, queued=3)

    assert gated.groups[:2] == [1, 3]
    results = [outcomes[i] for i in range(3)]
    assert sorted(r.duplicate for r in results) == [False, True, True]
    assert len({r.positions for r in results}) == 1 and len(results[0].positions) == 1
    assert ledger.committer.conflicts == 0
    assert [e.command_id for e in ledger.store.read_all()].count(change.command_id) == 1
    assert scenario.provider("TS-1").profile["address"] == "No. 9"
    assert_log_sound(ledger)


def test_a_refused_command_does_not_affect_the_others(scenario):
    """Commands that break a rule are refused while deciding, write nothing and hold no one up;
    the others are recorded in one group."""
    for provider_id in ("TS-1", "TS-2", "TS-3", "TS-4"):
        scenario.admit(provider_id, "tangshan")
    gated = GatedStore(scenario.ledger.store)
    ledger = grouped_ledger(scenario, gated, max_wait_ms=50)
    too_long = scenario.command(m.RecordFinding, provider_id="TS-1", article="第十二条（一）", summary="late", deadline_days=45)
    unknown = scenario.command(m.VerifyComplaint, complaint_id="C-none", verdict="true")
    good = [profile_change("TS-1", "No. 1"), complaint("TS-4", "C-1"), profile_change("TS-2", "No. 2")]
    commands = [too_long, good[0], unknown, good[1], good[2]]

    outcomes = in_one_group(ledger, gated, profile_change("TS-3", "plug"), commands, queued=3)

    assert isinstance(outcomes[0], DomainError) and "整改期限一般不超过30日" in str(outcomes[0])
    assert isinstance(outcomes[2], DomainError) and "no complaint 'C-none'" in str(outcomes[2])
    assert all(isinstance(outcomes[i], CommandResult) and outcomes[i].positions for i in (1, 3, 4))
    assert gated.groups == [1, 3]
    assert ledger.committer.conflicts == 0
    for refused in (too_long, unknown):
        assert ledger.store.command_result(refused.command_id) is None
    assert scenario.provider("TS-1").profile["address"] == "No. 1"
    assert scenario.sanctions("TS-1") == []
    assert_log_sound(ledger)


def test_a_value_the_database_refuses_fails_its_command_alone(scenario, backend):
    """PostgreSQL refuses NUL characters in text: its store refuses that batch as it prepares it, in
    the command's own thread, before the batch joins a group; the others are written together, with
    no fallback (SQLite stores the value)."""
    for provider_id in ("TS-1", "TS-2", "TS-3", "TS-4"):
        scenario.admit(provider_id, "tangshan")
    gated = GatedStore(scenario.ledger.store)
    ledger = grouped_ledger(scenario, gated)
    refused = profile_change("TS-2", "No. 2").model_copy(update={"recorded_by": "clerk\x00"})  # not JSON: stored as is
    commands = [profile_change("TS-1", "No. 1"), refused, profile_change("TS-3", "No. 3")]

    outcomes = in_one_group(ledger, gated, profile_change("TS-4", "plug"), commands, queued=2 if backend == "postgres" else 3)

    assert isinstance(outcomes[0], CommandResult) and isinstance(outcomes[2], CommandResult)
    assert ledger.committer.fallbacks == 0
    if backend == "postgres":
        assert gated.groups == [1, 2]
        assert isinstance(outcomes[1], ValueError) and "NUL" in str(outcomes[1])
        assert ledger.store.command_result(commands[1].command_id) is None
    else:
        assert gated.groups == [1, 3]
        assert isinstance(outcomes[1], CommandResult)
    assert scenario.provider("TS-3").profile["address"] == "No. 3"
    assert_log_sound(ledger)


# --- the committer on its own ---------------------------------------------------------------------


def batch(command_id: str, aggregate, version: int, *, gap: bool = False, payload: str = "{}") -> CommandBatch:
    """A batch writing one event to ``aggregate`` at ``version + 1`` (``+ 2`` with a gap: malformed)."""
    event = NewEvent(
        originator_id=aggregate, originator_version=version + (2 if gap else 1), topic="test.Event", state="{}",
        recorded_at=RECORDED_AT, effective_on=None,
    )  # fmt: skip
    return CommandBatch(command_id, "Test", "tester", payload, [event], {aggregate: version})


def submit_behind_a_plug(committer: GroupCommitter, gated: GatedStore, submits: list[CommandBatch], queued: int) -> dict[int, object]:
    """Submit a plug and hold its append; submit ``submits`` from threads of their own until ``queued``
    of them wait behind it; then let everything through. Returns their outcomes (or errors) by index."""
    plugged = threading.Thread(target=committer.submit, args=(batch("plug", uuid4(), 0),))
    plugged.start()
    assert gated.holding.wait(WAIT)
    outcomes: dict[int, object] = {}
    clients = threading.Thread(target=lambda: outcomes.update(run_threads(lambda i: committer.submit(submits[i]), len(submits))))
    clients.start()
    wait_until(lambda: committer.pending == queued)
    gated.release()
    clients.join(WAIT)
    plugged.join(WAIT)
    assert not clients.is_alive() and not plugged.is_alive()
    return outcomes


def test_a_malformed_batch_is_refused_in_its_own_thread_and_never_joins_a_group(store):
    """The store prepares each batch in the thread that submits it: a malformed one gets its error
    there, and the others are written together without it, with no fallback."""
    gated = GatedStore(store)
    committer = GroupCommitter(gated)
    aggregates = [uuid4() for _ in range(3)]
    submits = [batch("good-1", aggregates[0], 0), batch("bad", aggregates[1], 0, gap=True), batch("good-2", aggregates[2], 0)]

    outcomes = submit_behind_a_plug(committer, gated, submits, queued=2)

    assert gated.groups == [1, 2]
    assert committer.fallbacks == 0
    assert isinstance(outcomes[1], ValueError) and "versions must follow on without gaps" in str(outcomes[1])
    assert sorted([outcomes[0].positions, outcomes[2].positions]) == [(2,), (3,)]
    assert store.command_result("bad") is None
    assert sorted(e.command_id for e in store.read_all()) == ["good-1", "good-2", "plug"]


def test_a_batch_the_store_refuses_in_the_groups_transaction_fails_alone(store):
    """append_many refuses the whole group (a command id recorded before for another command); the
    batches are appended again one by one, and only that one gets the refusal."""
    used = uuid4()
    store.append(batch("used", used, 0))
    gated = GatedStore(store)
    committer = GroupCommitter(gated)
    aggregates = [uuid4() for _ in range(2)]
    submits = [batch("good-1", aggregates[0], 0), batch("used", used, 1, payload='{"other": 1}'), batch("good-2", aggregates[1], 0)]

    outcomes = submit_behind_a_plug(committer, gated, submits, queued=3)

    assert gated.groups == [1, 3]
    assert committer.fallbacks == 1
    assert isinstance(outcomes[1], CommandIdReused)
    assert sorted([outcomes[0].positions, outcomes[2].positions]) == [(3,), (4,)]
    assert sorted(e.command_id for e in store.read_all()) == ["good-1", "good-2", "plug", "used"]


@pytest.mark.parametrize("max_batch", [1, 2])
def test_each_queued_thread_is_woken_to_lead_when_leadership_comes_free(store, max_batch):
    """Threads are woken one by one (their batch done, or first in the queue as leadership comes
    free), never all at once. With groups smaller than the queue, every group's end must hand
    leadership on to the next queued thread: a thread left asleep would hang here."""
    committer = GroupCommitter(store, GroupCommitOptions(max_batch=max_batch, max_wait_ms=0.5))
    aggregates = [uuid4() for _ in range(6)]

    def client(i: int) -> list[object]:
        outcomes = []
        for n in range(25):
            with committer.session():
                outcomes.append(committer.submit(batch(f"c{i}-{n}", aggregates[i], n)))
        return outcomes

    threads = {}
    results: dict[int, list[object]] = {}
    for i in range(6):
        threads[i] = threading.Thread(target=lambda i=i: results.update({i: client(i)}), daemon=True)
        threads[i].start()
    for thread in threads.values():
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads.values()), "a thread was never woken"
    assert all(len(results[i]) == 25 and all(not isinstance(o, Exception) for o in results[i]) for i in range(6))
    assert committer.batches == 150 and committer.largest_group <= max_batch
    assert store.max_position() == 150 and verify_store(store).ok


class OperationalError(Exception):
    """Named like the drivers' errors for a database that fails (connection lost, file locked)."""


class FailingStore:
    def __init__(self, store) -> None:
        self._store = store
        self.appended = 0

    def append_many(self, batches, atomic=False):
        raise OperationalError("server closed the connection unexpectedly")

    def append(self, batch):
        self.appended += 1
        return self._store.append(batch)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_database_failure_fails_the_whole_group_without_retrying_each_batch(store):
    failing = FailingStore(store)
    committer = GroupCommitter(failing)
    batches = [batch(f"c{i}", uuid4(), 0) for i in range(3)]
    assert all(isinstance(o, OperationalError) for o in committer._write(batches))
    assert failing.appended == 0 and committer.fallbacks == 0
    with pytest.raises(OperationalError):
        committer.submit(batches[0])
    assert store.max_position() == 0


def test_a_failing_listener_fails_the_recorded_commands_only(store):
    committer = GroupCommitter(store)
    aggregate = uuid4()

    def listener() -> None:
        raise RuntimeError("projection down")

    committer.on_commit = listener
    with pytest.raises(RuntimeError, match="projection down"):
        committer.submit(batch("one", aggregate, 0))
    assert store.command_result("one") is not None  # recorded all the same
    assert isinstance(committer.submit(batch("stale", aggregate, 0)), ConcurrencyConflict)  # no listener: no error


def test_a_listener_may_execute_commands(scenario):
    """A listener run after a group executes a command of its own: written alone, no deadlock."""
    scenario.admit("TS-1", "tangshan")
    ledger = grouped_ledger(scenario)
    follow_up = profile_change("TS-1", "No. 2")
    calls = []

    def listener() -> None:
        calls.append(1)
        if len(calls) == 1:
            assert ledger.execute(follow_up).positions

    ledger.after_commit.append(listener)
    first = run_threads(lambda i: ledger.execute(profile_change("TS-1", "No. 1")), 1)[0]

    assert isinstance(first, CommandResult)
    assert ledger.store.command_result(follow_up.command_id) is not None
    assert scenario.provider("TS-1").profile["address"] == "No. 2"
    assert len(calls) == 2
    assert_log_sound(ledger)


def test_options_are_checked():
    with pytest.raises(ValueError):
        GroupCommitOptions(max_batch=0)
    with pytest.raises(ValueError):
        GroupCommitOptions(max_wait_ms=-1)


def test_bootstrap_turns_group_commit_on_by_default_and_off_from_settings(database_url, monkeypatch):
    from ledger.bootstrap import bootstrap
    from ledger.settings import Settings

    monkeypatch.delenv("LEDGER_GROUP_COMMIT", raising=False)
    monkeypatch.delenv("LEDGER_GROUP_COMMIT_MAX_WAIT_MS", raising=False)
    with bootstrap(Settings(database_url=database_url), projections=False) as app:
        assert app.ledger.committer is not None
        assert app.ledger.committer.options == GroupCommitOptions(max_batch=64, max_wait_ms=0.0)
    monkeypatch.setenv("LEDGER_GROUP_COMMIT_MAX_BATCH", "16")
    monkeypatch.setenv("LEDGER_GROUP_COMMIT_MAX_WAIT_MS", "0.5")
    with bootstrap(Settings(database_url=database_url), projections=False) as app:
        assert app.ledger.committer is not None
        assert app.ledger.committer.options == GroupCommitOptions(max_batch=16, max_wait_ms=0.5)
    monkeypatch.setenv("LEDGER_GROUP_COMMIT", "false")
    with bootstrap(Settings(database_url=database_url), projections=False) as app:
        assert app.ledger.committer is None
