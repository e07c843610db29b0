"""An import (``Ledger.execute_all``) at scale, on SQLite and PostgreSQL: each command is decided on
its own aggregates, not on a pass over every aggregate of the file so far; the aggregates it creates
are not read from the store; the command ids and the personal data are read and written a few
statements at a time, not one round trip each. Refusals stay the ones a single command gets."""
from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.aggregates import Project
from ledger.aggregates.base import DomainError, LedgerAggregate
from ledger.application import BatchError, Ledger
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.personal import PersonalDataVault
from ledger.store import EventStore, open_store
from tests.integration.conftest import START
from tests.integration.scenario import Scenario
from tests.integration.store_helpers import batch, event
from tests.support.counting_store import CountingStore

PROJECTS = 120


def register(project_id: str, command_id: str | None = None, provider_id: str = "TJ-1") -> m.RegisterProject:
    return m.RegisterProject(
        command_id=command_id or f"register-{project_id}", project_id=project_id, jurisdiction="tianjin",
        enterprise_id=f"E-{project_id}", enterprise_name=f"{project_id} 企业", integrated_provider_id=provider_id,
    )  # fmt: skip


def complaint(complaint_id: str, contact: str) -> m.FileComplaint:
    return m.FileComplaint(
        command_id=f"file-{complaint_id}", complaint_id=complaint_id, provider_id="TJ-1", complainant_kind="enterprise",
        enterprise_id="E-1", complainant_name="李四", contact=contact, subject="服务未按合同交付",
    )  # fmt: skip


