"""schemathesis against the OpenAPI document: valid and invalid input on every operation,
as the public and as a regulator. No 5xx; every answer matches its documented schema; an
answer of 4xx wrote nothing. Bounded: a few examples per operation."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import cast

import pytest
import schemathesis
from _pytest.mark import ParameterSet
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from api import create_app
from ledger.bootstrap import App, bootstrap
from ledger.clock import ManualClock
from ledger.settings import Settings
from tests.api.conftest import SETTINGS, headers, seed
from tests.integration.conftest import START
from tests.integration.scenario import Scenario


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory) -> Iterator[tuple[object, App]]:
    """One seeded SQLite ledger for the whole run (its writes accumulate, as a server's would)."""
    clock = ManualClock(START)
    app = bootstrap(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('schema') / 'ledger.db'}"), clock=clock)
    seed(Scenario(app.ledger, clock))
    clock.set(date(2025, 6, 1))
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(app, SETTINGS)), app
    app.close()


#: no 5xx, and every answer as documented (status, content type, headers, body schema)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance, checks.response_headers_conformance, checks.response_schema_conformance]


def operations() -> list[ParameterSet]:
    """Every operation with valid input, and with invalid input where it takes any."""
    document = create_app(cast(App, None), SETTINGS).openapi()
    out: list[ParameterSet] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            out.append(pytest.param(f"{method.upper()} {path}", GenerationMode.POSITIVE, id=f"{method.upper()} {path} valid"))
            if operation.get("parameters") or operation.get("requestBody"):
                out.append(pytest.param(f"{method.upper()} {path}", GenerationMode.NEGATIVE, id=f"{method.upper()} {path} invalid"))
    return out


@pytest.mark.parametrize("who", ["public", "regulator"])
@pytest.mark.parametrize(("operation", "mode"), operations())
def test_every_operation(api_schema, operation, who, mode):
    loaded, app = api_schema
    method, path = operation.split(" ", 1)
    found = loaded.find_operation_by_path(method.lower(), path)
    store = app.ledger.store

    @given(case=found.as_strategy(generation_mode=mode))
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def run(case) -> None:
        if path == "/v1/events":
            case.query = {**(case.query or {}), "follow": "false"}
        before = store.max_position()
        response = case.call(headers={**(case.headers or {}), **headers(who)})
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:300]}"
        if mode is GenerationMode.NEGATIVE and response.status_code < 400:
            return  # not every "invalid" draw is invalid for the API (e.g. an extra header); nothing to check
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            assert store.max_position() == before, f"{method} {path} answered {response.status_code} and wrote"
            assert response.json()["detail"], "an error says what is wrong"

    run()
