"""A ledger with a few providers, projects, complaints and a removal, served by the API.

Every test here runs on a real SQLite file and on a real PostgreSQL schema
(``database_url``); the client is FastAPI's TestClient over the app factory.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import Principal, mint_token
from api.settings import ApiSettings
from ledger.bootstrap import App, bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.settings import Settings
from tests.integration.conftest import DECLARED_FROM, START
from tests.integration.scenario import Noted, Scenario

SETTINGS = ApiSettings(jwt_secret="test-secret-of-the-api-suite-0123456789", _env_file=None)

#: who the tests act as
PRINCIPALS = {
    "auditor": Principal(sub="auditor-1", role="auditor"),
    "regulator": Principal(sub="ts-bureau", role="regulator", jurisdiction="tangshan"),
    "other_regulator": Principal(sub="xx-bureau", role="regulator", jurisdiction="xinxiang"),
    "provider": Principal(sub="ts-1-staff", role="provider", provider_id="TS-1"),
    "other_provider": Principal(sub="ts-2-staff", role="provider", provider_id="TS-2"),
    "enterprise": Principal(sub="e-1-staff", role="enterprise", enterprise_id="E-1"),
    "other_enterprise": Principal(sub="e-9-staff", role="enterprise", enterprise_id="E-9"),
}
ROLES = ["public", *PRINCIPALS]


def headers(who: str) -> dict[str, str]:
    if who == "public":
        return {}
    return {"Authorization": f"Bearer {mint_token(PRINCIPALS[who], SETTINGS)}"}


@dataclass
class Seeded:
    """What the seed recorded: ids and refs tests name."""

    ratings: list[Noted]
    blacklisting: str
    project: str  # of E-1 with TS-2, accepted, not yet rated
    complaint: str  # against TS-2, filed by E-1
    appeal: str  # filed by TS-1 against the first rating, not yet decided


def seed(scenario: Scenario) -> Seeded:
    ledger = scenario.ledger
    for jurisdiction, valid_from in DECLARED_FROM.items():
        ledger.execute(m.DeclareRulebookValidity(command_id=f"declare-{jurisdiction}", jurisdiction=jurisdiction, valid_from=valid_from, reference="seed"))
    scenario.admit("TS-1", "tangshan")
    scenario.admit("TS-2", "tangshan")
    scenario.admit("XX-1", "xinxiang")
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    [blacklisting] = scenario.sanctions("TS-1")
    project = scenario.project("TS-2", "E-1")
    complaint = "C-1"
    scenario.run(
        m.FileComplaint, complaint_id=complaint, provider_id="TS-2", complainant_kind="enterprise", enterprise_id="E-1",
        complainant_name="张三", contact="13800000000", subject="service not delivered",
    )  # fmt: skip
    scenario.run(
        m.FileAppeal, appeal_id="A-1", provider_id="TS-1", ground="第十六条（二）", evidence_refs=[ratings[0].source],
        matter="a rating", reasons="it does not hold", purpose="void it",
    )  # fmt: skip
    return Seeded(ratings, blacklisting["ref"], project, complaint, "A-1")


@dataclass
class Served:
    client: TestClient
    app: App
    seeded: Seeded
    clock: ManualClock

    def events(self) -> int:
        return self.app.ledger.store.max_position()


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    clock = ManualClock(START)
    app = bootstrap(Settings(database_url=database_url), clock=clock)
    seeded = seed(Scenario(app.ledger, clock))
    clock.set(date(2025, 6, 1))
    assert app.projections is not None
    app.projections.wait_for()  # the API's readers do not wait for writes: the seed is in the read models first
    with TestClient(create_app(app, SETTINGS), raise_server_exceptions=False) as client:
        yield Served(client, app, seeded, clock)
    app.close()
