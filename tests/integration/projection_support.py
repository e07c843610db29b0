"""Fixtures and scenarios shared by the projection tests (import the fixtures into a test module)."""
from __future__ import annotations

from datetime import date
from typing import Any

from ledger.aggregates import Provider
from ledger.application import Ledger
from ledger.commands import models as m
from ledger.projections import InProcessProjections, ReadModels
from ledger.projections.db import dumps, loads
from ledger.standing import standing
from tests.integration.scenario import Noted, Scenario


def assert_caught_up(projected: InProcessProjections) -> None:
    assert projected.last_error is None
    top = projected.ledger.store.max_position()
    assert projected.runner.positions() == {"providers": top, "timeline": top}


def assert_registry_matches_store(ledger: Ledger, models: ReadModels) -> None:
    """Every registry row equals standing() of the aggregate folded from the store."""
    rows = models.registry()
    assert rows, "the registry is empty"
    for row in rows:
        expected = loads(dumps(standing(ledger.load(Provider, row["provider_id"]))))  # as JSON: some values are dates
        got = models.provider_standing(row["provider_id"])
        assert got is not None, row["provider_id"]
        assert {k: got[k] for k in expected} == expected
        assert (row["status"], row["standing"]) == (expected["status"], expected["standing"])


def tangshan_blacklisted_by_two_ratings(scenario: Scenario) -> list[Noted]:
    scenario.admit("TS-1", "tangshan")
    return [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]


def tianjin_removed_by_three_complaints(scenario: Scenario, provider_id: str = "TJ-1") -> list[Noted]:
    scenario.admit(provider_id, "tianjin")
    return [scenario.verified_complaint(provider_id) for _ in range(3)]


def mixed_scenario(scenario: Scenario) -> dict[str, Any]:
    """Several jurisdictions, lists, grades, a rescission and an exit: exercises every read model."""
    out: dict[str, Any] = {}
    out["tianjin"] = tianjin_removed_by_three_complaints(scenario)
    scenario.admit("TJ-2", "tianjin")
    scenario.run(m.RecordScore, provider_id="TJ-2", year=2024, score=81.5)
    out["tangshan"] = tangshan_blacklisted_by_two_ratings(scenario)
    scenario.appeal("TS-1", "第十六条（二）", out["tangshan"][0].source)
    scenario.admit("XX-1", "xinxiang")
    scenario.run(m.RecordStarRating, provider_id="XX-1", rating_round="2025-R1", stars=2, basis={"enterprises": 4})
    scenario.finding("XX-1", "第十五条（三）")
    scenario.admit("LZ-1", "liuzhou")
    scenario.finding("LZ-1", "第十四条（三）")
    scenario.admit("PR-1", "province")
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2024, qualified=False)
    scenario.admit("PR-2", "province")
    scenario.run(m.WithdrawFromPool, provider_id="PR-2", reason="moving on")
    scenario.on(date(2025, 5, 1))
    scenario.verified_complaint("TJ-2")
    scenario.run(m.RequestAnswer, complaint_id=scenario.complaint("XX-1", "public"), deadline=date(2025, 6, 1))
    scenario.run(m.RecordProfileChange, provider_id="PR-1", field="address", new_value="No. 9", changed_on=date(2025, 4, 1), reported_on=date(2025, 4, 20))
    return out
