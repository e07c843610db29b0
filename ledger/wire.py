"""The event contract: how a domain event is stored, read back, exported and published.

Everything that leaves the process — the ``topic`` column of the log, an export
line, a Kafka message, an API response — names an event by its *stable
registered name*, ``<aggregate>.<kebab-event>.v<N>`` (``provider.sanction-imposed.v1``),
never by where its Python class lives. :data:`EVENT_TYPES` is the registry; renaming
a class or moving a module changes only the right-hand side of a line there, never
what is stored or published. A new version of an event's attributes gets a new
name (``.v2``) and keeps the old one decodable.

Ledgers written before the registry existed stored the class's module path
(``ledger.aggregates.provider:Provider.Admitted``); :data:`LEGACY_TOPICS` maps
those, literally, to the stable names, so old ledgers keep reading and their hash
chains (which cover the topic as stored) keep verifying.

The attributes are JSON (the ``eventsourcing`` library's transcoder, with dates,
datetimes, UUIDs and decimals as ISO strings/hex/str): :data:`FORMAT_VERSION`
names that encoding and the export/publish envelope around it.

The hash chain is *not* computed here: the stores hash what they write
(:func:`ledger.store.base.chain_hash`) and the verifier recomputes it on its
own, so a bug in this module cannot make a forged event look sound.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

from ledger.aggregates import Appeal, Complaint, Entity, Project, Provider, Rulebook
from ledger.aggregates.base import LedgerAggregate
from ledger.clock import business_date
from ledger.store.base import EventStore, NewEvent, RecordedEvent

#: Version of the encoding of an event's attributes and of the envelope around them
#: (export lines, published messages). Bump it when either changes shape.
FORMAT_VERSION = 1

#: ``provider.sanction-imposed.v1``: aggregate, kebab-case event, version.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.v[1-9][0-9]*$")

# (stable name, aggregate, its event class, the module-path topic ledgers stored before the registry);
# the classes are made by the aggregates' @event decorators, hence named here rather than imported
_REGISTRY: tuple[tuple[str, type[LedgerAggregate], str, str], ...] = (
    ("provider.applied.v1", Provider, "Applied", "ledger.aggregates.provider:Provider.Applied"),
    ("provider.public-notice-opened.v1", Provider, "PublicNoticeOpened", "ledger.aggregates.provider:Provider.PublicNoticeOpened"),
    ("provider.objection-raised.v1", Provider, "ObjectionRaised", "ledger.aggregates.provider:Provider.ObjectionRaised"),
    ("provider.objection-resolved.v1", Provider, "ObjectionResolved", "ledger.aggregates.provider:Provider.ObjectionResolved"),
    ("provider.public-notice-closed.v1", Provider, "PublicNoticeClosed", "ledger.aggregates.provider:Provider.PublicNoticeClosed"),
    ("provider.admitted.v1", Provider, "Admitted", "ledger.aggregates.provider:Provider.Admitted"),
    ("provider.admission-refused.v1", Provider, "AdmissionRefused", "ledger.aggregates.provider:Provider.AdmissionRefused"),
    ("provider.application-lapsed.v1", Provider, "ApplicationLapsed", "ledger.aggregates.provider:Provider.ApplicationLapsed"),
    ("provider.profile-changed.v1", Provider, "ProfileChanged", "ledger.aggregates.provider:Provider.ProfileChanged"),
    ("provider.score-recorded.v1", Provider, "ScoreRecorded", "ledger.aggregates.provider:Provider.ScoreRecorded"),
    ("provider.evaluation-recorded.v1", Provider, "EvaluationRecorded", "ledger.aggregates.provider:Provider.EvaluationRecorded"),
    ("provider.stars-rated.v1", Provider, "StarsRated", "ledger.aggregates.provider:Provider.StarsRated"),
    ("provider.fact-noted.v1", Provider, "FactNoted", "ledger.aggregates.provider:Provider.FactNoted"),
    ("provider.finding-recorded.v1", Provider, "FindingRecorded", "ledger.aggregates.provider:Provider.FindingRecorded"),
    ("provider.sanction-imposed.v1", Provider, "SanctionImposed", "ledger.aggregates.provider:Provider.SanctionImposed"),
    ("provider.rectification-completed.v1", Provider, "RectificationCompleted", "ledger.aggregates.provider:Provider.RectificationCompleted"),
    ("provider.rectification-refused.v1", Provider, "RectificationRefused", "ledger.aggregates.provider:Provider.RectificationRefused"),
    ("provider.rectification-overdue.v1", Provider, "RectificationOverdue", "ledger.aggregates.provider:Provider.RectificationOverdue"),
    ("provider.evidence-voided.v1", Provider, "EvidenceVoided", "ledger.aggregates.provider:Provider.EvidenceVoided"),
    ("provider.sanction-rescinded.v1", Provider, "SanctionRescinded", "ledger.aggregates.provider:Provider.SanctionRescinded"),
    ("provider.reinstated.v1", Provider, "Reinstated", "ledger.aggregates.provider:Provider.Reinstated"),
    ("provider.exited.v1", Provider, "Exited", "ledger.aggregates.provider:Provider.Exited"),
    ("provider.fees-withheld.v1", Provider, "FeesWithheld", "ledger.aggregates.provider:Provider.FeesWithheld"),
    ("project.registered.v1", Project, "Registered", "ledger.aggregates.project:Project.Registered"),
    ("project.diagnosed.v1", Project, "Diagnosed", "ledger.aggregates.project:Project.Diagnosed"),
    ("project.filing-submitted.v1", Project, "FilingSubmitted", "ledger.aggregates.project:Project.FilingSubmitted"),
    ("project.filing-decided.v1", Project, "FilingDecided", "ledger.aggregates.project:Project.FilingDecided"),
    ("project.major-change-recorded.v1", Project, "MajorChangeRecorded", "ledger.aggregates.project:Project.MajorChangeRecorded"),
    ("project.implementation-started.v1", Project, "ImplementationStarted", "ledger.aggregates.project:Project.ImplementationStarted"),
    ("project.acceptance-decided.v1", Project, "AcceptanceDecided", "ledger.aggregates.project:Project.AcceptanceDecided"),
    ("project.satisfaction-rated.v1", Project, "SatisfactionRated", "ledger.aggregates.project:Project.SatisfactionRated"),
    ("project.payment-recorded.v1", Project, "PaymentRecorded", "ledger.aggregates.project:Project.PaymentRecorded"),
    ("project.prepayment-recoverable.v1", Project, "PrepaymentRecoverable", "ledger.aggregates.project:Project.PrepaymentRecoverable"),
    ("project.withholding-reviewed.v1", Project, "WithholdingReviewed", ""),  # added after the registry: no legacy topic
    ("complaint.filed.v1", Complaint, "Filed", "ledger.aggregates.complaint:Complaint.Filed"),
    # v2 adds ``nature`` (complaint 投诉 / report 举报); v1 events are upcast on read (Complaint.Filed)
    ("complaint.filed.v2", Complaint, "Filed", ""),
    ("complaint.answer-requested.v1", Complaint, "AnswerRequested", "ledger.aggregates.complaint:Complaint.AnswerRequested"),
    ("complaint.answered.v1", Complaint, "Answered", "ledger.aggregates.complaint:Complaint.Answered"),
    ("complaint.answer-overdue.v1", Complaint, "AnswerOverdue", "ledger.aggregates.complaint:Complaint.AnswerOverdue"),
    ("complaint.verified.v1", Complaint, "Verified", "ledger.aggregates.complaint:Complaint.Verified"),
    ("appeal.filed.v1", Appeal, "Filed", "ledger.aggregates.complaint:Appeal.Filed"),
    ("appeal.decided.v1", Appeal, "Decided", "ledger.aggregates.complaint:Appeal.Decided"),
    ("rulebook.opened.v1", Rulebook, "Opened", "ledger.aggregates.rulebook:Rulebook.Opened"),
    ("rulebook.validity-declared.v1", Rulebook, "ValidityDeclared", "ledger.aggregates.rulebook:Rulebook.ValidityDeclared"),
    ("rulebook.parameters-set.v1", Rulebook, "ParametersSet", "ledger.aggregates.rulebook:Rulebook.ParametersSet"),
    # added after the registry (2026-12): an entity's credit code and the provider ids it applied under
    ("entity.credit-code-reserved.v1", Entity, "CreditCodeReserved", ""),
    ("entity.credit-code-reserved-again.v1", Entity, "CreditCodeReservedAgain", ""),
)  # fmt: skip

#: stable name -> event class
EVENT_TYPES: dict[str, type[LedgerAggregate.Event]] = {name: getattr(aggregate, event) for name, aggregate, event, _ in _REGISTRY}
#: topic stored by ledgers written before the registry -> stable name
LEGACY_TOPICS: dict[str, str] = {legacy: name for name, _, _, legacy in _REGISTRY if legacy}
#: attributes a version of a type added over the one before (the older name's data lacks them)
ADDED_IN: dict[str, tuple[str, ...]] = {"complaint.filed.v2": ("nature",)}
#: aggregate part of the stable names -> aggregate class
AGGREGATES: dict[str, type[LedgerAggregate]] = {
    "provider": Provider, "project": Project, "complaint": Complaint, "appeal": Appeal, "rulebook": Rulebook,
    "entity": Entity,
}  # fmt: skip
_NAME_OF: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}  # the newest name of a class
#: aggregate -> the prefix of its module-path topics (aggregates added after the registry have none)
_LEGACY_PREFIX: dict[str, str] = {
    "provider": "ledger.aggregates.provider:Provider.",
    "project": "ledger.aggregates.project:Project.",
    "complaint": "ledger.aggregates.complaint:Complaint.",
    "appeal": "ledger.aggregates.complaint:Appeal.",
    "rulebook": "ledger.aggregates.rulebook:Rulebook.",
}


class UnknownEventType(ValueError):
    """A topic that is neither a registered name nor a legacy one, or an unregistered class."""


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO(), DecimalAsStr()):
        transcoder.register(transcoding)
    return transcoder


_mapper: Mapper[UUID] = Mapper(transcoder=_transcoder())


# -- names -----------------------------------------------------------------------------


def name_of(cls: type) -> str:
    """The stable name of an event class."""
    try:
        return _NAME_OF[cls]
    except KeyError:
        raise UnknownEventType(
            f"{cls.__module__}.{cls.__qualname__} has no registered name: add it to ledger/wire.py"
        ) from None


def event_type(recorded_or_topic: RecordedEvent | str) -> str:
    """The stable name of a stored event (or of a topic), also for topics of older ledgers."""
    topic = recorded_or_topic if isinstance(recorded_or_topic, str) else recorded_or_topic.topic
    if topic in EVENT_TYPES:
        return topic
    try:
        return LEGACY_TOPICS[topic]
    except KeyError:
        raise UnknownEventType(f"unknown event type {topic!r}") from None


def aggregate_of(recorded_or_topic: RecordedEvent | str) -> str:
    """``provider`` for ``provider.sanction-imposed.v1`` (and its legacy topic)."""
    return event_type(recorded_or_topic).split(".", 1)[0]


def is_event_of(recorded: RecordedEvent, aggregate: str) -> bool:
    """Whether the event is one of ``aggregate``'s (``"provider"``); False for unknown topics."""
    topic = recorded.topic
    legacy = _LEGACY_PREFIX.get(aggregate)
    return topic.startswith((aggregate + ".", legacy) if legacy else aggregate + ".")


