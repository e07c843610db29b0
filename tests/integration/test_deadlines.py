"""The scheduler's sweep: one RecordPassedDeadlines per provider with something due."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.aggregates import Complaint, DomainError, Provider
from ledger.commands import models as m
from ledger.deadlines import due, sweep
from tests.integration.test_commands import race


def test_one_command_per_provider_with_a_deadline_passed_and_none_for_the_others(scenario):
    for provider_id in ("TS-1", "TS-2", "TS-3"):
        scenario.admit(provider_id, "tangshan")
    scenario.finding("TS-1", "第十二条（三）", deadline_days=10)
    scenario.finding("TS-2", "第十二条（三）", deadline_days=12)
    deadline = scenario.today + timedelta(days=10)
    complaint_id = scenario.complaint("TS-3", "public")
    scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)

    scenario.on(deadline)  # on the deadline day nothing has passed yet
    assert due(scenario.ledger, deadline) == {}
    assert sweep(scenario.ledger, deadline).results == {}

    scenario.on(deadline + timedelta(days=1))  # TS-1's order and TS-3's answer are due, TS-2's order not yet
    assert due(scenario.ledger, scenario.today) == {"TS-1": [], "TS-3": [complaint_id]}
    result = sweep(scenario.ledger)
    assert sorted(result.results) == ["TS-1", "TS-3"]
    assert result.deadlines == 2 and result.sanctions == 0  # overdue is not refused (唐山 第十三条（一）)
    store = scenario.ledger.store
    for provider_id, outcome in result.results.items():
        recorded = store.read_all(after=outcome.positions[0] - 1, limit=len(outcome.positions))
        touched = {e.originator_id for e in recorded}
        mine = {Provider.create_id(provider_id)} | ({Complaint.create_id(complaint_id)} if provider_id == "TS-3" else set())
        assert touched <= mine, provider_id
    assert sweep(scenario.ledger).results == {}  # a second sweep finds nothing left to record


def test_a_sweep_does_not_conflict_with_a_write_to_another_provider(scenario):
    """Both decide on the same state; the finding on TS-2 is appended first, then TS-1's deadlines."""
    scenario.admit("TS-1", "tangshan")
    scenario.admit("TS-2", "tangshan")
    scenario.finding("TS-1", "第十二条（三）", deadline_days=10)
    scenario.on(scenario.today + timedelta(days=11))
    deadlines = scenario.command(m.RecordPassedDeadlines, provider_id="TS-1", as_of=scenario.today)
    finding = scenario.command(m.RecordFinding, provider_id="TS-2", article="第十二条（三）", summary="late report", deadline_days=10)
    outcomes, conflicted = race(scenario.ledger, {"finding": finding, "deadlines": deadlines})
    assert conflicted == []
    assert "provider.rectification-overdue.v1" in outcomes["deadlines"].events


def test_a_command_names_only_complaints_against_its_provider(scenario):
    scenario.admit("TS-1", "tangshan")
    scenario.admit("TS-2", "tangshan")
    complaint_id = scenario.complaint("TS-2", "public")
    with pytest.raises(DomainError, match=f"complaint {complaint_id} is against TS-2, not TS-1"):
        scenario.run(m.RecordPassedDeadlines, provider_id="TS-1", complaint_ids=[complaint_id])


def test_the_read_models_find_what_is_due_as_the_aggregates_do(scenario, projected):
    """``ReadModels.deadlines_due`` (what the CLI's sweep reads) equals ``due`` (every aggregate
    folded) the day before, on and after each deadline, and after the sweep recorded them."""
    for provider_id in ("TS-1", "TS-2", "TS-3", "TS-4"):
        scenario.admit(provider_id, "tangshan")
    scenario.finding("TS-1", "第十二条（三）", deadline_days=10)
    scenario.finding("TS-2", "第十二条（三）", deadline_days=12)
    scenario.finding("TS-4", "第十二条（三）", deadline_days=10)
    scenario.run(m.WithdrawFromPool, provider_id="TS-4", reason="moving on")  # out of the pool: left alone
    deadline = scenario.today + timedelta(days=10)
    complaints = [scenario.complaint("TS-3", "public") for _ in range(3)]
    for complaint_id in complaints:
        scenario.run(m.RequestAnswer, complaint_id=complaint_id, deadline=deadline)
    scenario.run(m.RecordAnswer, complaint_id=complaints[1], summary="answered in time")

    def both(as_of):
        projected.wait_for()
        found = projected.models.deadlines_due(as_of)
        assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in due(scenario.ledger, as_of).items()}
        return found

    assert both(deadline) == {}
    assert both(deadline + timedelta(days=1)) == {"TS-1": [], "TS-3": sorted([complaints[0], complaints[2]])}
    assert both(deadline + timedelta(days=3)) == {"TS-1": [], "TS-2": [], "TS-3": sorted([complaints[0], complaints[2]])}
    scenario.on(deadline + timedelta(days=3))
    sweep(scenario.ledger)
    assert both(deadline + timedelta(days=3)) == {}


