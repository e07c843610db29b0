"""The two-year demo data set: every planned command succeeds, and the outcome has every kind of removal."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ledger.aggregates import Provider
from ledger.application import Ledger
from ledger.clock import ManualClock, SystemClock
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.demo import (
    DEMO_END,
    DEMO_START,
    DeadlineSweep,
    Deferred,
    DemoError,
    demo_plan,
    plan_fingerprint,
    registry_summary,
    run_demo,
)
from ledger.demo.plan import JURISDICTIONS
from ledger.demo.run import _provider_ids
from tests.support.memory_store import MemoryEventStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan():
    return demo_plan()


@pytest.fixture(scope="module")
def demo(plan):
    ledger = Ledger(MemoryEventStore(), ManualClock(DEMO_START), handlers=HANDLERS)
    calls: list[tuple[int, int]] = []
    summary = run_demo(ledger, plan, progress=lambda done, total: calls.append((done, total)))
    return ledger, summary, calls


def _rows(ledger) -> dict[str, dict]:
    return {row["jurisdiction"]: row for row in registry_summary(ledger)}


def _command(entry) -> type[m.Command]:
    if isinstance(entry, DeadlineSweep):
        return m.RecordPassedDeadlines
    return entry.command if isinstance(entry, Deferred) else type(entry)


def test_every_planned_command_is_recorded(plan, demo):
    ledger, summary, calls = demo
    assert summary.commands == len(plan)
    assert calls[-1] == (len(plan), len(plan)) and len(calls) == len(plan)
    assert summary.events == ledger.store.max_position() >= summary.commands
    assert summary.seconds < 120, f"the demo took {summary.seconds}s"  # about 3-8 s on a 2-core machine


def test_size_of_the_data_set(demo):
    ledger, summary, _ = demo
    rows = _rows(ledger)
    assert set(rows) == set(JURISDICTIONS)
    assert sum(row["providers"] for row in rows.values()) >= 200
    assert all(row["providers"] >= 25 for row in rows.values())
    assert summary.providers >= 200
    assert summary.projects >= 300
    for name in ("RateSatisfaction", "RecordPayment", "FileComplaint", "VerifyComplaint", "RecordFinding", "CompleteRectification",
                 "RecordRectificationRefusal", "RecordPassedDeadlines", "WithdrawFromPool", "WithholdFees", "RecordProfileChange",
                 "RecordScore", "RecordEvaluation", "RecordStarRating", "RecordMajorChange", "RaiseObjection", "FileAppeal", "DecideAppeal"):  # fmt: skip
        assert summary.by_command.get(name, 0) > 0, name


def test_every_kind_of_removal_and_reinstatement(demo):
    ledger, _, _ = demo
    rows = _rows(ledger)
    standing = Counter()
    for row in rows.values():
        standing.update(row["by_status"])
    for status in ("removed", "disqualified", "blacklisted", "gray_listed", "reinstated", "exited", "refused", "lapsed"):
        assert standing[status] >= 1, status

    def sanctions(j: str) -> dict[str, int]:
        return rows[j]["sanctions_by_article"]

    assert sanctions("tianjin")["第十二条（2） removal"] >= 1  # graded C or D
    assert sanctions("tianjin")["第十二条（四） removal"] >= 1  # three verified complaints
    assert sanctions("xinxiang")["第十六条（一） disqualification"] >= 1  # two warnings
    assert sanctions("xinxiang")["第十八条 pool_exit"] >= 1  # an unanswered report
    assert sanctions("province")["四（三） clearance"] >= 1  # unqualified two years running
    assert sanctions("tangshan")["第十三条（二） blacklisting"] >= 1  # two 不满意
    assert sanctions("tangshan")["第十三条（一） blacklisting"] >= 1  # a third order, or a refusal
    assert sanctions("liuzhou")["第十四条（五） gray_listing"] >= 1  # more than 10 enterprises 不满意
    assert sanctions("liuzhou")["第十二条（六） rectification_order"] >= 1  # more than 5 enterprises 不满意
    # upheld appeals rescinded removals in the two rulebooks that have grounds of appeal
    assert rows["xinxiang"]["rescinded_by_article"]["第十六条（一） disqualification"] >= 1
    assert rows["tangshan"]["rescinded_by_article"]
    assert rows["xinxiang"]["by_status"]["reinstated"] >= 1 and rows["tangshan"]["by_status"]["reinstated"] >= 1


def test_the_plan_is_chronological_with_late_recorded_facts(plan):
    instants = [when for when, _ in plan]
    assert instants == sorted(instants)
    assert instants[0].date() >= DEMO_START and instants[-1].date() <= DEMO_END
    ids = [entry.command_id for _, entry in plan]
    assert len(set(ids)) == len(ids)
    assert [_command(e) for _, e in plan[:4]] == [m.DeclareRulebookValidity] * 4
    late = Counter(
        _command(entry).__name__
        for when, entry in plan
        if not isinstance(entry, (Deferred, DeadlineSweep)) and entry.effective_on is not None and entry.effective_on < when.date()
    )
    assert late["VerifyComplaint"] >= 1 and late["RecordAcceptance"] >= 1 and late["RateSatisfaction"] >= 1
    lazy = Counter(entry.command.__name__ for _, entry in plan if isinstance(entry, Deferred))
    assert {"FileAppeal", "CompleteRectification", "RecordRectificationRefusal", "RecordFinding"} <= set(lazy)


def test_the_plan_is_deterministic_for_a_seed(plan):
    again = demo_plan()
    assert again == plan
    assert plan_fingerprint(again) == plan_fingerprint(plan)
    assert plan_fingerprint(demo_plan(seed=7)) != plan_fingerprint(plan)


def test_the_plan_does_not_depend_on_hash_randomisation(plan):
    code = "from ledger.demo import demo_plan, plan_fingerprint; print(plan_fingerprint(demo_plan()))"
    for hash_seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == plan_fingerprint(plan)


def test_run_demo_needs_a_manual_clock():
    with pytest.raises(DemoError, match="ManualClock"):
        run_demo(Ledger(MemoryEventStore(), SystemClock(), handlers=HANDLERS), [])


def test_run_demo_raises_on_the_first_failing_command():
    ledger = Ledger(MemoryEventStore(), ManualClock(DEMO_START), handlers=HANDLERS)
    when = demo_plan()[0][0]
    plan = [(when, m.AdmitProvider(command_id="bad-1", provider_id="NOBODY"))]
    with pytest.raises(DemoError, match="AdmitProvider bad-1") as raised:
        run_demo(ledger, plan)
    assert "NOBODY" in str(raised.value.__cause__)


def test_run_demo_refuses_a_clock_past_the_plan():
    ledger = Ledger(MemoryEventStore(), ManualClock(date(2026, 1, 1)), handlers=HANDLERS)
    with pytest.raises(DemoError, match="ManualClock"):
        run_demo(ledger, demo_plan()[:1])


def test_reinstated_providers_have_their_removal_rescinded(demo):
    ledger, _, _ = demo
    reinstated = [p for p in (ledger.load(Provider, i) for i in _provider_ids(ledger)) if p.status == "reinstated"]
    assert reinstated
    for provider in reinstated:
        assert not provider.active_removals()
        assert any(s["rescinded_on"] is not None for s in provider.sanctions.values())
        assert provider.voided


# --- the number of providers: the option's real range ---------------------------------------


def _demo_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    return subprocess.run([sys.executable, "-m", "ledger", "demo", "-d", url, *args], cwd=tmp_path, env=env, capture_output=True, text=True)


def test_the_cli_gives_the_demo_its_real_range_of_providers():
    """`ledger demo --providers` takes MIN_PROVIDERS .. MAX_PROVIDERS: the option says so (the CLI keeps
    the numbers without importing the demo, for a fast start: they must be the demo's own)."""
    from ledger import cli
    from ledger.demo.plan import MAX_PROVIDERS, MIN_PROVIDERS

    assert cli.DEMO_PROVIDERS == (MIN_PROVIDERS, MAX_PROVIDERS)


@pytest.mark.parametrize("seed", [2024, 1, 7])
def test_a_plan_of_the_most_providers_is_generated(seed):
    from ledger.demo.plan import MAX_PROVIDERS

    plan = demo_plan(seed=seed, providers=MAX_PROVIDERS)
    assert sum(1 for _, entry in plan if _command(entry) is m.SubmitApplication) >= MAX_PROVIDERS


def test_a_plan_of_more_providers_is_refused_up_front():
    from ledger.demo.plan import MAX_PROVIDERS

    with pytest.raises(ValueError, match=f"at most {MAX_PROVIDERS} providers, not {MAX_PROVIDERS + 1}"):
        demo_plan(providers=MAX_PROVIDERS + 1)


def test_more_providers_than_the_names_allow_are_refused_in_one_line(tmp_path):
    """`ledger demo --providers 1500` failed after planning with 'error: ran out of names': refused before
    anything is done, in one line naming the range, exit 2; --help shows the range."""
    from ledger.demo.plan import MAX_PROVIDERS

    for too_many in (MAX_PROVIDERS + 1, 1500):
        refused = _demo_cli(tmp_path, "--providers", str(too_many))
        assert refused.returncode == 2, refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert "--providers" in line and str(MAX_PROVIDERS) in line, line
        assert not (tmp_path / "demo.db").exists()
    shown = _demo_cli(tmp_path, "--help")
    assert f"5<=x<={MAX_PROVIDERS}" in " ".join(shown.stdout.split())
