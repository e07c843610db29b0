"""The CLI in an operator's hands: filters that are not silently dropped, a server and a demo that
never write into a database that is not a ledger's, an import that recognises an export and says
what an interruption left, and files written only where a regular file can go. Run as a user runs
it (a subprocess), on SQLite and, where it matters, PostgreSQL."""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.integration.scenario import credit_code_for

TIMEOUT = 300
#: ports for the servers these tests start
SERVE_PORT = 8761
DEMO_SERVE_PORT = 8762


def environment() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("LEDGER_DATABASE_URL", None)
    env.pop("LEDGER_DEBUG", None)
    return env


def run(*args: str, cwd: Path | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args], cwd=cwd, env=environment(), capture_output=True, text=True, timeout=timeout
    )


def one_clear_line(result: subprocess.CompletedProcess, *expected: str, code: int = 1) -> str:
    """The run failed with ``code`` and one error line holding ``expected``; no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def json_of(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("small")
    url = f"sqlite:///{folder}/small.db"
    made = run("demo", "--providers", "5", "-d", url, cwd=folder)
    assert made.returncode == 0, made.stderr
    return url


def foreign_sqlite(path: Path) -> Path:
    """Another application's database: a table that is not the ledger's."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO customers (name) VALUES ('王五')")
    db.commit()
    db.close()
    return path


def tables(path: Path) -> set[str]:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


# -- 1. registry as of a date applies every filter, or refuses it ---------------------------------------------


AS_OF = ("--effective-at", "2025-01-01")


def test_the_registry_as_of_a_date_applies_standing_and_kind(small: str) -> None:
    everyone = json_of("registry", *AS_OF, "-d", small)["items"]
    standings = {e["standing"] for e in everyone}
    assert len(standings) > 1  # the filter has something to leave out
    for standing in standings:
        got = json_of("registry", *AS_OF, "--standing", standing, "-d", small)
        assert got["items"] == [e for e in everyone if e["standing"] == standing]
        assert got["total"] == len(got["items"])
    kind = everyone[0]["kind"]
    got = json_of("registry", "--known-at", "2025-12-31", "--kind", kind, "-d", small)
    assert got["items"] and all(e["kind"] == kind for e in got["items"])
    assert len(got["items"]) == sum(e["kind"] == kind for e in json_of("registry", "--known-at", "2025-12-31", "-d", small)["items"])
    assert json_of("registry", *AS_OF, "--standing", "blacklisted", "--kind", "no such kind", "-d", small)["items"] == []


def test_the_registry_as_of_a_date_pages_with_limit_and_cursor(small: str) -> None:
    everyone = json_of("registry", *AS_OF, "-d", small)["items"]
    total = len(everyone)
    assert total >= 3
    whole = json_of("registry", *AS_OF, "--limit", str(total), "-d", small)  # at the size: one page
    assert whole["items"] == everyone and whole["next_cursor"] is None
    longer = json_of("registry", *AS_OF, "--limit", str(total + 1), "-d", small)  # above it
    assert longer["items"] == everyone and longer["next_cursor"] is None
    short = json_of("registry", *AS_OF, "--limit", str(total - 1), "-d", small)  # just below: a second page of one
    assert short["items"] == everyone[:-1] and short["total"] == total and short["next_cursor"]
    rest = json_of("registry", *AS_OF, "--limit", str(total - 1), "--cursor", short["next_cursor"], "-d", small)
    assert rest["items"] == everyone[-1:] and rest["next_cursor"] is None
    table = run("registry", *AS_OF, "--limit", "1", "-d", small)
    assert table.returncode == 0 and f"1 of {total} providers; next page: --cursor" in table.stderr


def test_a_bogus_standing_is_refused_alike_live_and_as_of(small: str) -> None:
    live = one_clear_line(run("registry", "--standing", "bogus", "-d", small), "standing 'bogus' is not one of", "in_pool")
    as_of = one_clear_line(run("registry", "--known-at", "2025-06-01", "--standing", "bogus", "-d", small))
    assert as_of == live