def test_deadline_read_models_added_to_a_ledger_with_events_are_marked_until_a_replay(scenario, database_url, monkeypatch):
    from ledger.projections import ReadModelDB, ReadModels
    from ledger.projections import schema as schema_module
    from ledger.projections.replay import replay

    scenario.admit("TS-1", "tangshan")
    db = ReadModelDB(database_url)
    try:
        without = {k: v for k, v in schema_module.TABLES.items() if k != "answer_deadlines"}
        monkeypatch.setattr(schema_module, "TABLES", without)  # an older version, without that read model
        monkeypatch.setattr(schema_module, "VIEWS", {k: v for k, v in schema_module.VIEWS.items() if v != "answer_deadlines"})
        from ledger.projections.runner import ProjectionRunner, store_source

        ProjectionRunner(db, store_source(scenario.ledger.store)).catch_up()
        monkeypatch.undo()
        models = ReadModels(ReadModelDB(database_url))  # the newer version opens the same ledger
        ProjectionRunner(models.db, store_source(scenario.ledger.store))
        assert models.incomplete() == ["answer_deadlines"]
        replay(scenario.ledger.store, models.db, show_progress=False)
        assert models.incomplete() == []
        models.db.close()
    finally:
        db.close()


def test_the_demo_swept_from_the_read_models_records_the_ledger_it_records_from_the_aggregates(database_url, tmp_path):
    """``ledger demo`` takes what each of its deadline sweeps finds due from the read models, as
    ``ledger deadlines`` does, instead of folding every provider and complaint each time (1.7 s of
    a 12.5 s demo): the ledger it records is the same, event for event and command for command
    (the heads of both hash chains; on SQLite and PostgreSQL against SQLite from the aggregates)."""
    from ledger.audit import verify_store
    from ledger.bootstrap import bootstrap
    from ledger.cli import due_from_read_models
    from ledger.clock import ManualClock
    from ledger.demo import demo_plan, run_demo
    from ledger.settings import Settings

    plan = demo_plan(providers=60)  # its sweeps record answer and rectification deadlines both
    recorded = []
    for from_read_models in (True, False):
        url = database_url if from_read_models else f"sqlite:///{tmp_path / 'aggregates.db'}"
        with bootstrap(Settings(database_url=url), clock=ManualClock(plan[0][0])) as app:
            due = due_from_read_models(app)
            assert due is not None
            summary = run_demo(app.ledger, plan, due=due if from_read_models else None)
            chain = verify_store(app.store)
            commands = [c.hash for c in app.store.read_commands()]
        recorded.append((chain.ok, chain.head_position, chain.head_hash, len(commands), commands[-1], summary.by_command))
    assert recorded[0] == recorded[1]
    assert recorded[0][5]["RecordPassedDeadlines"] > 0  # the sweeps found deadlines passed and recorded them


def test_an_order_derived_without_a_period_falls_due_once_the_regulator_sets_one(scenario):
    """柳州 第十二条（四）: the bureau set no period for derived orders, so the order is not in the read
    model the sweep reads until the regulator sets its period (30 days from 03-01: due 03-31); it is
    due on 04-01, not on 03-31, and 第十四条（四） gray-lists from then."""
    scenario.admit("LZ-1", "liuzhou")
    scenario.project("LZ-1", "E-1", level_after=1)
    [order] = scenario.sanctions("LZ-1")
    assert order["deadline"] is None
    scenario.on(scenario.today + timedelta(days=4))
    assert due(scenario.ledger, scenario.today + timedelta(days=365)) == {}
    scenario.run(m.SetRectificationPeriod, provider_id="LZ-1", sanction_ref=order["ref"], deadline_days=30)
    deadline = scenario.provider("LZ-1").sanctions[order["ref"]]["deadline"]
    assert deadline == order["effective_on"] + timedelta(days=30)
    assert due(scenario.ledger, deadline) == {}
    assert due(scenario.ledger, deadline + timedelta(days=1)) == {"LZ-1": []}
    scenario.on(deadline + timedelta(days=1))
    assert sorted(sweep(scenario.ledger).results) == ["LZ-1"]
    gray = scenario.sanctions("LZ-1")[-1]
    assert (gray["sanction"], gray["citation"]["article"], gray["effective_on"]) == ("gray_listing", "第十四条（四）", deadline + timedelta(days=1))
