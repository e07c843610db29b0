"""The command line never loses a ledger and speaks clearly: one-line errors, whole values at 80 columns,
``--json`` and help everywhere. Run as a user runs it (a subprocess); a small demo ledger is shared."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from click import Argument, Option
from rich.cells import cell_len

from ledger.bootstrap import bootstrap
from ledger.cli import app
from ledger.settings import Settings
from ledger.store import open_store
from tests.e2e.test_cli import IMPORT_OK, ledger, write_lines


def run(*args: str, cwd: Path | None = None, columns: int = 200, check: bool = True):
    return ledger(*args, cwd=cwd, check=check, columns=columns)


def json_of(*args: str):
    return json.loads(run(*args, "--json").stdout)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, str]:
    """``ledger demo`` as the README runs it: no -d, in a fresh folder; 5 providers to keep it short."""
    cwd = tmp_path_factory.mktemp("fresh")
    run("demo", "--providers", "5", cwd=cwd)
    assert (cwd / "var" / "demo.db").exists()
    return cwd, f"sqlite:///{cwd}/var/demo.db"


def test_demo_never_overwrites_a_ledger_without_replace(small, tmp_path):
    cwd, url = small
    events = open_store(url).max_position()
    again = run("demo", "--providers", "5", cwd=cwd, check=False)
    assert again.returncode == 1
    assert "sqlite:///var/demo.db already holds a ledger of" in again.stderr and "--replace" in again.stderr
    assert open_store(url).max_position() == events

    other = f"sqlite:///{tmp_path}/mine.db"
    run("import", str(write_lines(tmp_path / "ok.jsonl", IMPORT_OK)), "-d", other)
    refused = run("demo", "-d", other, "--providers", "5", check=False)
    assert refused.returncode == 1 and "already holds a ledger of 5 events" in refused.stderr
    assert json_of("provider", "TJ-X1", "-d", other)["provider_id"] == "TJ-X1"
    replaced = run("demo", "-d", other, "--providers", "5", "--replace")
    assert "deleted the ledger of 5 events" in replaced.stderr
    assert run("provider", "TJ-X1", "-d", other, check=False).returncode == 1  # the old ledger is gone


@pytest.mark.parametrize(
    "command", [["provider", "TJ-1"], ["verify"], ["lists"], ["registry"], ["deadlines", "--now", "2024-01-01"], ["export", "x.jsonl"]]
)
def test_a_read_on_a_missing_sqlite_file_says_so_and_creates_nothing(tmp_path, command):
    path = tmp_path / "absent.db"
    result = run(*command, "-d", f"sqlite:///{path}", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert f"there is no ledger at sqlite:///{path}" in result.stderr
    assert not path.exists() and not (tmp_path / "x.jsonl").exists()


def test_verify_on_an_empty_ledger_says_it_is_empty(tmp_path):
    url = f"sqlite:///{tmp_path}/empty.db"
    open_store(url).close()
    result = run("verify", "-d", url, check=False)
    assert result.returncode == 1 and "the ledger is empty: there is no event to verify" in result.stderr


def test_every_error_is_one_line_without_a_traceback(small, tmp_path):
    _, url = small
    (tmp_path / "digest.json").write_text('{"position": "x"', encoding="utf-8")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    cases = {
        ("lists", "pinklist"): "unknown list 'pinklist'; lists are blacklist, gray_list, disqualified, removed",
        ("registry", "atlantis"): "unknown jurisdiction 'atlantis'; jurisdictions are tianjin",
        ("lists", "--jurisdiction", "atlantis"): "unknown jurisdiction 'atlantis'",
        ("verify", "--digest", str(tmp_path / "digest.json")): "is not a digest written by `ledger digest`",
        ("export", str(tmp_path / "a-file" / "events.jsonl")): "cannot write",
        ("whatif", "TJ-2024-001", "--void", "not-a-ref"): "not-a-ref",
        ("deadlines", "--now", "2099-01-01"): "2099-01-01 is in the future",
        ("timeline", "TJ-2024-001", "--type", "provider.teleported.v1"): "unknown event type",
        ("timeline", "TJ-2024-001", "--recorded-from", "2025-03-02", "--recorded-to", "2025-03-01"): "recorded_to 2025-03-01 is before recorded_from 2025-03-02",
        ("explain", "no-such/ref"): "is not an event reference",
        ("provider", "NOPE-1"): "no provider 'NOPE-1' in the ledger",
        ("history", "TJ-2024-001", "--known-at", "2099-01-01"): "is in the future",
    }
    for args, message in cases.items():
        result = run(*args, "-d", url, check=False)
        assert result.returncode == 1, args
        assert "Traceback" not in result.stderr, args
        lines = [line for line in result.stderr.splitlines() if line.strip() and "━" not in line]
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.stderr)
    usage = {  # click's usage errors: one line too (not Usage:/Try/Error:), exit 2
        ("import", str(tmp_path / "nofile.jsonl")): "Invalid value for 'file': file",
        ("history", "TJ-2024-001", "--known-at", "2024-13-01"): "Invalid value for '--known-at': '2024-13-01' is neither a day",
        ("deadlines", "--now", "2025-02-30"): "Invalid value for '--now'",
        ("lists", "--limit", "0"): "Invalid value for '--limit'",
        ("provider",): "Missing argument",
        ("no-such-command",): "No such command 'no-such-command'",
    }
    for args, message in usage.items():
        result = run(*args, "-d", url, check=False)
        assert result.returncode == 2, (args, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.stderr)
        assert "--help" in lines[0], (args, result.stderr)


def test_help_still_prints_and_exits_0():
    for args in [("--help",), ("registry", "--help"), ("export", "--help")]:
        result = run(*args)
        assert result.stdout.startswith("Usage: ") and not result.stderr, args
    bare = run(check=False)  # no command: the help, as click gives it
    assert bare.returncode == 2 and "Usage: " in bare.stderr + bare.stdout and "Commands" in bare.stderr + bare.stdout


def sqlite_copy(url: str, path: Path) -> str:
    """A copy of the ledger at ``url`` (its WAL folded in), to try to destroy without harm."""
    import sqlite3

    source, target = sqlite3.connect(url.removeprefix("sqlite:///")), sqlite3.connect(path)
    with source, target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    "command",
    [["export", "{}"], ["digest", "{}"], ["proof", "1", "-o", "{}"]],
    ids=["export", "digest", "proof"],
)
def test_a_file_is_overwritten_only_with_force_and_the_ledger_never(small, tmp_path, command):
    _, url = small
    target = tmp_path / "kept.json"
    target.write_text("keep me\n", encoding="utf-8")
    refused = run(*(a.format(target) for a in command), "-d", url, check=False)
    assert refused.returncode == 1, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip() and "━" not in line]
    assert lines == [f"error: {target} exists; give --force to overwrite it"], refused.stderr
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]  # no partial file left either

    run(*(a.format(target) for a in command), "--force", "-d", url)
    written = target.read_text(encoding="utf-8")
    assert json.loads(written.splitlines()[0] if command[0] == "export" else written)  # the new content, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]

    # the ledger's own files: refused even with --force, by relative path, absolute path or a link
    ledger_url = sqlite_copy(url, tmp_path / "own.db")
    store = open_store(ledger_url)
    events = store.max_position()
    store.close()
    (tmp_path / "link.db").symlink_to(tmp_path / "own.db")
    for given, extra in [("own.db", ["--force"]), ("own.db", []), (str(tmp_path / "own.db"), ["--force"]),
                         ("link.db", ["--force"]), ("own.db-wal", ["--force"])]:  # fmt: skip
        result = run(*(a.format(given) for a in command), *extra, "-d", "sqlite:///own.db", cwd=tmp_path, check=False)
        assert result.returncode == 1, (given, extra, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip() and "━" not in line]
        assert len(lines) == 1 and "is the ledger's own database file" in lines[0] and "not even with --force" in lines[0], (given, result.stderr)
    assert f"OK: {events} events verified" in run("verify", "-d", ledger_url).stdout


def test_tables_keep_every_value_whole_at_80_columns(small):
    _, url = small
    [provider_id, *_] = [e["provider_id"] for e in json_of("registry", "-d", url)["items"]]
    timeline = json_of("timeline", provider_id, "-d", url)["items"]
    # the recorded axis: everything was recorded after 2000-01-01, nothing by its end
    assert json_of("timeline", provider_id, "-d", url, "--recorded-from", "2000-01-01")["items"] == timeline
    assert json_of("timeline", provider_id, "-d", url, "--recorded-to", "2000-01-01")["items"] == []
    for args, values in [
        (("registry",), [e["provider_id"] for e in json_of("registry", "-d", url)["items"]]),
        (("timeline", provider_id), [e["ref"] for e in timeline] + [e["effective_on"] for e in timeline]),
        (("provider", provider_id), [s["ref"] for s in json_of("provider", provider_id, "-d", url)["sanctions"]]),
    ]:
        text = run(*args, "-d", url, columns=80).stdout
        assert all(cell_len(line) <= 80 for line in text.splitlines()), args
        for value in values:
            assert value in text, (args, value)


def test_the_recorded_axis_runs_from_year_1_to_year_9999(small):
    """The first and last days a date holds are bounds like any other (not ``date value out of range``)."""
    _, url = small
    [provider_id, *_] = [e["provider_id"] for e in json_of("registry", "-d", url)["items"]]
    timeline = json_of("timeline", provider_id, "-d", url)["items"]
    assert json_of("timeline", provider_id, "-d", url, "--recorded-from", "0001-01-01", "--recorded-to", "9999-12-31")["items"] == timeline
    assert json_of("timeline", provider_id, "-d", url, "--recorded-to", "0001-01-01T00:00:00")["items"] == []
    assert json_of("registry", "-d", url, "--known-at", "0001-01-01T00:00:00")["items"] == []


@pytest.mark.parametrize(
    "given, known_at",
    [
        ("2025-04-01", "2025-04-01T15:59:59.999999Z"),  # a day: the end of it (Asia/Shanghai)
        ("2025-04-01T00:00:00", "2025-03-31T16:00:00Z"),  # an instant at midnight stays that instant
        ("2025-04-01T00:00:01", "2025-03-31T16:00:01Z"),
        ("2025-04-01T00:00:00+00:00", "2025-04-01T00:00:00Z"),
    ],
)
def test_a_day_and_the_instant_at_its_midnight_are_read_as_the_api_reads_them(small, given, known_at):
    """``--known-at`` (and ``timeline --recorded-to``) take a day as the whole day and an instant as
    itself, as ``GET …/history?known_at=`` does: midnight is not the end of the day."""
    _, url = small
    [provider_id, *_] = [e["provider_id"] for e in json_of("registry", "-d", url)["items"]]
    assert json_of("history", provider_id, "-d", url, "--known-at", given)["as_of"]["known_at"] == known_at
    timeline = json_of("timeline", provider_id, "-d", url)["items"]
    first = timeline[0]["recorded_at"]  # recorded by the demo at a whole second
    assert [e["recorded_at"] for e in json_of("timeline", provider_id, "-d", url, "--recorded-to", first)["items"]][-1:] == [first]


@pytest.mark.parametrize("value", ["20250301", "1740787200", "2025-3-1"])
def test_a_compact_date_or_a_number_is_refused_as_the_api_refuses_it(small, value):
    _, url = small
    [provider_id, *_] = [e["provider_id"] for e in json_of("registry", "-d", url)["items"]]
    result = run("history", provider_id, "-d", url, "--known-at", value, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "neither a day (YYYY-MM-DD) nor an ISO instant" in result.stderr


def test_digest_verify_and_import_say_what_happened(small, tmp_path):
    _, url = small
    digest = tmp_path / "head.json"
    taken = json_of("digest", str(digest), "-d", url)
    assert taken["position"] == open_store(url).max_position()
    result = run("verify", "--digest", str(digest), "-d", url)
    assert "the digest matched" in result.stdout
    assert json_of("verify", "--digest", str(digest), "-d", url)["digest_matched"] is True


def test_every_data_command_speaks_json(small, tmp_path):
    _, url = small
    with bootstrap(Settings(database_url=url)) as found:
        [sanction, pid] = next(
            (s, e.provider_id) for e in found.views.registry().items for s in found.views.provider(e.provider_id).sanctions
        )
    for args in [("provider", pid), ("timeline", pid), ("history", pid, "--effective-at", "2025-01-01"), ("explain", sanction.ref),
                 ("whatif", pid, "--void", sanction.evidence[0]), ("verify",), ("export", str(tmp_path / "e.jsonl")),
                 ("registry", "--known-at", "2025-01-01"), ("replay",)]:  # fmt: skip
        assert isinstance(json_of(*args, "-d", url), dict), args
    assert json.loads(run("schema").stdout)["$defs"]


def test_every_option_and_argument_has_help():
    missing = []
    for name, command in typer.main.get_command(app).commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, (Option, Argument)) and param.name != "help" and not getattr(param, "help", None):
                missing.append(f"{name} {param.name}")
    assert missing == []
