"""Writers in several processes (each its own App, group commit per process) on one PostgreSQL log.

One interpreter runs Python on one core at a time; several writer processes use more. Their
transactions still queue on the log's write lock, so the log stays one gap-free chain: every
position 1..n once, every command recorded once however many processes submit it, and concurrent
writes to one aggregate are detected (a stale cached aggregate is a conflict, decided again on the
store's state), never merged.
"""
from __future__ import annotations

import multiprocessing
import random
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ledger.application import CommandConflict
from ledger.audit.verify import verify_store
from ledger.bootstrap import bootstrap
from ledger.clock import FixedClock
from ledger.commands import models as m
from ledger.settings import Settings
from tests.integration.scenario import credit_code_for, profile_changes_in_log

TODAY = date(2025, 3, 1)
PROVIDERS = ("WP-1", "WP-2", "WP-3")
PROCESSES = 3
THREADS = 2  # per process: group commit has something to group
CHANGES = 40  # profile changes, all submitted by every process (each in its own order)


def change(i: int) -> m.RecordProfileChange:
    return m.RecordProfileChange(
        command_id=f"change-{i}", provider_id=PROVIDERS[i % len(PROVIDERS)], field="address",
        new_value=f"No. {i}", changed_on=TODAY, reported_on=TODAY, major=False,
    )  # fmt: skip


def app_for(url: str):
    settings = Settings(database_url=url, operator="test", group_commit=True, pool_size=THREADS + 1)
    return bootstrap(settings, clock=FixedClock(datetime(2025, 3, 1, 10, tzinfo=timezone.utc)), projections=False)


def writer(url: str, k: int, barrier: Any, results: Any) -> None:
    """Process ``k``: every change, in an order of its own, from THREADS threads."""
    outcomes: list[tuple[str, tuple[int, ...], bool]] = []
    errors: list[str] = []
    order = list(range(CHANGES))
    random.Random(k).shuffle(order)
    app = app_for(url)
    try:
        # every process has the providers in its cache: the others' writes make them stale
        for provider_id in PROVIDERS:
            app.ledger.execute(m.RecordProfileChange(
                command_id=f"warm-{k}-{provider_id}", provider_id=provider_id, field="name", new_value=f"{provider_id} {k}",
                changed_on=TODAY, reported_on=TODAY, major=False,
            ))  # fmt: skip
        barrier.wait(60)

        def run(share: list[int]) -> None:
            for i in share:
                for _ in range(20):  # a command given up after conflicts is submitted again, same id
                    try:
                        result = app.ledger.execute(change(i))
                    except CommandConflict:
                        continue
                    except Exception as error:  # reported to the test
                        errors.append(repr(error))
                        return
                    outcomes.append((result.command_id, result.positions, result.duplicate))
                    break
                else:
                    errors.append(f"change-{i} kept conflicting")

        threads = [threading.Thread(target=run, args=(order[t::THREADS],)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        stats = app.ledger.committer.stats() if app.ledger.committer else {}
    finally:
        app.close()
    results.put({"outcomes": outcomes, "errors": errors, "stats": stats})


def test_writer_processes_keep_the_log_gap_free_and_record_each_command_once(postgres_url):
    app = app_for(postgres_url)
    try:
        app.ledger.execute(m.DeclareRulebookValidity(
            command_id="validity", jurisdiction="liuzhou", valid_from=date(2025, 1, 1), reference="test",
        ))  # fmt: skip
        for provider_id in PROVIDERS:
            app.ledger.execute(m.SubmitApplication(
                command_id=f"apply-{provider_id}", provider_id=provider_id, jurisdiction="liuzhou", name=f"{provider_id} Ltd",
                kind="集成服务商", credit_code=credit_code_for(provider_id), effective_on=TODAY - timedelta(days=8),
            ))  # fmt: skip
            app.ledger.execute(m.AdmitProvider(command_id=f"admit-{provider_id}", provider_id=provider_id))
        setup_events = app.store.max_position()
    finally:
        app.close()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=writer, args=(postgres_url, k, barrier, results)) for k in range(PROCESSES)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert [r["errors"] for r in reports] == [[]] * PROCESSES

    # every process got an outcome for every change; exactly one of them recorded it, the others
    # were told it was a duplicate, with the positions it was recorded at
    outcomes = [o for r in reports for o in r["outcomes"]]
    assert len(outcomes) == PROCESSES * CHANGES
    recorded = {command_id: positions for command_id, positions, duplicate in outcomes if not duplicate}
    assert sorted(recorded) == sorted(change(i).command_id for i in range(CHANGES))
    assert sum(not duplicate for _, _, duplicate in outcomes) == CHANGES
    for command_id, positions, _ in outcomes:
        assert positions == recorded[command_id]
    # the processes did collide on the shared providers, and the collisions were detected
    assert sum(r["stats"]["conflicts"] for r in reports) > 0

    check = app_for(postgres_url)
    try:
        events = list(check.store.read_all())
        total = setup_events + PROCESSES * len(PROVIDERS) + CHANGES
        assert [e.position for e in events] == list(range(1, total + 1))
        assert sorted(c.command_id for c in check.store.read_commands() if c.command_id.startswith("change-")) == sorted(recorded)
        report = verify_store(check.store)
        assert report.ok, report.reason
        # nothing merged: each provider's history is its own writes, one version each, none lost
        for provider_id in PROVIDERS:
            changes = [c for c in profile_changes_in_log(check.store, provider_id) if c["field"] == "address"]
            mine = [change(i).new_value for i in range(CHANGES) if PROVIDERS[i % len(PROVIDERS)] == provider_id]
            assert sorted(c["new"] for c in changes) == sorted(mine)
            # each change was decided on the state the one before it left (a decision on a stale
            # aggregate would record the wrong "old" value)
            assert [c["old"] for c in changes[1:]] == [c["new"] for c in changes[:-1]]
    finally:
        check.close()
