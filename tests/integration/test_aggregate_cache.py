"""The aggregate cache: commands do not refold, and a stale entry is caught by the version check."""
from __future__ import annotations

from datetime import date

import pytest

from ledger.aggregates import Complaint, DomainError, Project, Provider
from ledger.application import Ledger
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.store import CommandIdReused, open_store
from tests.integration.scenario import Scenario, credit_code_for
from tests.support.counting_store import CountingStore


@pytest.fixture
def counted(ledger: Ledger) -> Ledger:
    """A second ledger on the same store, counting its reads (its cache starts empty)."""
    return Ledger(CountingStore(ledger.store).as_store(), clock=ledger.clock, handlers=HANDLERS)


def test_a_second_command_on_a_provider_reads_nothing_from_the_store(scenario, counted):
    scenario.admit("TJ-1", "tianjin")
    writer = Scenario(counted, scenario.clock)
    writer.run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    first_reads = counted.store.reads
    writer.run(m.RecordScore, provider_id="TJ-1", year=2025, score=70)

    assert first_reads >= 1
    assert counted.store.reads == first_reads  # the provider and the rulebook came from the cache
    hit, cached = counted.aggregates.take(Provider.create_id("TJ-1"))
    assert hit and cached is not None and cached.version == scenario.provider("TJ-1").version


def test_a_stale_entry_is_a_detected_conflict_and_the_retry_decides_on_fresh_state(scenario, counted):
    """Two writers: ``counted`` caches TJ-1 in the pool; the other ledger withdraws it. The
    cached provider would let a score through; the append's version check refuses the batch and
    the retry, on the provider read from the store, refuses the command (never merged)."""
    scenario.admit("TJ-1", "tianjin")
    writer = Scenario(counted, scenario.clock)
    writer.run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)  # now cached in `counted`
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="moving on")  # the other writer
    version = scenario.provider("TJ-1").version

    with pytest.raises(DomainError, match="had left the pool"):
        writer.run(m.RecordScore, provider_id="TJ-1", year=2025, score=70)  # fmt: skip

    assert counted.store.conflicts == 1
    assert scenario.provider("TJ-1").version == version  # nothing recorded


def test_a_stale_entry_retried_records_on_top_of_the_other_writer(scenario, counted):
    scenario.admit("TJ-1", "tianjin")
    writer = Scenario(counted, scenario.clock)
    writer.run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2025, score=90)

    result = writer.run(
        m.RecordProfileChange, provider_id="TJ-1", field="address", new_value="No. 2", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 1)
    )

    assert counted.store.conflicts == 1
    provider = scenario.provider("TJ-1")
    assert [f["data"]["year"] for f in provider.facts.values() if f["kind"] == "score"] == [2024, 2025]
    assert provider.profile["address"] == "No. 2"
    assert result.positions[-1] == counted.store.max_position()
    assert counted.aggregates.take(provider.id)[1].version == provider.version


def test_a_refused_command_leaves_the_cache_as_recorded(scenario):
    scenario.admit("TJ-1", "tianjin")
    recorded = scenario.provider("TJ-1").version
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="moving on")
    with pytest.raises(DomainError):
        scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    _, cached = scenario.ledger.aggregates.take(Provider.create_id("TJ-1"))
    assert cached is None or (cached.version == recorded + 1 and not cached.pending_events)