def aggregate_ids(store: EventStore, aggregate: str) -> list[UUID]:
    """Ids of every aggregate of a kind (``"provider"``), in order of creation.

    Legacy-named events all precede registered ones in a log, so the two lists
    concatenate in position order.
    """
    legacy = _LEGACY_PREFIX.get(aggregate)
    return (store.originator_ids(legacy) if legacy else []) + store.originator_ids(aggregate + ".")


# -- events ----------------------------------------------------------------------------


def encode(domain_event: LedgerAggregate.Event) -> NewEvent:
    """A domain event as the store records it, named by its registered name."""
    topic = name_of(type(domain_event))
    stored = _mapper.to_stored_event(domain_event)
    effective_on: Any = getattr(domain_event, "effective_on", None)
    recorded_at = domain_event.timestamp
    return NewEvent(
        originator_id=UUID(str(stored.originator_id)),
        originator_version=stored.originator_version,
        topic=topic,
        state=stored.state.decode("utf-8"),
        recorded_at=recorded_at,
        effective_on=effective_on if isinstance(effective_on, date) else business_date(recorded_at),
    )


def decode(recorded: RecordedEvent) -> LedgerAggregate.Event:
    """The domain event a stored event records (by registered or legacy name)."""
    cls = EVENT_TYPES[event_type(recorded)]
    return _mapper.to_domain_event(  # type: ignore[return-value]
        StoredEvent(
            originator_id=recorded.originator_id,
            originator_version=recorded.originator_version,
            topic=get_topic(cls),
            state=recorded.state.encode("utf-8"),
        )
    )


