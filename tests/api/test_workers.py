"""``ledger serve --workers N``: worker processes, each a whole App, on one PostgreSQL ledger —
run as an operator runs it (a subprocess on a real database, requests over HTTP)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import pytest

from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.settings import Settings
from ledger.store import open_store
from ledger.wire import decode_state
from tests.api.conftest import SETTINGS, headers, seed
from tests.integration.conftest import START
from tests.integration.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
CHANGES = "/v1/providers/TS-2/profile-changes"


def change(n: int) -> dict[str, str]:
    """A profile change reported on time (no rule acts on it): any number may follow one another."""
    return {"field": "address", "new_value": f"No. {n}", "changed_on": "2025-05-01", "reported_on": "2025-05-02"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    assert SETTINGS.jwt_secret is not None
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "LEDGER_API_JWT_SECRET": SETTINGS.jwt_secret.get_secret_value()}
    for name in ("LEDGER_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "LEDGER_API_WORKERS"):
        env.pop(name, None)
    return env


@pytest.fixture
def two_workers(postgres_url: str) -> Iterator[tuple[str, str]]:
    """The API seeded ledger served by ``ledger serve --workers 2``; yields (base URL, database URL)."""
    clock = ManualClock(START)
    app = bootstrap(Settings(database_url=postgres_url), clock=clock)
    seed(Scenario(app.ledger, clock))
    clock.set(date(2025, 6, 1))
    app.close()  # the read models caught up: closing waits for them
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "-d", postgres_url, "--port", str(port), "--workers", "2"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"ledger serve exited {server.returncode}:\n{server.stdout.read() if server.stdout else ''}"
            assert time.monotonic() < deadline, "ledger serve --workers 2 did not answer in 60 s"
            try:
                if len(_workers(base)) == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base, postgres_url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "Traceback" not in output, output


def _metrics(base: str) -> str:
    answer = httpx.get(f"{base}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.text


def _workers(base: str) -> set[str]:
    """The pids of the live worker processes, as the metrics name them."""
    return set(re.findall(r'^ledger_api_worker_started_seconds\{pid="(\d+)"\}', _metrics(base), re.MULTILINE))


def test_two_worker_processes_record_every_command_once_in_one_gap_free_order(two_workers):
    """Concurrent profile changes of one provider, each sent twice from different threads: both
    workers answer, each command is recorded once (the other sending is told it is a duplicate),
    a change decided on a provider the other worker had changed is decided again (each change's
    old value is the one before it), the log has no gap, and the metrics count both workers' requests."""
    base, database_url = two_workers
    store = open_store(database_url)
    before = store.max_position()
    keys = {f"worker-change-{n}": n for n in range(24)}

    gave_up: list[str] = []

    def send(key: str) -> httpx.Response:
        for _ in range(20):  # a 409 ("conflicted with concurrent writers ...; not recorded") is sent again, same key
            answer = httpx.post(f"{base}{CHANGES}", json=change(keys[key]), headers={**headers("regulator"), "Idempotency-Key": key}, timeout=60)
            if answer.status_code != 409:
                return answer
            assert "not recorded" in answer.json()["detail"], answer.text
            gave_up.append(key)
        return answer

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, [*keys, *reversed(keys)]))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code not in (200, 201)]
    print(f"409 answers, sent again: {len(gave_up)}")
    created = Counter(a.json()["command_id"] for a in answers if a.status_code == 201)
    duplicates = Counter(a.json()["command_id"] for a in answers if a.status_code == 200)
    assert created == Counter(list(keys)) == duplicates  # each recorded once, and once told "duplicate"

    recorded = list(store.read_all(after=before))
    store.close()
    assert [e.position for e in recorded] == list(range(before + 1, before + len(recorded) + 1))
    assert {e.command_id for e in recorded} == set(keys) and len(recorded) == len(keys)
    assert sorted(p for a in answers if a.status_code == 201 for p in a.json()["positions"]) == [e.position for e in recorded]
    assert [e.originator_version for e in recorded] == list(range(recorded[0].originator_version, recorded[0].originator_version + len(keys)))
    states = [decode_state(e) for e in recorded]
    assert [s["old"] for s in states[1:]] == [s["new"] for s in states[:-1]]  # none decided on a stale provider

    route = re.escape('ledger_api_requests_total{method="POST",route="/v1/providers/{provider_id}/profile-changes",status="')
    counted = dict(re.findall(rf'^{route}(\d+)"\}} (\S+)$', _metrics(base), re.MULTILINE))
    expected = {"201": 24.0, "200": 24.0, **({"409": float(len(gave_up))} if gave_up else {})}
    assert {status: float(n) for status, n in counted.items()} == expected  # both workers' counts together
    assert len(_workers(base)) == 2


def test_a_write_waited_for_on_one_worker_is_read_on_either(two_workers):
    """``Wait-For-Read-Models``: the answer waits for the shared read models, whichever worker's
    projection worker applies the command; every later read, on either worker, shows it."""
    base, _ = two_workers
    answer = httpx.post(f"{base}{CHANGES}", json=change(99), headers={**headers("regulator"), "Idempotency-Key": "worker-ryw", "Wait-For-Read-Models": "20"}, timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.json()["read_models_caught_up"] is True
    positions = set(answer.json()["positions"])
    for _ in range(8):  # new connections: the kernel spreads them over both workers
        timeline = httpx.get(f"{base}/v1/providers/TS-2/timeline", params={"limit": 500}, headers=headers("auditor"), timeout=30)
        assert timeline.status_code == 200, timeline.text
        assert positions <= {entry["position"] for entry in timeline.json()["items"]}


def test_worker_processes_on_an_sqlite_ledger_are_refused_in_one_line(tmp_path):
    database = tmp_path / "ledger.db"
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "serve", "-d", f"sqlite:///{database}", "--workers", "2"], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "--workers 2" in result.stderr and "PostgreSQL" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()  # refused before anything was opened