def test_an_import_takes_each_command_s_events_from_its_own_aggregates(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit of work of an import holds every aggregate of the file; going through all of them
    for each command made an import quadratic (20,000 commands: 85 % of its time)."""
    scenario.admit("TJ-1", "tianjin")
    calls = 0
    collect_events = LedgerAggregate.collect_events

    def counted(self: LedgerAggregate) -> Any:
        nonlocal calls
        calls += 1
        return collect_events(self)

    monkeypatch.setattr(LedgerAggregate, "collect_events", counted)
    results = scenario.ledger.execute_all([register(f"PJ-{i}") for i in range(PROJECTS)])
    monkeypatch.undo()
    # each command looks at its project, its provider and the rulebook: about 3 calls a command
    # (a pass over every aggregate so far: about PROJECTS² / 2 = 7,200)
    assert calls <= 4 * PROJECTS
    assert [r.duplicate for r in results] == [False] * PROJECTS
    assert [len(r.positions) for r in results] == [1] * PROJECTS  # each command's own event, none of another's
    assert all(scenario.ledger.find(Project, f"PJ-{i}") is not None for i in (0, PROJECTS // 2, PROJECTS - 1))


def test_an_import_keeps_the_order_in_which_it_first_looked_at_aggregates(scenario: Scenario) -> None:
    """A command's events come in the order the import first looked at their aggregates, as they
    did when every aggregate was gone through: the rating below changes the project, then notes
    the fact on the provider, but the import looked at the provider first (the profile change)."""
    scenario.admit("TJ-1", "tianjin")
    ledger = scenario.ledger
    results = ledger.execute_all([
        m.RecordProfileChange(command_id="profile", provider_id="TJ-1", field="address", new_value="某地",
                              changed_on=START, reported_on=START, major=False),
        register("PJ-1"),
        register("PJ-2"),  # looked at by the import, not by the rating
        m.RecordDiagnosis(command_id="diagnose", project_id="PJ-1", level_before=1),
        m.SubmitFiling(command_id="file", project_id="PJ-1", content="plan", cost="100000"),
        m.DecideFiling(command_id="approve", project_id="PJ-1", approved=True),
        m.StartImplementation(command_id="start", project_id="PJ-1"),
        m.RecordAcceptance(command_id="accept", project_id="PJ-1", passed=True),
        m.RateSatisfaction(command_id="rate", project_id="PJ-1", provider_id="TJ-1", rating="不满意"),
    ])  # fmt: skip
    rating = results[-1].positions
    events = list(ledger.store.read_all(after=rating[0] - 1, limit=len(rating)))
    provider = scenario.provider("TJ-1").id
    assert [e.originator_id for e in events] == [provider, Project.create_id("PJ-1")]


def test_an_import_reads_none_of_the_aggregates_it_creates(database_url: str) -> None:
    counting = CountingStore(open_store(database_url))
    ledger = Ledger(counting.as_store(), clock=ManualClock(START), handlers=HANDLERS)
    try:
        Scenario(ledger, ledger.clock).admit("TJ-1", "tianjin")  # type: ignore[arg-type]
        before = len(counting.read_ids)
        ledger.execute_all([register(f"PJ-{i}") for i in range(PROJECTS)])
        created = {Project.create_id(f"PJ-{i}") for i in range(PROJECTS)}
        assert not created & set(counting.read_ids[before:])
        assert all(ledger.find(Project, f"PJ-{i}") is not None for i in (0, PROJECTS - 1))
    finally:
        ledger.close()


def test_an_import_creating_what_exists_gets_the_refusal_of_a_single_command(scenario: Scenario) -> None:
    """The import presumes an id it does not know is new; an aggregate that exists after all makes
    the append conflict, and the file is decided again on what the store has."""
    scenario.admit("TJ-1", "tianjin")
    ledger = scenario.ledger
    ledger.execute(register("PJ-1"))
    ledger.aggregates.clear()  # as in another process: nothing known in memory
    with pytest.raises(DomainError) as single:
        ledger.execute(register("PJ-1", command_id="again"))
    ledger.aggregates.clear()
    head = ledger.store.max_position()
    with pytest.raises(BatchError) as raised:
        ledger.execute_all([register("PJ-2"), register("PJ-1", command_id="again")])
    assert raised.value.index == 1 and str(raised.value.error) == str(single.value) == "project PJ-1 is already registered"
    assert ledger.store.max_position() == head and ledger.find(Project, "PJ-2") is None


def test_an_import_refused_beside_a_presumption_gets_the_refusal_of_a_single_command(scenario: Scenario) -> None:
    """A command refused while the ids it creates were presumed new is decided again without the
    presumption: the refusal is the one the store's state gives."""
    scenario.admit("TJ-1", "tianjin")
    ledger = scenario.ledger
    with pytest.raises(DomainError) as single:
        ledger.execute(register("PJ-9", provider_id="TJ-404"))
    with pytest.raises(BatchError) as raised:
        ledger.execute_all([register("PJ-1"), register("PJ-9", provider_id="TJ-404")])
    assert raised.value.index == 1 and str(raised.value.error) == str(single.value)
    assert ledger.find(Project, "PJ-1") is None


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_command_results_reads_many_ids_at_once(store: EventStore, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from uuid import uuid4

    monkeypatch.setattr("ledger.store.postgres.IDS_CHUNK", chunk)
    monkeypatch.setattr("ledger.store.sqlite.IN_CHUNK", chunk)
    for command_id in ("a", "b", "c"):
        store.append(batch(command_id, [event(uuid4(), 1), event(uuid4(), 1)]))
    found = store.command_results(["c", "missing", "a", "c"])
    assert found == {"a": store.command_result("a"), "c": store.command_result("c")}
    assert found["c"].positions == (5, 6) and found["c"].duplicate
    assert store.command_results([]) == {}


def test_an_import_reads_its_complainants_keys_once_and_keeps_their_data_with_the_commands(database_url: str) -> None:
    """One lookup of the vault for the whole import (keys and erasures); the values are kept by the
    store in the import's transaction, none by a transaction of the vault's own."""
    ledger = Ledger(open_store(database_url), clock=ManualClock(START), handlers=HANDLERS)
    vault = ledger.personal = PersonalDataVault(database_url)
    try:
        Scenario(ledger, ledger.clock).admit("TJ-1", "tianjin")  # type: ignore[arg-type]
        assert vault.erase("complainant:C-3", "asked before the complaint was imported") is False  # no key yet: erased all the same
        transactions: list[dict[str, bool]] = []
        transaction = vault.db.transaction

        def counted(**kwargs: bool):
            transactions.append(kwargs)
            return transaction(**kwargs)

        vault.db.transaction = counted  # type: ignore[method-assign]
        filings = [complaint(f"C-{i}", f"1391234567{i}") for i in range(5)]
        results = ledger.execute_all([*filings, filings[1]])  # the retry of C-1 is a duplicate: kept once
        assert [r.duplicate for r in results] == [False] * 5 + [True]
        assert transactions == [{"write": False}]  # the lookup: nothing is written by the vault
        for i in (0, 1, 2, 4):
            revealed = vault.reveal(f"complaint:C-{i}")
            assert revealed is not None and revealed.values == {"complainant_name": "李四", "contact": f"1391234567{i}"}
        assert vault.reveal("complaint:C-3") is None  # erased people stay erased
    finally:
        ledger.close()


def test_an_import_in_several_calls_of_the_append_is_still_one_transaction(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL sends more than ``APPEND_CHUNK`` batches as a call per chunk within one transaction:
    each call sees what the calls before it wrote (versions, command ids, the chain), and a refusal
    in the last chunk leaves nothing of the first ones."""
    from uuid import uuid4

    from ledger.audit import verify_store
    from ledger.store import CommandBatch, CommandIdReused, ConcurrencyConflict

    monkeypatch.setattr("ledger.store.postgres.APPEND_CHUNK", 2)
    a, b = uuid4(), uuid4()
    results = store.append_many([
        batch("one", [event(a, 1)]), batch("two", [event(a, 2), event(b, 1)]), batch("three", [event(b, 2)]),
        batch("one", [event(a, 1)]),  # the same command again, two calls after the first: a duplicate
        batch("four", [event(a, 3)]),
    ], atomic=True)  # fmt: skip
    assert [r.positions for r in results] == [(1,), (2, 3), (4,), (1,), (5,)]  # type: ignore[union-attr]
    assert [r.duplicate for r in results] == [False, False, False, True, False]  # type: ignore[union-attr]
    assert verify_store(store).ok and verify_store(store).checked == 5
    with pytest.raises(ConcurrencyConflict):  # b is at version 2: the last chunk's batch expected it new
        store.append_many([batch("five", [event(a, 4)]), batch("six", [event(a, 5)]), batch("seven", [event(b, 1)])], atomic=True)
    with pytest.raises(CommandIdReused):
        reused = CommandBatch("two", "TestCommand", "tester", json.dumps({"command_id": "two", "other": 1}), [event(uuid4(), 1)])
        store.append_many([batch("five", [event(a, 4)]), batch("six", [event(a, 5)]), reused], atomic=True)
    assert store.max_position() == 5 and store.command_result("five") is None
    grouped = store.append_many([batch("five", [event(a, 4)]), batch("six", [event(b, 1)]), batch("seven", [event(a, 5)])])
    assert isinstance(grouped[1], ConcurrencyConflict) and [r.positions for r in (grouped[0], grouped[2])] == [(6,), (7,)]  # type: ignore[union-attr]
