"""Running a plan on a ledger, and what the demo recorded, per jurisdiction."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger import wire
from ledger.aggregates import Provider
from ledger.application import Ledger
from ledger.clock import ManualClock, business_date
from ledger.commands import models as m
from ledger.deadlines import sweep
from ledger.demo.data import CONFIG
from ledger.demo.plan import DEMO_START, JURISDICTIONS, DeadlineSweep, Deferred, DemoError, PlanEntry
from ledger.rules import PACKS
from ledger.standing import standing_label
from ledger.store.base import event_ref
from ledger.wire import decode_state


@dataclass
class DemoSummary:
    commands: int
    events: int
    seconds: float
    providers: int  # applications
    projects: int
    by_command: dict[str, int]
    registry: list[dict[str, Any]]


SCHEDULER = "数字化转型服务商资源池 (demo scheduler)"


def _recorder(command: m.Command) -> str:
    """Who records a demo command: the bureau of the jurisdiction it concerns."""
    jurisdiction = getattr(command, "jurisdiction", None)
    if jurisdiction is None:
        for name in ("provider_id", "project_id", "complaint_id", "appeal_id"):
            value = getattr(command, name, None)
            if value:
                code = value.split("-", 1)[0]
                jurisdiction = next((j for j, c in CONFIG.items() if c.code == code), None)
                break
    return CONFIG[jurisdiction].bureau if jurisdiction in CONFIG else SCHEDULER


def run_demo(
    ledger: Ledger,
    plan: Sequence[PlanEntry],
    progress: Callable[[int, int], None] | None = None,
    due: Callable[[date], dict[str, list[str]]] | None = None,
) -> DemoSummary:
    """Execute every entry of the plan at its instant (the ledger's ManualClock is moved there).

    Every command must succeed: the first that fails raises :class:`DemoError` naming
    it, with the domain's error as its cause. Run on an empty ledger whose clock starts
    at or before ``DEMO_START``. ``due`` says what a deadline sweep finds due on a day
    (``ReadModels.deadlines_due`` once the read models hold the log, as ``ledger deadlines``
    does); without it each sweep folds every provider and complaint (:func:`ledger.deadlines.due`).
    """
    clock = ledger.clock
    if not isinstance(clock, ManualClock):
        raise DemoError(f"the demo moves the ledger's clock: build the Ledger with a ManualClock (got {type(clock).__name__})")
    total = len(plan)
    events = 0
    by_command: Counter[str] = Counter()
    started = time.perf_counter()
    for done, (when, entry) in enumerate(plan, 1):
        label = f"demo entry {done}/{total} at {when.isoformat()}"
        try:
            clock.set(when)
        except ValueError as error:
            raise DemoError(f"{label}: {error}; start the ManualClock at or before {DEMO_START}") from error
        if isinstance(entry, DeadlineSweep):
            try:
                todo = due(business_date(when)) if due is not None else None
                swept = sweep(ledger, sweep_id=entry.command_id, recorded_by=SCHEDULER, todo=todo)
            except Exception as error:
                raise DemoError(f"{label}: the deadline sweep {entry.command_id} failed: {error}") from error
            events += sum(len(r.positions) for r in swept.results.values())
            by_command["RecordPassedDeadlines"] += len(swept.results)
            if progress is not None:
                progress(done, total)
            continue
        try:
            command = entry(ledger) if isinstance(entry, Deferred) else entry
        except (LookupError, ValueError) as error:
            raise DemoError(f"{label}: cannot build {entry.command.__name__} {entry.command_id}: {error}") from error  # type: ignore[union-attr]
        if command.recorded_by is None:
            command = command.model_copy(update={"recorded_by": _recorder(command)})
        try:
            result = ledger.execute(command)
        except Exception as error:
            raise DemoError(f"{label}: {type(command).__name__} {command.command_id} failed: {error}\n{command.model_dump_json()}") from error
        if result.duplicate:
            raise DemoError(f"{label}: {type(command).__name__} {command.command_id} was already recorded: run the demo on an empty ledger")
        events += len(result.positions)
        by_command[type(command).__name__] += 1
        if progress is not None:
            progress(done, total)
    seconds = time.perf_counter() - started
    return DemoSummary(
        commands=total,
        events=events,
        seconds=round(seconds, 2),
        providers=by_command["SubmitApplication"],
        projects=by_command["RegisterProject"],
        by_command=dict(sorted(by_command.items())),
        registry=registry_summary(ledger),
    )


def _provider_ids(ledger: Ledger) -> list[str]:
    ids = wire.aggregate_ids(ledger.store, "provider")
    first = ledger.store.read_refs([event_ref(i, 1) for i in ids])
    return sorted(decode_state(first[event_ref(i, 1)])["provider_id"] for i in ids)


def registry_summary(ledger: Ledger) -> list[dict[str, Any]]:
    """Per jurisdiction: providers by status and sanctions by article.

    ``by_status`` counts providers by ``standing_label`` (in_pool, warned, rectifying,
    removed, disqualified, ...). ``sanctions_by_article`` counts the sanctions in force,
    ``rescinded_by_article`` those rescinded after an appeal, both keyed
    ``"<article> <sanction>"``, e.g. ``"第十六条（一） disqualification"``.
    """
    rows: dict[str, dict[str, Any]] = {}

    def row(j: str) -> dict[str, Any]:
        if j not in rows:
            document = PACKS[j].document if j in PACKS else ""
            rows[j] = {"jurisdiction": j, "document": document, "providers": 0, "by_status": Counter(), "sanctions_by_article": Counter(), "rescinded_by_article": Counter()}
        return rows[j]

    for j in JURISDICTIONS:
        row(j)
    for provider_id in _provider_ids(ledger):
        provider = ledger.load(Provider, provider_id)
        counts = row(provider.jurisdiction)
        counts["providers"] += 1
        counts["by_status"][standing_label(provider)] += 1
        for sanction in provider.sanctions.values():
            key = f"{sanction['citation']['article']} {sanction['sanction']}"
            counts["rescinded_by_article" if sanction["rescinded_on"] is not None else "sanctions_by_article"][key] += 1
    return [
        {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in counts.items()}
        for counts in rows.values()
    ]
