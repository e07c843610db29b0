"""The ``ledger`` command line, run as a user runs it: a subprocess on a real database."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.store import open_store

TIMEOUT = 600


def ledger(*args: str, cwd: Path | None = None, check: bool = True, columns: int = 200) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    env.pop("LEDGER_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "ledger", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ledger {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    """The README's demo, once for the module (the full data set, on the embedded default)."""
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder}/demo.db"
    result = ledger("demo", "-d", url)
    for jurisdiction in ("tianjin", "xinxiang", "province", "tangshan", "liuzhou"):
        assert jurisdiction in result.stdout
    assert "recording the demo ledger" in result.stderr  # the progress bar
    return url


def json_of(*args: str):
    return json.loads(ledger(*args, "--json").stdout)


def test_demo_has_every_kind_of_removal_and_a_reinstatement(demo_db):
    rows = json_of("registry", "-d", demo_db)["items"]
    assert len(rows) >= 200
    assert {r["jurisdiction"] for r in rows} == {"tianjin", "xinxiang", "province", "tangshan", "liuzhou"}
    standings = {r["standing"] for r in rows}
    assert {"removed", "disqualified", "blacklisted", "gray_listed", "reinstated", "in_pool"} <= standings
    listed = json_of("lists", "-d", demo_db)["items"]
    assert {e["list_kind"] for e in listed} == {"blacklist", "gray_list", "disqualified", "removed"}
    assert all(e["article"] and e["sanction_ref"] for e in listed)


def test_provider_standing_and_explain_name_the_article_and_evidence(demo_db):
    [entry, *_] = json_of("lists", "blacklist", "-d", demo_db)["items"]
    standing = json_of("provider", entry["provider_id"], "-d", demo_db)
    assert standing["standing"] == "blacklisted"
    [blacklisting] = [s for s in standing["sanctions"] if s["ref"] == entry["sanction_ref"]]
    assert blacklisting["article"] == entry["article"]
    explained = json_of("explain", entry["sanction_ref"], "-d", demo_db)
    assert entry["article"].split(" ")[1] in json.dumps(explained, ensure_ascii=False)
    text = ledger("explain", entry["provider_id"], "-d", demo_db).stdout
    assert entry["article"] in text


def test_replay_rebuilds_identical_read_models(demo_db):
    before = [json_of("registry", "-d", demo_db), json_of("lists", "-d", demo_db)]
    result = ledger("replay", "-d", demo_db)
    assert "rebuilt generation" in result.stdout
    after = [json_of("registry", "-d", demo_db), json_of("lists", "-d", demo_db)]
    assert after == before


def test_verify_passes_on_the_demo_and_fails_on_a_tampered_copy_naming_the_event(demo_db, tmp_path):
    assert ledger("verify", "-d", demo_db).stdout.startswith("OK:")
    source = Path(demo_db.removeprefix("sqlite:///"))
    copy = tmp_path / "tampered.db"
    shutil.copy(source, copy)
    with sqlite3.connect(copy) as db:  # behind the ledger's back, as a superuser would
        triggers = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='ledger_events'")]
        for name in triggers:
            db.execute(f"DROP TRIGGER {name}")
        [(position, originator, version)] = db.execute(
            "SELECT position, originator_id, originator_version FROM ledger_events WHERE state LIKE '%不满意%' ORDER BY position LIMIT 1"
        ).fetchall()
        db.execute("UPDATE ledger_events SET state = replace(state, '不满意', '满意') WHERE position = ?", (position,))
    result = ledger("verify", "-d", f"sqlite:///{copy}", check=False)
    assert result.returncode == 1
    assert f"position {position}" in result.stderr
    assert str(version) in result.stderr and str(originator)[:8] in result.stderr

    export = tmp_path / "events.jsonl"
    ledger("export", str(export), "-d", demo_db)
    assert ledger("verify", "--export", str(export)).stdout.startswith("OK:")


def test_history_as_recorded_before_the_removal(demo_db):
    [entry, *_] = json_of("lists", "blacklist", "-d", demo_db)["items"]
    from datetime import date, timedelta

    day_before = date.fromisoformat(entry["recorded_at"][:10]) - timedelta(days=1)
    known = json_of("history", entry["provider_id"], "--known-at", day_before.isoformat(), "-d", demo_db)
    assert known["standing"]["standing"] != "blacklisted"
    assert not [s for s in known["standing"]["sanctions"] if s["ref"] == entry["sanction_ref"]]
    assert known["view"].startswith(f"as known at {day_before.isoformat()} 23:59:59 (Asia/Shanghai)")
    now = json_of("history", entry["provider_id"], "--known-at", entry["recorded_at"][:10], "-d", demo_db)
    assert now["standing"]["standing"] == "blacklisted"
    text = ledger("history", entry["provider_id"], "--effective-at", day_before.isoformat(), "-d", demo_db).stdout
    assert f"as in effect on {day_before.isoformat()} (Asia/Shanghai)" in text