def test_a_duplicate_puts_nothing_in_the_cache(scenario):
    scenario.admit("TJ-1", "tianjin")
    score = scenario.command(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    scenario.ledger.execute(score)
    again = scenario.ledger.execute(score)  # decided again on the cached provider, found recorded
    assert again.duplicate and again.events == []
    _, cached = scenario.ledger.aggregates.take(Provider.create_id("TJ-1"))
    assert cached is None or cached.version == scenario.provider("TJ-1").version


def test_a_command_refused_now_but_recorded_before_is_a_duplicate(scenario):
    scenario.admit("TJ-1", "tianjin")
    withdraw = scenario.command(m.WithdrawFromPool, provider_id="TJ-1", reason="moving on")
    first = scenario.ledger.execute(withdraw)
    again = scenario.ledger.execute(withdraw)  # deciding it again would fail: not in the pool
    assert again.duplicate and again.positions == first.positions


def test_cache_is_bounded(database_url, clock):
    ledger = Ledger(open_store(database_url), clock=clock, handlers=HANDLERS, cache_size=2)
    try:
        scenario = Scenario(ledger, clock)
        for i in range(4):
            scenario.run(m.SubmitApplication, provider_id=f"TJ-{i}", jurisdiction="tianjin", name=f"TJ-{i} Ltd", credit_code=credit_code_for(f"TJ-{i}"), kind="云服务商", effective_on=date(2025, 3, 1))
        assert len(ledger.aggregates) == 2
    finally:
        ledger.close()


# -- a command that creates a project or a complaint does not read it first ----------------------


def _register(writer: Scenario, project_id: str, **fields) -> m.Command:
    fields = {"jurisdiction": "tianjin", "enterprise_id": "E-1", "enterprise_name": "E-1 Co", "integrated_provider_id": "TJ-1", **fields}
    return writer.command(m.RegisterProject, project_id=project_id, **fields)


def test_registering_a_project_does_not_read_it_from_the_store(scenario, counted):
    scenario.admit("TJ-1", "tianjin")
    writer = Scenario(counted, scenario.clock)
    counted.execute(_register(writer, "P-new"))
    writer.run(
        m.FileComplaint, complaint_id="C-new", provider_id="TJ-1", complainant_kind="enterprise",
        complainant_name="E", contact="13800000000", subject="service not delivered", enterprise_id="E-1",
    )  # fmt: skip

    assert Project.create_id("P-new") not in counted.store.read_ids
    assert Complaint.create_id("C-new") not in counted.store.read_ids
    assert counted.store.conflicts == 0
    assert scenario.ledger.load(Project, "P-new").version == 1


@pytest.mark.parametrize("provider_id", ["TJ-1", "TJ-GONE"])
def test_registering_a_project_that_exists_is_refused_as_before_by_a_writer_that_had_not_read_it(scenario, counted, provider_id):
    """The other writer presumed the project new: the append finds it (a conflict), the command is
    decided again on the stored project and refused for it (not for the unknown provider either)."""
    scenario.admit("TJ-1", "tianjin")
    scenario.ledger.execute(_register(scenario, "P-1"))
    head = scenario.ledger.store.max_position()
    writer = Scenario(counted, scenario.clock)
    with pytest.raises(DomainError) as refused:
        counted.execute(_register(writer, "P-1", enterprise_id="E-2", integrated_provider_id=provider_id))
    assert str(refused.value) == "project P-1 is already registered"
    assert scenario.ledger.store.max_position() == head  # nothing recorded


def test_filing_a_complaint_that_exists_is_refused_as_before_by_a_writer_that_had_not_read_it(scenario, counted):
    scenario.admit("TJ-1", "tianjin")
    complaint_id = scenario.complaint("TJ-1")
    writer = Scenario(counted, scenario.clock)
    with pytest.raises(DomainError, match=f"^complaint {complaint_id} is already filed$"):
        writer.run(
            m.FileComplaint, complaint_id=complaint_id, provider_id="TJ-1", complainant_kind="public",
            complainant_name="someone", contact="13800000000", subject="another subject",
        )  # fmt: skip
    assert counted.store.conflicts == 1  # the presumption met the stored complaint at the append


def test_a_project_registration_retried_by_a_writer_that_had_not_read_it_is_a_duplicate(scenario, counted):
    scenario.admit("TJ-1", "tianjin")
    writer = Scenario(scenario.ledger, scenario.clock)
    command = _register(writer, "P-1")
    first = scenario.ledger.execute(command)

    again = counted.execute(command)
    assert again.duplicate and again.positions == first.positions
    with pytest.raises(CommandIdReused):
        counted.execute(command.model_copy(update={"enterprise_name": "another name"}))


def test_the_jurisdiction_of_a_kept_aggregate_is_read_from_memory_and_of_another_from_the_store(scenario, counted):
    """The API checks a regulator's jurisdiction before every command: the aggregate a command
    names is usually kept in memory, its jurisdiction fixed since its first event; it is not
    taken out of the cache for that (the command then takes it)."""
    from ledger.application import NotFound

    scenario.admit("TJ-1", "tianjin")
    scenario.admit("TS-1", "tangshan")
    assert counted.jurisdiction_of(Provider, "TJ-1") == "tianjin"  # not kept: read
    assert counted.store.reads == 1
    Scenario(counted, scenario.clock).run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    reads = counted.store.reads
    assert [counted.jurisdiction_of(Provider, "TJ-1") for _ in range(3)] == ["tianjin"] * 3
    assert counted.store.reads == reads  # kept since the score: nothing read
    hit, kept = counted.aggregates.take(Provider.create_id("TJ-1"))
    assert hit and kept is not None  # still there for the next command
    assert counted.jurisdiction_of(Provider, "TS-1") == "tangshan"
    with pytest.raises(NotFound):
        counted.jurisdiction_of(Provider, "NO-SUCH")
    reads = counted.store.reads
    hit, taken = counted.aggregates.take(Provider.create_id("TS-1"))  # as a command on it would
    assert not hit and taken is None  # not kept: it was read, not put in the cache
    assert counted.jurisdiction_of(Provider, "TS-1") == "tangshan"
    assert counted.jurisdiction_of(Provider, "TJ-1") == "tianjin"
    assert counted.store.reads == reads  # known since the first check: it never changes


def test_commands_take_turns_on_an_aggregate_and_a_turn_waited_for_too_long_is_given_up():
    """``claim``: a second claim on an aggregate waits until the first is let go; one that waits
    longer than its timeout goes on unclaimed (False) — two commands claiming two aggregates in
    opposite orders cannot block each other for longer than that."""
    import threading
    import time
    from uuid import uuid4

    from ledger.aggregate_cache import AggregateCache

    cache, x, y = AggregateCache(), uuid4(), uuid4()
    assert cache.claim(x) and cache.claim(y)  # different aggregates: no wait
    turns: list[tuple[str, float]] = []
    started = time.monotonic()

    def second() -> None:
        turns.append(("claimed" if cache.claim(x, timeout=10) else "gave up", time.monotonic() - started))

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.2)
    assert turns == []  # still waiting for its turn
    cache.let_go([x])
    waiter.join(10)
    assert [t for t, _ in turns] == ["claimed"] and turns[0][1] >= 0.2
    assert (cache.waits, cache.unclaimed) == (1, 0)

    before = time.monotonic()
    assert cache.claim(y, timeout=0.1) is False  # y is still claimed: given up after the timeout
    assert 0.1 <= time.monotonic() - before < 5
    assert (cache.waits, cache.unclaimed) == (2, 1)
    cache.let_go([x, y])
    assert cache.claim(x, timeout=0) and cache.claim(y, timeout=0)


def test_a_failed_or_conflicting_command_lets_go_of_its_turn(scenario, counted):
    """Every attempt lets go of what it claimed, whether it recorded, was refused or conflicted:
    the next command on the provider does not wait for a turn nobody holds."""
    scenario.admit("TJ-1", "tianjin")
    writer = Scenario(counted, scenario.clock)
    writer.run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    with pytest.raises(DomainError):
        writer.run(m.RecordProfileChange, provider_id="NO-SUCH", field="address", new_value="x", changed_on=date(2025, 1, 1), reported_on=date(2025, 1, 1))
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2025, score=90)  # another writer: counted's copy is stale
    writer.run(m.RecordProfileChange, provider_id="TJ-1", field="address", new_value="No. 3", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 1))
    assert counted.store.conflicts == 1  # decided again on the store's state
    provider_id = Provider.create_id("TJ-1")
    assert counted.aggregates.claim(provider_id, timeout=0) and counted.aggregates.waits == 0
