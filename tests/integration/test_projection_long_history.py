"""Long provider histories in the read models: profile changes in a table of their own, the
snapshot not growing with them, and in-memory providers never used past another projector's writes."""
from __future__ import annotations

import json
from datetime import date

from ledger import wire
from ledger.aggregates import Provider
from ledger.commands import models as m
from ledger.projections import ProjectionRunner, ReadModelDB, ReadModels, store_source
from ledger.projections.db import dumps, loads
from ledger.projections.providers import ProviderViewsProjection
from ledger.projections.timeline import TimelineProjection
from ledger.standing import standing


def assert_same_standing(scenario, models) -> None:
    """The read model's standing is the aggregate's (as JSON: late reports carry dates)."""
    expected = loads(dumps(standing(scenario.ledger.load(Provider, "TS-1"))))
    got = models.provider_standing("TS-1")
    assert {k: got[k] for k in expected} == expected


def change(scenario, value: str, *, changed_on: date, reported_on: date):
    return scenario.run(
        m.RecordProfileChange, provider_id="TS-1", field="address", new_value=value, changed_on=changed_on, reported_on=reported_on
    )


def test_profile_changes_are_rows_and_only_late_ones_stay_in_the_snapshot(scenario, models):
    scenario.admit("TS-1", "tangshan")
    on_time = [change(scenario, f"No. {i}", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 1)) for i in range(5)]
    late = change(scenario, "No. late", changed_on=date(2025, 1, 1), reported_on=date(2025, 2, 15))

    with models.db.transaction(write=False) as tx:
        rows = tx.dicts("SELECT * FROM rm_profile_changes WHERE provider_id = ? ORDER BY position", ("TS-1",))
        [(snapshot,)] = tx.fetchall(f"SELECT snapshot FROM {tx.table('provider_state', 1)} WHERE provider_id = ?", ("TS-1",))
    assert [r["position"] for r in rows] == [r.positions[0] for r in (*on_time, late)]
    assert [r["new_value"] for r in rows] == [f'"No. {i}"' for i in range(5)] + ['"No. late"']
    assert [r["days_late"] for r in rows] == [0] * 5 + [45]
    assert "No. 3" not in snapshot and "No. late" in snapshot
    [reported] = models.provider_standing("TS-1")["late_profile_reports"]
    assert reported["new"] == "No. late"
    assert_same_standing(scenario, models)


def test_a_projector_rereads_a_provider_another_projector_moved(scenario, database_url):
    """Two runners (two processes) take turns: each must fold on what the other wrote,
    not on the provider it kept in memory."""
    scenario.admit("TS-1", "tangshan")
    for i in range(6):
        change(scenario, f"No. {i}", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 1) if i % 2 else date(2025, 2, 20))
    scenario.finding("TS-1", "第十二条（一）")
    events = list(scenario.ledger.store.read_all())
    dbs = [ReadModelDB(database_url), ReadModelDB(database_url)]
    try:
        runners = [ProjectionRunner(db, store_source(scenario.ledger.store), [ProviderViewsProjection(), TimelineProjection()]) for db in dbs]
        done = 0
        turn = 0
        while done < len(events):
            step = 2 + turn % 3
            runners[turn % 2].feed(events[done:done + step])
            done += step
            turn += 1
        for runner in runners:
            assert runner.positions() == {"providers": len(events), "timeline": len(events)}
        models = ReadModels(dbs[0])
        assert_same_standing(scenario, models)
        with dbs[0].transaction(write=False) as tx:
            positions = [r[0] for r in tx.fetchall("SELECT position FROM rm_profile_changes ORDER BY position")]
        assert len(positions) == 6
    finally:
        for db in dbs:
            db.close()


def test_the_provider_keeps_only_its_late_profile_reports(scenario):
    """On-time reports are the read model's rows, not the aggregate's state: a provider's state (and
    its snapshots) do not grow with them. A report one day late is late; on the day it is not."""
    scenario.admit("TS-1", "tangshan")
    change(scenario, "on the day", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 1))
    one_day = change(scenario, "a day late", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 2))
    change(scenario, "two days late", changed_on=date(2025, 2, 1), reported_on=date(2025, 2, 3))
    provider = scenario.ledger.load(Provider, "TS-1")
    assert [(c["new"], c["days_late"]) for c in provider.late_profile_reports] == [("a day late", 1), ("two days late", 2)]
    [recorded] = scenario.ledger.store.read_all(after=one_day.positions[0] - 1, limit=1)
    assert provider.late_profile_reports[0]["ref"] == recorded.ref
    assert provider.profile["address"] == "two days late"
    assert '"new":"on the day"' not in wire.encode_snapshot(provider)


def test_a_read_model_written_when_the_provider_kept_every_profile_change_still_folds(scenario, database_url):
    """Before, the aggregate's state was ``profile_changes`` (every change) and the read model's
    snapshot kept the late ones of it: a projector that starts on such a snapshot reads it as the
    late reports it holds."""
    scenario.admit("TS-1", "tangshan")
    change(scenario, "No. late", changed_on=date(2025, 1, 1), reported_on=date(2025, 2, 15))
    db = ReadModelDB(database_url)
    try:
        ProjectionRunner(db, store_source(scenario.ledger.store), [ProviderViewsProjection()]).feed(list(scenario.ledger.store.read_all()))
        with db.transaction() as tx:
            table = tx.table("provider_state", 1)
            [(snapshot,)] = tx.fetchall(f"SELECT snapshot FROM {table} WHERE provider_id = ?", ("TS-1",))
            old = json.loads(snapshot)
            old["state"]["profile_changes"] = old["state"].pop("late_profile_reports")
            assert [c["days_late"] for c in old["state"]["profile_changes"]] == [45]
            tx.execute(f"UPDATE {table} SET snapshot = ? WHERE provider_id = ?", (json.dumps(old), "TS-1"))
        done = scenario.ledger.store.max_position()
        change(scenario, "No. on time", changed_on=date(2025, 3, 1), reported_on=date(2025, 3, 1))
        fresh = ProjectionRunner(db, store_source(scenario.ledger.store), [ProviderViewsProjection()])  # decodes the stored snapshot
        fresh.feed(list(scenario.ledger.store.read_all(after=done)))
        models = ReadModels(db)
        [reported] = models.provider_standing("TS-1")["late_profile_reports"]
        assert reported["new"] == "No. late"
        assert_same_standing(scenario, models)
    finally:
        db.close()