IMPORT_OK = [
    {"type": "SubmitApplication", "command_id": "i-1", "provider_id": "TJ-X1", "jurisdiction": "tianjin", "name": "天津某科技有限公司", "credit_code": "91120116MA05K2XQ36", "kind": "云服务商", "effective_on": "2024-03-01"},
    {"type": "OpenPublicNotice", "command_id": "i-2", "provider_id": "TJ-X1", "effective_on": "2024-03-01"},
    {"type": "ClosePublicNotice", "command_id": "i-3", "provider_id": "TJ-X1", "last_day": "2024-03-07", "effective_on": "2024-03-08"},
]


def write_lines(path: Path, lines: list) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    return path


def test_import_records_the_whole_file_and_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    source = write_lines(tmp_path / "ok.jsonl", IMPORT_OK)
    assert "recorded 3 command(s)" in ledger("import", str(source), "-d", url).stdout
    assert json_of("provider", "TJ-X1", "-d", url)["standing"] == "in_pool"
    again = ledger("import", str(source), "-d", url).stdout
    assert "recorded 0 command(s): all 3 already recorded before (same command ids); nothing new" in again
    assert json_of("import", str(source), "-d", url) == {"recorded": 0, "events": 0, "already_recorded": ["i-1", "i-2", "i-3"]}


def test_import_reports_each_bad_line_and_records_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    bad = write_lines(
        tmp_path / "bad.jsonl",
        [IMPORT_OK[0], {"type": "OpenPublicNotice", "command_id": "i-2"}, "{not json", {"type": "NoSuchCommand", "command_id": "x"}],
    )
    result = ledger("import", str(bad), "-d", url, check=False)
    assert result.returncode == 1
    assert "line 2: OpenPublicNotice.provider_id: Field required" in result.stderr
    assert "line 3:" in result.stderr and "line 4:" in result.stderr
    assert "nothing was recorded" in result.stderr
    assert not Path(f"{tmp_path}/ledger.db").exists() or open_store(url).max_position() == 0


def test_import_stops_at_a_rule_violation_and_records_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    early_close = dict(IMPORT_OK[2], last_day="2024-03-06")  # 天津 第十条: six days is too short
    result = ledger("import", str(write_lines(tmp_path / "rule.jsonl", [*IMPORT_OK[:2], early_close])), "-d", url, check=False)
    assert result.returncode == 1
    assert "line 3" in result.stderr and "第十条" in result.stderr and "nothing was recorded" in result.stderr
    store = open_store(url)
    try:
        assert store.max_position() == 0
    finally:
        store.close()


def test_schema_lists_every_command():
    from ledger.commands.models import ALL_COMMANDS

    schema = json.loads(ledger("schema").stdout)
    assert {c.__name__ for c in ALL_COMMANDS} <= set(schema["$defs"])


def test_unknown_provider_and_bad_dates_are_clear_errors(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger("import", str(write_lines(tmp_path / "ok.jsonl", IMPORT_OK)), "-d", url)
    missing = ledger("provider", "NOPE", "-d", url, check=False)
    assert missing.returncode == 1 and "no provider 'NOPE'" in missing.stderr
    bad_date = ledger("deadlines", "--now", "2025-13-01", "-d", url, check=False)
    assert bad_date.returncode == 2 and "--now" in bad_date.stderr


def test_deadlines_records_passed_deadlines(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger("import", str(write_lines(tmp_path / "ok.jsonl", IMPORT_OK)), "-d", url)
    result = ledger("deadlines", "--now", "2024-06-30", "-d", url)
    assert "0 deadline(s) recorded as passed by 2024-06-30 for 0 provider(s)" in result.stdout
    assert json_of("deadlines", "--now", "2024-06-30", "-d", url) == {"as_of": "2024-06-30", "deadlines": 0, "sanctions": 0, "providers": {}}


@pytest.mark.postgres
def test_demo_on_postgresql_replays_and_verifies(postgres_url):
    url = postgres_url
    ledger("demo", "-d", url, "--providers", "40")
    assert ledger("verify", "-d", url).stdout.startswith("OK:")
    before = json_of("registry", "-d", url)
    ledger("replay", "-d", url)
    assert json_of("registry", "-d", url) == before
    refused = ledger("demo", "-d", url, "--providers", "5", check=False)
    assert refused.returncode == 1 and "already holds a ledger" in refused.stderr and "--replace" in refused.stderr
    assert json_of("registry", "-d", url) == before  # untouched
    ledger("demo", "-d", url, "--providers", "5", "--replace")
    assert json_of("registry", "-d", url)["total"] < before["total"]
    assert ledger("verify", "-d", url).stdout.startswith("OK:")