def decode_state(recorded: RecordedEvent) -> dict[str, Any]:
    """The event's attributes as plain Python values (dates, UUIDs decoded)."""
    return _mapper.transcoder.decode(recorded.state.encode("utf-8"))


def decode_json(state: str) -> Any:
    """Any JSON text written with the ledger's transcoder (dates, UUIDs decoded)."""
    return _mapper.transcoder.decode(state.encode("utf-8"))


def encode_json(value: Any) -> str:
    """JSON text with the ledger's transcoder (the inverse of :func:`decode_json`)."""
    return _mapper.transcoder.encode(value).decode("utf-8")


# -- snapshots (read models only: never stored in the log) ---------------------------------

_SNAPSHOT_TOPIC = "eventsourcing.domain:Snapshot"


def encode_snapshot(aggregate: LedgerAggregate) -> str:
    """An aggregate's state, for a read model to resume from without a fold."""
    snapshot = LedgerAggregate.Snapshot.take(aggregate)
    return _mapper.to_stored_event(snapshot).state.decode("utf-8")


def decode_snapshot(originator_id: UUID, version: int, state: str) -> Any:
    stored = StoredEvent(originator_id=originator_id, originator_version=version, topic=_SNAPSHOT_TOPIC, state=state.encode("utf-8"))
    snapshot: Any = _mapper.to_domain_event(stored)
    return snapshot.mutate(None)


