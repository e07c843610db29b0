"""Standing and registry as of any instant, on both time axes — folded from the event store.

- *recorded* axis, ``known_at=T``: only events with ``recorded_at <= T`` — what
  the ledger knew at T. A ``date`` means the end of that day in the bureaus'
  calendar (Asia/Shanghai): everything recorded on or before it.
- *effective* axis, ``effective_at=D``: only events with ``effective_on <= D``
  — what had taken effect by D, as far as the ledger knows now.
- both at once: "what did we know on 1 June about 1 March" is
  ``known_at=date(…, 6, 1), effective_at=date(…, 3, 1)``.

This reads the event store; the registry as of a window reads the read models' history of
registry lines where they answer it (:func:`registry_as_of`).

**Skipping events and aggregate versions.** The eventsourcing library refuses
to apply event *n* to an aggregate that is not at version *n − 1*. On the
recorded axis the selected events of one aggregate are (in practice) a prefix
of its stream, but on the effective axis they need not be: a derived sanction
takes effect on the day its condition became true while a rescission takes
effect on the day of the appeal, and facts may be back-dated. So before
applying each selected event we set ``aggregate.version`` to the event's
version − 1 (the property is settable): the skipped events are simply absent,
and refs computed during the fold (``next_ref``) are still the real refs of
the events. The events are applied in recorded (version) order, not sorted by
effective date, because each event was decided on the state recorded before
it. An event that depends on one that was skipped (e.g. the completion of a
rectification order that takes effect after D is not there to complete) cannot
be applied; it is left out too and reported in ``skipped``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ledger import wire
from ledger.aggregates.provider import Provider
from ledger.clock import LATEST, to_utc
from ledger.projections.providers import line_text, registry_line, standing_since
from ledger.projections.queries import ReadModels
from ledger.standing import standing
from ledger.store.base import EventStore, RecordedEvent


def _store(source: Any) -> EventStore:
    return source if isinstance(source, EventStore) else source.store


def instant(known_at: datetime | date) -> datetime:
    """An aware UTC instant; a date means the end of that business day (the start of the next, exclusive).

    A bound past the instants a datetime holds is clamped to the first or last of them (the same
    window: nothing is recorded outside them), so 9999-12-31 means everything."""
    if isinstance(known_at, datetime):
        return to_utc(known_at, clamp=True)
    if known_at >= date.max:
        return LATEST
    return to_utc(known_at + timedelta(days=1), clamp=True) - timedelta(microseconds=1)


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


@dataclass
class Folded:
    """A provider folded from a subset of its events."""

    provider: Provider | None
    applied: list[str] = field(default_factory=list)  # refs of the events applied
    excluded: list[str] = field(default_factory=list)  # refs outside the window
    skipped: list[dict[str, str]] = field(default_factory=list)  # inside the window, not applicable


def selected(event: RecordedEvent, known_at: datetime | None, effective_at: date | None) -> bool:
    if known_at is not None and _aware(event.recorded_at) > known_at:
        return False
    return not (effective_at is not None and event.effective_on is not None and event.effective_on > effective_at)


def fold_as_of(events: Iterable[RecordedEvent], known_at: datetime | date | None = None, effective_at: date | None = None) -> Folded:
    """Fold one aggregate's events (in version order) keeping those inside the window."""
    when = instant(known_at) if known_at is not None else None
    out = Folded(None)
    for event in events:
        if not selected(event, when, effective_at):
            out.excluded.append(event.ref)
            continue
        domain_event = wire.decode(event)
        if out.provider is None:
            if event.originator_version != 1:
                out.skipped.append({"ref": event.ref, "reason": "the aggregate's creation is outside the window"})
                continue
            out.provider = domain_event.mutate(None)
        else:
            # Documented choice: skipped events leave holes; jump the version over them.
            out.provider.version = event.originator_version - 1
            try:
                domain_event.mutate(out.provider)
            except (KeyError, AssertionError, TypeError) as error:
                out.skipped.append({"ref": event.ref, "reason": f"depends on an event outside the window ({error!r})"})
                continue
        out.applied.append(event.ref)
    if out.provider is not None and out.applied:
        out.provider.version = int(out.applied[-1].rsplit("/", 1)[1])
    return out


def provider_events(source: Any, provider_id: str) -> list[RecordedEvent]:
    return _store(source).read_aggregate(Provider.create_id(provider_id))


def standing_as_of(source: Any, provider_id: str, *, known_at: datetime | date | None = None, effective_at: date | None = None) -> dict[str, Any] | None:
    """The provider's :func:`~ledger.standing.standing` as of the window, or None if it had not applied.

    The dict also carries ``as_of`` (the window) and ``standing_since``.
    """
    folded = fold_as_of(provider_events(source, provider_id), known_at, effective_at)
    if folded.provider is None:
        return None
    return {
        **standing(folded.provider),
        "standing_since": standing_since(folded.provider).isoformat(),
        "as_of": _window(known_at, effective_at),
        "events_applied": len(folded.applied),
        "skipped": folded.skipped,
    }


#: the read models :func:`registry_as_of` reads when given them
HISTORY_TABLES = ("registry_history", "registry_out_of_order")


def registry_as_of(
    source: Any,
    *,
    known_at: datetime | date | None = None,
    effective_at: date | None = None,
    jurisdiction: str | None = None,
    models: ReadModels | None = None,
) -> list[dict[str, Any]]:
    """Every provider's registry line as of the window (same fields as the live registry's summary).

    Without ``models`` every provider is folded from its events. With them (read models holding
    every event, see :meth:`ReadModels.registry_as_of`), the lines come from rm_registry_history and
    only the providers with an event out of order inside the window are folded: what a call costs
    grows with the registry's changes, not with the log.
    """
    store = _store(source)
    if models is not None and not set(HISTORY_TABLES) & set(models.incomplete()):
        known = instant(known_at).isoformat() if known_at is not None else None
        lines, out_of_order = models.registry_as_of(known, effective_at.isoformat() if effective_at else None, jurisdiction)
        to_fold = [Provider.create_id(provider_id) for provider_id in out_of_order]
    else:
        lines, to_fold = [], wire.aggregate_ids(store, "provider")
    rows = list(lines)
    for originator_id in to_fold:
        provider = fold_as_of(store.read_aggregate(originator_id), known_at, effective_at).provider
        if provider is None or (jurisdiction is not None and provider.jurisdiction != jurisdiction):
            continue
        rows.append({"provider_id": provider.provider_id, **line_text(registry_line(provider))})
    return sorted(rows, key=lambda r: (r["jurisdiction"], r["provider_id"]))


def _window(known_at: datetime | date | None, effective_at: date | None) -> dict[str, str | None]:
    return {
        "known_at": instant(known_at).isoformat() if known_at is not None else None,
        "effective_at": effective_at.isoformat() if effective_at is not None else None,
    }
