"""The registry as of a window from the read models (rm_registry_history, rm_registry_out_of_order)
equals the registry folded from every provider's events, on every window the log distinguishes:
each instant recorded (and the microsecond before it), each business day, each effective date
(and the day before it), and both axes at once."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.commands import models as m
from ledger.projections import history
from ledger.projections.history import registry_as_of
from ledger.projections.providers import ProviderViewsProjection
from tests.integration.projection_support import mixed_scenario


def _backdated_after_later_facts(scenario) -> date:
    """XX-9: admitted on day 0, a finding effective day 10, then (recorded on day 20) a rating
    back-dated to day 5 — a window effective on days 5..9 holds the rating and leaves out the
    finding. Returns day 0."""
    start = scenario.today
    scenario.admit("XX-9", "xinxiang")
    scenario.on(start + timedelta(days=10))
    scenario.finding("XX-9", "第十五条（三）")
    scenario.on(start + timedelta(days=20))
    scenario.run(
        m.RecordStarRating, provider_id="XX-9", rating_round="2025-R9", stars=3, basis={"enterprises": 4},
        effective_on=start + timedelta(days=5),
    )  # fmt: skip
    return start


def _removed_back_dated(scenario, start: date) -> None:
    """TJ-8 (the pattern of test_history): admitted on day 0, a 2024 score on day 25, then on day 40
    three complaints verified back-dated to days 21..23, which derive its removal on day 23."""
    scenario.admit("TJ-8", "tianjin")
    scenario.on(start + timedelta(days=25))
    scenario.run(m.RecordScore, provider_id="TJ-8", year=2024, score=85)
    scenario.on(start + timedelta(days=40))
    for day in (21, 22, 23):
        scenario.verified_complaint("TJ-8", on=start + timedelta(days=day))
    assert scenario.provider("TJ-8").status == "removed"


@pytest.fixture
def windows(scenario, projected):
    mixed_scenario(scenario)
    start = _backdated_after_later_facts(scenario)
    _removed_back_dated(scenario, start)
    projected.models  # noqa: B018  (caught up after every commit)
    events = list(scenario.ledger.store.read_all())
    instants = sorted({e.recorded_at for e in events})
    known = sorted({*instants, *(t - timedelta(microseconds=1) for t in instants)})
    days = sorted({t.date() for t in instants} | {t.date() - timedelta(days=1) for t in instants})
    effective = sorted({e.effective_on for e in events if e.effective_on} | {e.effective_on - timedelta(days=1) for e in events if e.effective_on})
    return known, days, effective, start


def _both(scenario, models, **window):
    return registry_as_of(scenario.ledger, models=models, **window), registry_as_of(scenario.ledger, **window)


def test_every_window_reads_what_the_fold_finds(scenario, projected, windows, monkeypatch):
    known, days, effective, start = windows
    folded: list[str] = []
    fold = history.fold_as_of

    def counting(events, known_at=None, effective_at=None):
        out = fold(events, known_at, effective_at)
        folded.append(out.provider.provider_id if out.provider else "")
        return out

    monkeypatch.setattr(history, "fold_as_of", counting)
    models = projected.models
    checked, ever_folded = 0, set()
    for window in (
        *({"known_at": t} for t in known),
        *({"known_at": d} for d in days),
        *({"effective_at": d} for d in effective),
        *({"known_at": k, "effective_at": d} for k in days for d in effective),
        *({"known_at": d, "effective_at": d, "jurisdiction": "xinxiang"} for d in days),
        *({"effective_at": d, "jurisdiction": "tianjin"} for d in effective),
    ):
        folded.clear()
        from_models = registry_as_of(scenario.ledger, models=models, **window)
        folds, folded_ids = len(folded), list(folded)
        folded.clear()
        assert from_models == registry_as_of(scenario.ledger, **window), window
        assert folds <= 1, (window, folds)  # no window has two providers' events out of order
        ever_folded |= set(folded_ids)
        checked += 1
    assert checked > 150
    # XX-9's rating back-dated before its finding; TJ-8's complaints before its 2024 score
    assert ever_folded == {"XX-9", "TJ-8"}
    # the window that needs the fold, and one that does not
    folded.clear()
    lines = {r["provider_id"]: r for r in registry_as_of(scenario.ledger, models=models, effective_at=start + timedelta(days=7))}
    assert folded == ["XX-9"] and lines["XX-9"]["standing"] == "in_pool"
    folded.clear()
    lines = {r["provider_id"]: r for r in registry_as_of(scenario.ledger, models=models, effective_at=start + timedelta(days=10))}
    assert folded == [] and lines["XX-9"]["standing"] != "in_pool"
    folded.clear()  # a provider of another jurisdiction is not folded
    assert "XX-9" not in {r["provider_id"] for r in registry_as_of(scenario.ledger, models=models, effective_at=start + timedelta(days=7), jurisdiction="tianjin")}
    assert folded == []


def test_a_row_each_time_a_line_changes(scenario, projected, raw_db):
    scenario.admit("TJ-7", "tianjin")
    scenario.on(date(2025, 3, 5))
    scenario.run(m.RecordScore, provider_id="TJ-7", year=2024, score=85)  # the line stays as it was
    scenario.finding("TJ-7", "第十二条（五）")
    projected.models  # noqa: B018
    rows = raw_db.execute("SELECT position, status, standing FROM rm_registry_history WHERE provider_id = 'TJ-7' ORDER BY position")
    timeline = raw_db.execute("SELECT position, event_name FROM rm_timeline WHERE provider_id = 'TJ-7' ORDER BY position")
    changing = ("provider.applied.v1", "provider.public-notice-opened.v1", "provider.admitted.v1", "provider.sanction-imposed.v1")
    assert [r[0] for r in rows] == [p for p, name in timeline if name in changing]  # not the notice's close, the score, the finding
    assert [(r[1], r[2]) for r in rows] == [("applied", "applied"), ("under_notice", "under_notice"), ("in_pool", "in_pool"), ("removed", "removed")]
    assert raw_db.execute("SELECT count(*) FROM rm_registry_out_of_order WHERE provider_id = 'TJ-7'") == [(0,)]


def test_on_a_ledger_upgraded_the_history_is_read_only_once_a_replay_filled_it(scenario, database_url, monkeypatch):
    """A version without these read models projected the ledger; the newer one opens it: the
    registry as of a window folds every provider until ``ledger replay``, then reads the history."""
    from ledger.projections import ReadModelDB, ReadModels
    from ledger.projections import schema as schema_module
    from ledger.projections.replay import replay
    from ledger.projections.runner import ProjectionRunner, store_source

    mixed_scenario(scenario)
    start = _backdated_after_later_facts(scenario)
    new = ("registry_history", "registry_out_of_order")
    older = ReadModelDB(database_url)
    try:
        monkeypatch.setattr(schema_module, "TABLES", {k: v for k, v in schema_module.TABLES.items() if k not in new})
        monkeypatch.setattr(schema_module, "VIEWS", {k: v for k, v in schema_module.VIEWS.items() if v not in new})
        monkeypatch.setattr(schema_module, "APPEND_ONLY_KEYS", {k: v for k, v in schema_module.APPEND_ONLY_KEYS.items() if k not in new})
        monkeypatch.setattr(ProviderViewsProjection, "tables", tuple(t for t in ProviderViewsProjection.tables if t not in new))
        monkeypatch.setattr(ProviderViewsProjection, "_registry_past", staticmethod(lambda entry, event, tx: None))
        ProjectionRunner(older, store_source(scenario.ledger.store)).catch_up()
        monkeypatch.undo()
    finally:
        older.close()
    models = ReadModels(ReadModelDB(database_url))  # the newer version opens the same ledger
    try:
        ProjectionRunner(models.db, store_source(scenario.ledger.store)).catch_up()
        assert models.incomplete() == list(new)
        read = models.registry_as_of
        calls: list[tuple] = []
        monkeypatch.setattr(models, "registry_as_of", lambda *args: calls.append(args) or read(*args))
        windows = [{"effective_at": start + timedelta(days=day)} for day in (4, 5, 7, 10)] + [{"known_at": start}]
        folded = [registry_as_of(scenario.ledger, **w) for w in windows]
        assert [registry_as_of(scenario.ledger, models=models, **w) for w in windows] == folded
        assert calls == []  # every provider folded
        replay(scenario.ledger.store, models.db, show_progress=False)
        assert models.incomplete() == []
        assert [registry_as_of(scenario.ledger, models=models, **w) for w in windows] == folded
        assert len(calls) == len(windows)
    finally:
        models.db.close()
