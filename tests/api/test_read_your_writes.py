"""Read your writes: a command sent with ``Wait-For-Read-Models`` is answered once the read models
show its effect (or says they do not yet); without it the answer does not wait for them."""
from __future__ import annotations

import threading
import time

import pytest

from tests.api.conftest import headers

FINDING = {"article": "第十二条（一）", "summary": "late report", "deadline_days": 10}


@pytest.fixture
def slow_projections(served, monkeypatch):
    """The background worker catches up only once ``release`` is set (or after a delay): the read
    models lag behind the log as they would under load."""
    runner = served.app.projections.worker.runner
    catch_up = runner.catch_up
    release = threading.Event()

    def delayed(*args, **kwargs):
        release.wait(timeout=30)
        return catch_up(*args, **kwargs)

    monkeypatch.setattr(runner, "catch_up", delayed)
    return release


def timeline_positions(served) -> set[int]:
    answer = served.client.get("/v1/providers/TS-2/timeline", params={"limit": 500}, headers=headers("auditor"))
    assert answer.status_code == 200, answer.text
    return {entry["position"] for entry in answer.json()["items"]}


def post_finding(served, key: str, **extra_headers: str):
    return served.client.post("/v1/providers/TS-2/findings", json=FINDING, headers={**headers("regulator"), "Idempotency-Key": key, **extra_headers})


def test_without_the_header_the_answer_does_not_wait_for_the_read_models(served, slow_projections):
    answer = post_finding(served, "ryw-1")
    assert answer.status_code == 201, answer.text
    assert answer.json()["read_models_caught_up"] is None
    assert not set(answer.json()["positions"]) & timeline_positions(served)  # recorded, not yet in the read models
    slow_projections.set()


def test_with_the_header_the_next_read_sees_the_command(served, slow_projections):
    threading.Timer(0.3, slow_projections.set).start()  # the worker catches up a moment later
    started = time.monotonic()
    answer = post_finding(served, "ryw-2", **{"Wait-For-Read-Models": "10"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["read_models_caught_up"] is True
    assert time.monotonic() - started >= 0.3
    assert set(answer.json()["positions"]) <= timeline_positions(served)


def test_read_models_still_behind_after_the_wait_are_said_so_and_the_command_stays_recorded(served, slow_projections):
    before = served.events()
    answer = post_finding(served, "ryw-3", **{"Wait-For-Read-Models": "0.2"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["read_models_caught_up"] is False
    assert served.events() == before + len(answer.json()["positions"]) > before
    slow_projections.set()
    # the retry of the same command waits for the positions it was recorded at
    again = post_finding(served, "ryw-3", **{"Wait-For-Read-Models": "10"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["read_models_caught_up"] is True
    assert set(again.json()["positions"]) <= timeline_positions(served)


@pytest.mark.parametrize("value", ["-1", "30.5", "soon", ""])
def test_a_bad_wait_is_refused_naming_the_header_and_writes_nothing(served, value):
    before = served.events()
    answer = post_finding(served, f"ryw-bad-{value}", **{"Wait-For-Read-Models": value})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "Wait-For-Read-Models"
    assert served.events() == before


@pytest.mark.parametrize("value", ["0", "30"])
def test_the_wait_bounds_are_accepted(served, value):
    answer = post_finding(served, f"ryw-ok-{value}", **{"Wait-For-Read-Models": value})
    assert answer.status_code == 201, answer.text
    assert isinstance(answer.json()["read_models_caught_up"], bool)
