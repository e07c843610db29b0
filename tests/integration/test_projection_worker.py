"""The projection worker: commands do not wait for the read models; writers that need them do."""
from __future__ import annotations

import threading
import time

import pytest

from ledger.application import Ledger
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.projections import ReadModelDB, ReadModels, attach_in_process, read_models
from ledger.projections.providers import ProviderViewsProjection
from ledger.projections.worker import ProjectionLag
from ledger.store import open_store
from tests.integration.scenario import Scenario


@pytest.fixture
def background(ledger: Ledger):
    attached = attach_in_process(ledger, background=True)
    yield attached
    attached.close()


def test_commands_do_not_run_the_projections_and_a_writer_waits_for_its_position(scenario, background, monkeypatch):
    threads: list[str] = []
    catch_up = background.runner.catch_up

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return catch_up(*args, **kwargs)

    monkeypatch.setattr(background.runner, "catch_up", spy)
    scenario.admit("TJ-1", "tianjin")
    result = scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=55)

    background.wait_for(result.positions[-1], timeout=30)
    assert background.worker.position >= result.positions[-1] == scenario.ledger.last_position
    assert threads and set(threads) == {"ledger-projections"}  # never the committing thread
    [row] = background.models.registry("tianjin")
    assert (row["provider_id"], row["status"]) == ("TJ-1", "removed")  # grade C under 60 (天津 第十一条)


def test_the_worker_counts_the_events_it_read_and_the_cpu_it_spent(scenario, background):
    """What ``bench.throughput`` divides to print the worker's CPU an event."""
    worker = background.worker
    assert (worker.events_read, worker.cpu_seconds) == (0, 0.0)
    before = scenario.ledger.store.max_position()  # caught up when the projections were attached
    scenario.admit("TJ-1", "tianjin")
    result = scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=55)
    background.wait_for(result.positions[-1], timeout=30)
    assert worker.events_read == result.positions[-1] - before > 0
    assert worker.cpu_seconds > 0


def test_the_worker_gathers_commits_and_a_writer_waiting_for_its_position_cuts_the_gathering_short(scenario, background, monkeypatch):
    background.worker.gather = 60.0  # a gathering far longer than the wait below
    time.sleep(0.2)  # a gathering begun before (with the default length) is over
    before = background.worker.position
    catch_ups: list[int] = []
    catch_up = background.runner.catch_up
    monkeypatch.setattr(background.runner, "catch_up", lambda *a, **k: catch_ups.append(catch_up(*a, **k)))
    scenario.admit("TJ-1", "tianjin")
    scenario.admit("TJ-2", "tianjin")
    time.sleep(0.3)
    assert catch_ups == []  # the commits signalled the worker: it is gathering them

    started = time.monotonic()
    background.wait_for(scenario.ledger.last_position, timeout=10)
    assert time.monotonic() - started < 10
    assert catch_ups == [scenario.ledger.last_position - before]  # both admissions' events in one catch-up
    assert [r["provider_id"] for r in background.models.registry()] == ["TJ-1", "TJ-2"]


def test_readers_that_do_not_wait_see_what_is_there(scenario, background):
    scenario.admit("TJ-1", "tianjin")
    read_models(background)  # waits for the admission
    background.worker.stop()  # nothing follows the log now
    scenario.admit("TJ-2", "tianjin")

    assert [r["provider_id"] for r in background.models.registry()] == ["TJ-1"]  # no waiting, no TJ-2 yet
    assert [r["provider_id"] for r in read_models(background).registry()] == ["TJ-1", "TJ-2"]  # the writer's view


def test_a_lagging_projection_is_a_clear_timeout_and_the_command_stands(scenario, background, monkeypatch):
    scenario.admit("TJ-1", "tianjin")
    background.wait_for()

    def broken(self, event, tx):
        raise RuntimeError("the read model is broken")

    monkeypatch.setattr(ProviderViewsProjection, "apply", broken)
    result = scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=80)
    assert result.positions  # recorded

    with pytest.raises(ProjectionLag, match=rf"not {result.positions[-1]}, after 0.5 s; last error: the read model is broken"):
        background.wait_for(timeout=0.5)
    monkeypatch.undo()
    background.wait_for(timeout=30)  # once the projection works again, it catches up
    assert [g["period"] for g in background.models.grades("TJ-1")] == ["2024"]


def test_closing_the_ledger_leaves_its_writes_in_the_read_models(database_url, clock):
    from ledger.bootstrap import bootstrap
    from ledger.settings import Settings

    with bootstrap(Settings(database_url=database_url), clock=clock) as app:
        assert app.projections.worker is not None
        Scenario(app.ledger, clock).admit("TJ-1", "tianjin")
        top = app.store.max_position()

    with ReadModelDB(database_url) as db:
        assert [r["provider_id"] for r in ReadModels(db).registry()] == ["TJ-1"]
        with db.transaction(write=False) as tx:
            assert {p for (p,) in tx.fetchall("SELECT position FROM projection_tracking")} == {top}


def test_the_worker_follows_what_another_process_records(scenario, background):
    other = Ledger(open_store(scenario.ledger.store.database_url), clock=scenario.clock, handlers=HANDLERS)  # no read models of its own
    try:
        Scenario(other, scenario.clock).admit("TJ-9", "tianjin")
        background.wait_for(other.last_position, timeout=30)
        assert [r["provider_id"] for r in background.models.registry()] == ["TJ-9"]
    finally:
        other.close()
