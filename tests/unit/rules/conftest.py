"""Rule scenarios as fast unit tests: the same Scenario vocabulary as the integration tests,
on the in-memory event store (whose contract tests/integration/test_event_store.py checks).
The integration suite keeps the real SQLite and PostgreSQL runs of the store and end-to-end."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.application import Ledger
from ledger.clock import ManualClock
from ledger.commands.handlers import HANDLERS
from tests.integration.conftest import bare_scenario, clock, ledger, scenario  # noqa: F401 - the shared fixtures
from tests.support.memory_store import MemoryEventStore


@pytest.fixture
def bare_ledger(clock: ManualClock) -> Iterator[Ledger]:  # noqa: F811 - replaces the database-backed one
    memory = Ledger(MemoryEventStore(), clock=clock, handlers=HANDLERS)
    yield memory
    memory.close()
