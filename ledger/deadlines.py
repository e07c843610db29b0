"""The scheduler's sweep: one ``RecordPassedDeadlines`` command per provider with a deadline passed.

A single command that touched every provider would conflict with every write
made while it ran (optimistic concurrency over all aggregates) and retry until it
gave up. The sweep instead *reads* the ledger to find the providers with
something due, then records each provider's deadlines in a command of its own;
the handler checks again on fresh state, so a sweep racing a write records what
is due when its command runs, and a sweep run twice records nothing the second
time.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from uuid import uuid4

from ledger import wire
from ledger.aggregates import Complaint, DomainError, Provider
from ledger.application import CommandResult, Ledger
from ledger.clock import business_date
from ledger.commands.handlers import answer_deadline_passed
from ledger.commands.models import RecordPassedDeadlines
from ledger.store.base import event_ref

OVERDUE_EVENTS = ("provider.rectification-overdue.v1", "complaint.answer-overdue.v1")


@dataclass
class SweepResult:
    as_of: date
    #: provider id -> what its command recorded
    results: dict[str, CommandResult] = field(default_factory=dict)

    @property
    def deadlines(self) -> int:
        """Deadlines recorded as passed (rectification orders and complaint answers)."""
        return sum(name in OVERDUE_EVENTS for r in self.results.values() for name in r.events)

    @property
    def sanctions(self) -> int:
        """Sanctions derived from them."""
        return sum(name == "provider.sanction-imposed.v1" for r in self.results.values() for name in r.events)


def _business_ids(ledger: Ledger, aggregate: str, attribute: str) -> list[str]:
    """Business ids of every aggregate of a kind, from the first event of each."""
    ids = wire.aggregate_ids(ledger.store, aggregate)
    first = ledger.store.read_refs([event_ref(i, 1) for i in ids])
    return [wire.decode_state(first[event_ref(i, 1)])[attribute] for i in ids]


def due(ledger: Ledger, as_of: date) -> dict[str, list[str]]:
    """provider id -> complaints against it whose answer deadline passed, for every provider
    with an answer or a rectification deadline passed by ``as_of`` and not yet recorded."""
    complaints = (ledger.load(Complaint, complaint_id) for complaint_id in _business_ids(ledger, "complaint", "complaint_id"))
    providers = (ledger.load(Provider, provider_id) for provider_id in _business_ids(ledger, "provider", "provider_id"))
    return due_among(complaints, providers, as_of)


def due_among(complaints: Iterable[Complaint], providers: Iterable[Provider], as_of: date) -> dict[str, list[str]]:
    """:func:`due` over aggregates however they were loaded (the store, or a Kafka consumer's fold)."""
    found: dict[str, list[str]] = defaultdict(list)
    for complaint in complaints:
        if answer_deadline_passed(complaint, as_of):
            found[complaint.provider_id].append(complaint.complaint_id)
    for provider in providers:
        if provider.rectifications_due(as_of):  # none of a provider out of the pool since before its deadline
            found.setdefault(provider.provider_id, [])
    return dict(found)


def sweep(
    ledger: Ledger,
    as_of: date | None = None,
    *,
    sweep_id: str | None = None,
    recorded_by: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    todo: dict[str, list[str]] | None = None,
) -> SweepResult:
    """Record every deadline passed by ``as_of`` (default: today), one command per provider.

    Each command's id is ``<sweep_id>:<provider id>`` (``sweep_id`` defaults to a fresh one).
    ``todo`` is what is due when the caller knows it already (:func:`due_among`; the
    Kafka deadline consumer); each command checks again on fresh state anyway.
    """
    today = business_date(ledger.clock.now())
    as_of = as_of or today
    if as_of > today:
        raise DomainError(f"{as_of} is in the future (today is {today}): a deadline cannot have passed yet")
    result = SweepResult(as_of)
    todo = due(ledger, as_of) if todo is None else todo
    sweep_id = sweep_id or f"deadlines:{as_of}:{uuid4().hex[:12]}"
    for done, (provider_id, complaint_ids) in enumerate(sorted(todo.items()), 1):
        command = RecordPassedDeadlines(
            command_id=f"{sweep_id}:{provider_id}",
            provider_id=provider_id,
            as_of=as_of,
            complaint_ids=complaint_ids,
            recorded_by=recorded_by,
        )
        result.results[provider_id] = ledger.execute(command)
        if progress is not None:
            progress(done, len(todo))
    return result
