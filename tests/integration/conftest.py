"""A real ledger per test, on each backend ``database_url`` (tests/conftest.py) provides."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.commands.handlers import HANDLERS
from ledger.commands.models import DeclareRulebookValidity
from ledger.projections import InProcessProjections, ReadModels, attach_in_process
from ledger.store import open_store
from tests.integration.scenario import Scenario

#: the day every test starts on: inside Tianjin's window and the declared ones below
START = date(2025, 3, 1)

#: the packs whose documents leave their dates blank, and the start a regulator declares for tests
DECLARED_FROM = {
    "xinxiang": date(2025, 1, 1),
    "province": date(2025, 1, 1),
    "tangshan": date(2025, 1, 1),
    "liuzhou": date(2025, 1, 1),
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def bare_ledger(database_url: str, clock: ManualClock):
    """A ledger on which no regulator has declared any dates yet."""
    ledger = Ledger(open_store(database_url), clock=clock, handlers=HANDLERS)
    yield ledger
    ledger.close()


@pytest.fixture
def ledger(bare_ledger: Ledger) -> Ledger:
    for jurisdiction, valid_from in DECLARED_FROM.items():
        bare_ledger.execute(
            DeclareRulebookValidity(
                command_id=f"declare-validity-{jurisdiction}",
                jurisdiction=jurisdiction,
                valid_from=valid_from,
                reference="test fixture: the regulator's date of effect",
            )
        )
    return bare_ledger


@pytest.fixture
def scenario(ledger: Ledger, clock: ManualClock) -> Scenario:
    return Scenario(ledger, clock)


@pytest.fixture
def bare_scenario(bare_ledger: Ledger, clock: ManualClock) -> Scenario:
    return Scenario(bare_ledger, clock)


# --- read models attached in process (projection tests) ---

@pytest.fixture
def projected(ledger: Ledger) -> Iterator[InProcessProjections]:
    """The ledger's read models, kept up to date after each commit."""
    attached = attach_in_process(ledger)
    yield attached
    attached.close()


@pytest.fixture
def models(projected: InProcessProjections) -> ReadModels:
    return projected.models
