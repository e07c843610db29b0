"""The CLI facing bad input and failing databases: one clear line, exit 1, no traceback, no password."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.redaction import redact

SECRET = "s3cr3t-Pw0rd"
TIMEOUT = 300


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    environment.pop("LEDGER_DATABASE_URL", None)
    environment.pop("LEDGER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args], env=environment, capture_output=True, text=True, timeout=TIMEOUT
    )


def one_clear_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    """The run failed with exit 1 and one error line holding ``expected``; no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def lines(path: Path, *rows: dict | bytes) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n" for r in rows))
    return path


APPLY = {"type": "SubmitApplication", "command_id": "i-1", "provider_id": "TJ-X1", "jurisdiction": "tianjin",
         "name": "天津某科技有限公司", "credit_code": "91120116MA05K2XQ36", "kind": "云服务商", "effective_on": "2024-03-01"}  # fmt: skip


def other(provider_id: str, **changes: str) -> dict:
    """APPLY for another provider (its own credit code)."""
    from tests.integration.scenario import credit_code_for

    return dict(APPLY, provider_id=provider_id, credit_code=credit_code_for(provider_id), **changes)


def test_an_import_reusing_a_recorded_id_names_the_line_and_the_earlier_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    assert run("import", str(lines(tmp_path / "a.jsonl", APPLY)), "-d", url).returncode == 0
    result = run("import", str(lines(tmp_path / "b.jsonl", other("TJ-X3", command_id="i-0"), other("TJ-X2"))), "-d", url)
    one_clear_line(result, "line 2", "'i-1' was already used for a different command (SubmitApplication recorded at", "nothing was recorded")
    again = run("import", str(lines(tmp_path / "c.jsonl", APPLY)), "-d", url)
    assert again.returncode == 0 and "1 already recorded" in again.stdout  # the same command: a retry


def test_an_import_using_one_id_twice_names_both_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    source = lines(tmp_path / "a.jsonl", APPLY, other("TJ-X2", command_id="i-2"), other("TJ-X3"))
    one_clear_line(run("import", str(source), "-d", url), "line 3", "reuses the command id of line 1")


def test_bad_bytes_and_duplicate_keys_are_reported_by_line(tmp_path: Path) -> None:
    source = lines(
        tmp_path / "a.jsonl",
        b"\xef\xbb\xbf" + json.dumps(APPLY).encode(),
        '{"type":"AdmitProvider","command_id":"é","provider_id":"X"}'.encode("latin-1"),
        b'{"type":"AdmitProvider","command_id":"a","provider_id":"X","provider_id":"Y"}',
        json.dumps(dict(APPLY, command_id="i-9", name="坏\x00名")).encode(),
    )
    result = run("import", str(source), "-d", f"sqlite:///{tmp_path}/ledger.db")
    one_clear_line(result, "3 problem(s)")
    assert "line 2: not UTF-8" in result.stderr
    assert "line 3: duplicate key(s) 'provider_id'" in result.stderr
    assert "line 4: SubmitApplication.name: Value error, invisible or control character U+0000" in result.stderr
    assert "line 1" not in result.stderr  # the byte-order mark at the start is fine


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [("LEDGER_GROUP_COMMIT", "maybe", "valid boolean"), ("LEDGER_GROUP_COMMIT_MAX_WAIT_MS", "-1", "greater than or equal to 0"),
     ("LEDGER_POOL_SIZE", "many", "valid integer")],
)  # fmt: skip
def test_a_setting_refused_is_one_line_naming_its_variable(tmp_path: Path, variable: str, value: str, says: str) -> None:
    result = run("registry", "tianjin", "-d", f"sqlite:///{tmp_path / 'none.db'}", env={variable: value})
    one_clear_line(result, f"{variable}:", says)
    assert not (tmp_path / "none.db").exists()


def test_a_locked_sqlite_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    assert run("import", str(lines(tmp_path / "a.jsonl", APPLY)), "-d", url).returncode == 0
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("import", str(lines(tmp_path / "b.jsonl", other("TJ-X2", command_id="i-2"))), "-d", url,
                     env={"LEDGER_BUSY_TIMEOUT": "0.2"})  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_clear_line(result, "locked")


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://ledger:{SECRET}@127.0.0.1:1/ledger",  # nothing listens there
        f"postgresql://ledger:{SECRET}@127.0.0.1:notaport/ledger",  # the driver quotes the connection string back
        f"postgresql:///ledger?password={SECRET}&host=127.0.0.1&port=1",
        f"mysql://ledger:{SECRET}@127.0.0.1/ledger",  # unsupported
    ],
)
def test_a_failed_open_never_prints_the_password(url: str) -> None:
    result = run("registry", "-d", url)
    line = one_clear_line(result, "cannot open the ledger at")
    assert SECRET not in result.stdout + result.stderr
    assert "***" in line


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://ledger:{SECRET}@127.0.0.1:1/ledger",  # nothing listens there
        f"postgresql://ledger:{SECRET}@127.0.0.1:notaport/ledger",  # the driver quotes the connection string back
        f"postgresql:///ledger?password={SECRET}&host=127.0.0.1&port=1",
    ],
)
def test_a_server_that_cannot_open_its_ledger_never_prints_the_password(url: str, workers: str) -> None:
    result = run("serve", "-d", url, "--port", "1", "--workers", workers)
    line = one_clear_line(result, "cannot open the ledger at")
    assert SECRET not in result.stdout + result.stderr
    assert "***" in line


def test_redact_hides_every_form_of_password() -> None:
    for text in (
        f"postgresql://ledger:{SECRET}@db:5432/x",
        f"postgres://u:{SECRET}@[::1]/x?sslmode=require",
        f"host=db password={SECRET} dbname=x",
        f"host=db password='{SECRET} x' dbname=x",
        f"postgresql://db/x?user=u&password={SECRET}",
        f'missing "=" after "postgresql://u:{SECRET}@h" in connection info string',
    ):
        assert SECRET not in redact(text), text
    assert redact("postgresql://ledger@db/x") == "postgresql://ledger@db/x"
    assert redact("sqlite:///var/demo.db") == "sqlite:///var/demo.db"


@pytest.mark.postgres
def test_demo_hints_and_a_second_demo_never_print_the_password(postgres_url: str) -> None:
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    first = run("demo", "-d", postgres_url, "--providers", "5")
    assert first.returncode == 0, first.stderr
    assert f":{password}@" not in first.stdout + first.stderr
    assert "LEDGER_DATABASE_URL" in first.stdout  # the hints name the setting instead
    second = run("demo", "-d", postgres_url, "--providers", "5")
    one_clear_line(second, "already holds a ledger", ":***@")
    assert f":{password}@" not in second.stdout + second.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://ledger:{SECRET}@127.0.0.1:1/ledger",
        f"postgresql:///ledger?password={SECRET}&host=127.0.0.1&port=1",
        f"mysql://ledger:{SECRET}@127.0.0.1/ledger",
    ],
)
def test_a_failed_migrate_never_prints_the_password(url: str) -> None:
    result = run("migrate", "-d", url, "--app-role", "ledger_app")
    line = one_clear_line(result)
    assert SECRET not in result.stdout + result.stderr
    assert "***" in line
