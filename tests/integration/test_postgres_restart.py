"""PostgreSQL restarted while commands are in flight (a private cluster: tests/support/private_postgres.py).

Every command is either recorded whole or reported, in one line, as failed by the restart; the
log has no gap and verifies; a command reported failed is recorded exactly once when retried
(a retry of the same command id is safe whether or not its commit took effect).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.audit.integrity import integrity_problems
from ledger.audit.verify import verify_store
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.commands.models import SubmitApplication
from ledger.redaction import describe_failure
from ledger.settings import Settings
from ledger.store import open_store
from tests.integration.conftest import START
from tests.integration.scenario import credit_code_for
from tests.support.private_postgres import PrivatePostgres, private_postgres

pytestmark = pytest.mark.postgres

THREADS = 3
PER_THREAD = 40


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres(25440) as server:
        yield server


def fresh_database(cluster: PrivatePostgres, name: str) -> str:
    with psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    return cluster.url.rsplit("/", 1)[0] + f"/{name}"


def application(provider_id: str, n: int) -> SubmitApplication:
    return SubmitApplication(
        command_id=f"apply-{provider_id}", provider_id=provider_id, jurisdiction="tianjin", name=f"天津测试科技有限公司{n}",
        credit_code=credit_code_for(provider_id), kind="云服务商", effective_on=START,
    )  # fmt: skip


def assert_whole_and_gap_free(url: str, expected_commands: int) -> None:
    store = open_store(url)
    try:
        commands = list(store.read_commands())
        assert len(commands) == expected_commands == len({c.command_id for c in commands})
        by_position = {e.position: e for e in store.read_all()}
        assert sorted(by_position) == list(range(1, len(by_position) + 1))  # no gap
        for command in commands:  # each recorded command has all its events, and only those
            positions = range(command.first_position or 0, (command.last_position or -1) + 1)
            assert positions and all(by_position[p].command_id == command.command_id for p in positions)
        assert sum(len(range(c.first_position or 0, (c.last_position or -1) + 1)) for c in commands) == len(by_position)
        assert verify_store(store).ok
        assert integrity_problems(store, read_models=False) == []
    finally:
        store.close()


def test_a_restart_while_the_app_records_commands(cluster: PrivatePostgres) -> None:
    url = fresh_database(cluster, "restart_app")
    app = bootstrap(Settings(database_url=url), clock=ManualClock(START), projections=False)
    outcomes: dict[str, str] = {}  # command id -> "recorded" or the one-line failure
    lock = threading.Lock()

    def writer(thread: int) -> None:
        for n in range(PER_THREAD):
            command = application(f"TJ-R{thread}-{n:03d}", n)
            try:
                app.ledger.execute(command)
                outcome = "recorded"
            except Exception as error:
                outcome = describe_failure(error)
            with lock:
                outcomes[command.command_id] = outcome

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    blocker = psycopg.connect(url)
    # pg_stat_activity is read once per transaction: the blocker's (the lock's) would see the first
    # poll's answer for good, so the waits are watched from a connection of its own, a statement each
    watcher = psycopg.connect(url, autocommit=True)
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(outcomes) < THREADS * PER_THREAD // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        # hold the appends (they insert into the log: a lock SHARE mode refuses them) until one waits,
        # so that the restart certainly meets a command in flight: a command that only read before it
        # begins again on a new connection
        blocker.execute("LOCK TABLE ledger_events IN SHARE MODE")
        waiting = None
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%%ledger_append%%'"
            ).fetchone()
            if waiting and waiting[0] > 0:
                break
            time.sleep(0.01)
        assert waiting and waiting[0] > 0, "no append waited for the lock"
        cluster.restart("immediate")  # as a crash: in-flight transactions are lost, committed ones kept
        blocker.close()
        for t in threads:
            t.join(60)
        failed = {command_id: line for command_id, line in outcomes.items() if line != "recorded"}
        assert len(outcomes) == THREADS * PER_THREAD
        assert failed, "the restart did not hit a command in flight"
        for line in failed.values():
            assert "\n" not in line and "PostgreSQL" in line, line
        # what was reported recorded is there; a failed one is recorded once when retried
        for command_id, line in outcomes.items():
            if line == "recorded":
                assert app.store.command_result(command_id) is not None, command_id
        for thread in range(THREADS):
            for n in range(PER_THREAD):
                command = application(f"TJ-R{thread}-{n:03d}", n)
                if command.command_id in failed:
                    app.ledger.execute(command)
    finally:
        blocker.close()  # closed already after the restart, unless the test failed before it
        watcher.close()
        app.close()
    assert_whole_and_gap_free(url, THREADS * PER_THREAD)


def test_a_restart_during_a_cli_import(cluster: PrivatePostgres, tmp_path: Path) -> None:
    url = fresh_database(cluster, "restart_import")
    open_store(url).close()
    commands = [application(f"TJ-I{n:03d}", n).model_dump(mode="json") | {"type": "SubmitApplication"} for n in range(150)]
    source = tmp_path / "commands.jsonl"
    source.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DATABASE_URL", "LEDGER_DEBUG")} | {"COLUMNS": "200", "NO_COLOR": "1"}

    importing = subprocess.Popen([sys.executable, "-m", "ledger", "import", str(source), "-d", url], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    with psycopg.connect(url, autocommit=True) as watcher:  # the import is deciding its commands: restart under it
        deadline = time.monotonic() + 60
        mine = watcher.info.backend_pid
        while time.monotonic() < deadline and importing.poll() is None:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s"
                " AND (query LIKE '%%WHERE originator_id =%%' OR query LIKE '%%topic LIKE%%' OR query LIKE '%%INSERT INTO ledger_events%%')",
                (mine,),
            ).fetchone()
            if row and row[0] > 0:
                break
            time.sleep(0.005)
    cluster.restart("fast")
    out, err = importing.communicate(timeout=120)
    recorded = open_store(url)
    try:
        count = len(list(recorded.read_commands()))
    finally:
        recorded.close()
    assert "Traceback" not in err
    if importing.returncode == 0:  # it was done before the restart: everything recorded
        assert count == len(commands), out
    else:  # one clear line, and nothing of the file recorded
        assert importing.returncode == 1
        assert [line for line in err.splitlines() if line.startswith("error:")] == [err.strip().splitlines()[-1]], err
        assert "PostgreSQL" in err and "was interrupted: it is recorded whole or not at all, so run it again" in err
        assert count == 0
    again = subprocess.run([sys.executable, "-m", "ledger", "import", str(source), "-d", url], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert_whole_and_gap_free(url, len(commands))


def test_reads_after_a_restart_begin_again_on_a_new_connection(cluster: PrivatePostgres) -> None:
    """A pooled connection the server closed (a restart since it was last used) is found by a read's
    first statement and dropped; the read goes on, once, on a new connection. A server that is down
    is reported once the pool's timeout has passed."""
    from ledger.projections.db import ReadModelDB

    url = fresh_database(cluster, "restart_reads")
    app = bootstrap(Settings(database_url=url), clock=ManualClock(START), projections=False)
    app.ledger.execute(application("TJ-READ-001", 1))
    app.close()
    store = open_store(url, timeout=2.0)
    models = ReadModelDB(url, pool_size=1)
    stopped = False
    try:
        def reads() -> tuple[int, int]:
            with models.transaction(write=False) as tx:
                row = tx.fetchone("SELECT count(*) FROM ledger_events")
            assert row is not None
            return row[0], store.max_position()

        before = reads()
        assert before[0] == before[1] > 0
        cluster.restart("fast")
        assert reads() == before  # each pool held one connection, closed by the restart
        assert reads() == before
        cluster.stop()
        stopped = True
        with pytest.raises(psycopg.OperationalError):  # the pool's timeout: a new connection is refused
            store.max_position()
    finally:
        if stopped:
            cluster.start()
        models.close()
        store.close()