def test_a_grade_or_a_foreign_cursor_as_of_a_date_is_refused_naming_the_option(small: str) -> None:
    one_clear_line(run("registry", *AS_OF, "--grade", "A", "-d", small), "--grade")
    one_clear_line(run("registry", *AS_OF, "--cursor", "bm90LWEtY3Vyc29y", "-d", small), "cursor")


# -- 2. a server opens an existing ledger only ----------------------------------------------------------------


def serve(url: str, cwd: Path) -> subprocess.CompletedProcess:
    try:  # a server that opened the database would listen until killed
        return run("serve", "-d", url, "--port", str(SERVE_PORT), cwd=cwd, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ledger serve started on {url} instead of refusing it")


@pytest.mark.parametrize("kind", ["foreign", "empty"])
def test_serve_refuses_a_sqlite_file_without_a_ledger_and_writes_nothing(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "other.db"
    if kind == "foreign":
        foreign_sqlite(path)
    else:
        path.touch()
    before = path.read_bytes()
    result = serve(f"sqlite:///{path}", tmp_path)
    one_clear_line(result, "no ledger at", "it has no ledger tables")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.postgres
def test_serve_refuses_an_empty_postgres_schema_and_creates_nothing(tmp_path: Path, postgres_url: str) -> None:
    one_clear_line(serve(postgres_url, tmp_path), "no ledger at", "it has no ledger tables")
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()").fetchone() == (0,)


def test_demo_serve_still_creates_then_serves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "demo", "--providers", "5", "-d", url, "--serve", "--port", str(DEMO_SERVE_PORT)],
        cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{DEMO_SERVE_PORT}/v1/registry", timeout=5) as answer:
                    body = json.load(answer)
                break
            except OSError:
                assert time.monotonic() < deadline, "the demo's server never answered"
                time.sleep(0.5)
        assert body["total"] > 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


# -- 3. the demo writes a ledger into a database of its own only ---------------------------------------------------


def test_demo_refuses_a_sqlite_file_holding_another_applications_tables(tmp_path: Path) -> None:
    path = foreign_sqlite(tmp_path / "shop.db")
    before = path.read_bytes()
    one_clear_line(run("demo", "--providers", "5", "-d", f"sqlite:///{path}", cwd=tmp_path), str(path), "customers", "nothing was written")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_demo_replace_refuses_a_ledger_sharing_its_file_with_another_applications_tables(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    url = f"sqlite:///{path}"
    assert run("demo", "--providers", "5", "-d", url, cwd=tmp_path).returncode == 0
    foreign_sqlite(path)
    before = tables(path)
    db = sqlite3.connect(path)
    events = db.execute("SELECT COUNT(*) FROM ledger_events").fetchone()
    db.close()
    one_clear_line(run("demo", "--providers", "5", "--replace", "-d", url, cwd=tmp_path), "customers", "nothing was deleted")
    assert tables(path) == before
    db = sqlite3.connect(path)
    assert db.execute("SELECT name FROM customers").fetchall() == [("王五",)]
    assert db.execute("SELECT COUNT(*) FROM ledger_events").fetchone() == events
    db.close()


def test_demo_replace_still_replaces_a_ledger_of_its_own(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/own.db"
    assert run("demo", "--providers", "5", "-d", url, cwd=tmp_path).returncode == 0
    replaced = run("demo", "--providers", "6", "--replace", "-d", url, cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert "deleted the ledger of" in replaced.stderr


@pytest.mark.postgres
def test_demo_refuses_a_postgres_schema_holding_another_applications_tables(tmp_path: Path, postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE customers (id int)")
    one_clear_line(run("demo", "--providers", "5", "-d", postgres_url, cwd=tmp_path), "customers", "nothing was written")
    with psycopg.connect(postgres_url) as db:
        names = {r[0] for r in db.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'")}
    assert names == {"customers"}


# -- 4 and 7. import: an export is named, problems are capped, a deep line is named ------------------------------


APPLY = {"type": "SubmitApplication", "command_id": "i-1", "provider_id": "TJ-X1", "jurisdiction": "tianjin",
         "name": "天津某科技有限公司", "credit_code": "91120116MA05K2XQ36", "kind": "云服务商", "effective_on": "2024-03-01"}  # fmt: skip


def applications(count: int, prefix: str = "S") -> list[dict]:
    return [
        dict(APPLY, command_id=f"{prefix}-{n}", provider_id=f"TJ-{prefix}{n}", credit_code=credit_code_for(f"{prefix}{n}"))
        for n in range(1, count + 1)
    ]


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_importing_an_export_is_refused_in_one_line_saying_what_it_is(small: str, tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    assert run("export", str(export), "-d", small).returncode == 0
    target = tmp_path / "new.db"
    result = run("import", str(export), "-d", f"sqlite:///{target}")
    one_clear_line(result, "event export", "ledger import", "commands", f"ledger verify --export {export}")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not target.exists()


@pytest.mark.parametrize("bad", [19, 20, 21])
def test_import_prints_at_most_twenty_problems(tmp_path: Path, bad: int) -> None:
    rows = [dict(APPLY, command_id=f"b-{n}", effective_on="not a date") for n in range(bad)]
    result = run("import", str(write_lines(tmp_path / "bad.jsonl", rows)), "-d", f"sqlite:///{tmp_path}/x.db")
    one_clear_line(result, f"{bad} problem(s)", "nothing was recorded")
    shown = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert len(shown) == min(bad, 20)
    more = [line for line in result.stderr.splitlines() if "more" in line and not line.startswith("error:")]
    assert more == ([f"… {bad - 20} more"] if bad > 20 else [])


def test_a_line_nested_too_deeply_is_named(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    rows = [APPLY, '{"type": "SubmitApplication", "x": ' + deep + "}", deep]
    result = run("import", str(write_lines(tmp_path / "deep.jsonl", rows)), "-d", f"sqlite:///{tmp_path}/x.db")
    one_clear_line(result, "2 problem(s)")
    assert "recursion" not in result.stderr
    assert re.search(r"^line 2: .*nested", result.stderr, re.MULTILINE), result.stderr
    assert re.search(r"^line 3: .*nested", result.stderr, re.MULTILINE), result.stderr


# -- 5. Ctrl-C says what it left ------------------------------------------------------------------------------


def interrupt(args: list[str], cwd: Path, ready: Path, delay: float) -> subprocess.CompletedProcess:
    """Run ``ledger ARGS``, send SIGINT ``delay`` seconds after ``ready`` exists (the command got to work)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", *args], cwd=cwd, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def recorded(path: Path, command_ids: list[str]) -> int:
    db = sqlite3.connect(path)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ledger_commands'").fetchone() is None:
            return 0  # interrupted before the ledger's tables were made
        marks = ",".join("?" for _ in command_ids)
        return int(db.execute(f"SELECT COUNT(*) FROM ledger_commands WHERE command_id IN ({marks})", command_ids).fetchone()[0])
    finally:
        db.close()


def test_an_interrupted_import_says_how_many_commands_it_left_recorded(tmp_path: Path) -> None:
    rows = applications(1500)
    file = write_lines(tmp_path / "many.jsonl", rows)
    ids = [r["command_id"] for r in rows]
    seen = set()
    for attempt, delay in enumerate([0.0, 0.3, 1.0, 2.0, 3.5]):
        path = tmp_path / f"ledger{attempt}.db"
        result = interrupt(["import", str(file), "-d", f"sqlite:///{path}"], tmp_path, path, delay)
        if result.returncode in (0, -signal.SIGINT):  # done before the signal came, or as the interpreter exited
            assert "recorded 1500 command(s)" in result.stdout and recorded(path, ids) == 1500, result.stderr
            continue
        assert result.returncode == 130, result.stderr
        assert "Traceback" not in result.stderr
        found = re.search(r"interrupted: (\d+) of 1500 commands recorded", result.stderr)
        assert found, result.stderr
        assert int(found[1]) == (recorded(path, ids) if path.exists() else 0)
        if int(found[1]) < 1500:  # the import is one transaction: none of it, or all (interrupted after the commit)
            assert int(found[1]) == 0 and "run the same import again to record the rest" in result.stderr
        else:
            assert "nothing left to record" in result.stderr
        seen.add(int(found[1]))
    assert seen, "every import ended before it could be interrupted"


def test_an_interrupted_import_counts_commands_recorded_before(tmp_path: Path) -> None:
    rows = applications(1500, prefix="R")
    path = tmp_path / "ledger.db"
    first = run("import", str(write_lines(tmp_path / "first.jsonl", rows[:10])), "-d", f"sqlite:///{path}")
    assert first.returncode == 0, first.stderr
    assert not (tmp_path / "ledger.db-wal").exists()  # made when the next import opens the ledger
    result = interrupt(["import", str(write_lines(tmp_path / "all.jsonl", rows)), "-d", f"sqlite:///{path}"], tmp_path, tmp_path / "ledger.db-wal", 0.0)
    if result.returncode == 0:
        pytest.skip("the import ended before the signal came")
    found = re.search(r"interrupted: (\d+) of 1500 commands recorded", result.stderr)
    assert found and int(found[1]) == recorded(path, [r["command_id"] for r in rows]) >= 10, result.stderr


def live_generation(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT live FROM projection_generation WHERE id = 1").fetchone()[0])
    finally:
        db.close()


def test_an_interrupted_replay_says_which_generation_serves(tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    made = run("demo", "--providers", "60", "-d", f"sqlite:///{source}", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    seen = set()
    for attempt, delay in enumerate([0.0, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9]):
        path = tmp_path / f"copy{attempt}.db"
        path.write_bytes(source.read_bytes())
        before = live_generation(path)
        opened = tmp_path / f"copy{attempt}.db-wal"  # made when the replay opens the ledger
        result = interrupt(["replay", "-d", f"sqlite:///{path}"], tmp_path, opened, delay)
        if result.returncode in (0, -signal.SIGINT):  # done before the signal came, or as the interpreter exited
            assert "rebuilt generation" in result.stdout and live_generation(path) == before + 1, result.stderr
            continue
        assert result.returncode == 130, result.stderr
        assert "Traceback" not in result.stderr
        after = live_generation(path)
        if after == before:
            assert re.search(rf"interrupted before the (switch|replay began): generation {before} still serves", result.stderr), result.stderr
        else:
            assert f"interrupted after the switch: generation {after} serves" in result.stderr, result.stderr
        seen.add(after == before)
        path.unlink()
    assert seen, "every replay ended before it could be interrupted"


# -- 6. files are written only where a regular file can go ---------------------------------------------------------


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["export"], ["digest"], ["proof", "1", "-o"]])
def test_a_fifo_is_never_replaced_nor_written_even_with_force(small: str, tmp_path: Path, command: list[str]) -> None:
    target = fifo(tmp_path / "pipe")
    try:
        result = run(*command, str(target), "--force", "-d", small, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the command opened the FIFO and waited for a reader")
    one_clear_line(result, str(target), "not a regular file")
    assert stat.S_ISFIFO(target.lstat().st_mode)


@pytest.mark.parametrize("command", [["export"], ["digest"], ["proof", "1", "-o"]])
def test_a_missing_directory_is_refused_not_made(small: str, tmp_path: Path, command: list[str]) -> None:
    target = tmp_path / "no" / "such" / "out.json"
    one_clear_line(run(*command, str(target), "-d", small), str(tmp_path / "no" / "such"), "does not exist")
    assert not (tmp_path / "no").exists()


def test_export_force_through_a_symlink_writes_the_file_it_points_to(small: str, tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    result = run("export", str(link), "--force", "-d", small)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8").startswith('{"format":1,"position":1,')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "real.jsonl"]  # no partial file left


def test_a_symlink_to_a_fifo_is_refused(small: str, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(fifo(tmp_path / "pipe"))
    one_clear_line(run("export", str(link), "--force", "-d", small, timeout=60), "not a regular file")
    assert link.is_symlink() and stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