# -- exports ---------------------------------------------------------------------------


def to_export(event: RecordedEvent) -> dict[str, Any]:
    """One line of an export (JSON Lines): every field the hash covers, as stored, and the format."""
    return {
        "format": FORMAT_VERSION,
        "position": event.position,
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "topic": event.topic,
        "state": event.state,
        "recorded_at": event.recorded_at.isoformat(),
        "effective_on": event.effective_on.isoformat() if event.effective_on else None,
        "recorded_by": event.recorded_by,
        "command_id": event.command_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def required(data: dict[str, Any], name: str, kind: type) -> Any:
    """``data[name]``, which must be exactly of ``kind``; ValueError naming the field otherwise."""
    if name not in data:
        raise ValueError(f"missing field {name!r}")
    value = data[name]
    if type(value) is not kind:
        raise ValueError(f"field {name!r} must be {kind.__name__}, got {value!r}")
    return value


def from_export(data: Any) -> RecordedEvent:
    """The inverse of :func:`to_export`; raises ValueError for anything else.

    Lines without ``format`` are from exports written before it was added (same shape).
    """
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.get("format", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"export format {version!r} is not supported (this ledger reads format {FORMAT_VERSION})")
    effective_on = data.get("effective_on")
    if effective_on is not None and not isinstance(effective_on, str):
        raise ValueError(f"field 'effective_on' must be a date or null, got {effective_on!r}")
    try:
        return RecordedEvent(
            position=required(data, "position", int),
            originator_id=UUID(required(data, "originator_id", str)),
            originator_version=required(data, "originator_version", int),
            topic=required(data, "topic", str),
            state=required(data, "state", str),
            recorded_at=datetime.fromisoformat(required(data, "recorded_at", str)),
            effective_on=date.fromisoformat(effective_on) if effective_on is not None else None,
            recorded_by=required(data, "recorded_by", str),
            command_id=required(data, "command_id", str),
            prev_hash=required(data, "prev_hash", str),
            hash=required(data, "hash", str),
        )
    except ValueError:
        raise
    except (TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from exc
