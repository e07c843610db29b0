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

import functools
import inspect
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import (
    CanMutateAggregate,
    DecoratedFuncCaller,
    OriginatorIDError,
    OriginatorVersionError,
    decorated_funcs,
)
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
    find_id_convertor,
    pass_through_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

from ledger.aggregates import Appeal, Complaint, Entity, Project, Provider, Rulebook
from ledger.aggregates.base import LedgerAggregate
from ledger.clock import business_date
from ledger.plain_json import NotPlain, walker
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
    ("provider.rectification-period-set.v1", Provider, "RectificationPeriodSet", ""),  # added after the registry (2026-12)
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
    ("project.fees-not-payable.v1", Project, "FeesNotPayable", ""),  # added after the registry (2026-12): 唐山 第十四条 without a sum
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
#: aggregate -> the prefixes of its events' topics: its stable names' and its module-path topics'
_TOPIC_PREFIXES: dict[str, tuple[str, ...]] = {
    aggregate: (aggregate + ".", _LEGACY_PREFIX[aggregate]) if aggregate in _LEGACY_PREFIX else (aggregate + ".",)
    for aggregate in AGGREGATES
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


_json_transcoder = _transcoder()
_mapper: Mapper[UUID] = Mapper(transcoder=_json_transcoder)


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


def is_event_of(recorded: RecordedEvent | DecodedEvent, aggregate: str) -> bool:
    """Whether the event is one of ``aggregate``'s (``"provider"``); False for unknown topics."""
    return recorded.topic.startswith(_TOPIC_PREFIXES.get(aggregate) or (aggregate + ".",))


def aggregate_ids(store: EventStore, aggregate: str) -> list[UUID]:
    """Ids of every aggregate of a kind (``"provider"``), in order of creation.

    Legacy-named events all precede registered ones in a log, so the two lists
    concatenate in position order.
    """
    legacy = _LEGACY_PREFIX.get(aggregate)
    return (store.originator_ids(legacy) if legacy else []) + store.originator_ids(aggregate + ".")


# -- events ----------------------------------------------------------------------------


def encode(domain_event: LedgerAggregate.Event) -> NewEvent:
    """A domain event as the store records it, named by its registered name. Its state is the text
    the library's ``Mapper.to_stored_event`` writes, by :func:`stored_state`: byte for byte the
    same, in a third of the time."""
    originator_id = domain_event.originator_id
    effective_on: Any = getattr(domain_event, "effective_on", None)
    recorded_at = domain_event.timestamp
    return NewEvent(
        originator_id=originator_id if type(originator_id) is UUID else UUID(str(originator_id)),
        originator_version=domain_event.originator_version,
        topic=name_of(type(domain_event)),
        state=stored_state(domain_event),
        recorded_at=recorded_at,
        effective_on=effective_on if isinstance(effective_on, date) else business_date(recorded_at),
    )


def decode(recorded: RecordedEvent) -> LedgerAggregate.Event:
    """The domain event a stored event records (by registered or legacy name)."""
    return domain_event(event_type(recorded), recorded.originator_id, recorded.originator_version, recorded.state)


def decode_state(recorded: RecordedEvent) -> dict[str, Any]:
    """The event's attributes as plain Python values (dates, UUIDs decoded)."""
    state: dict[str, Any] = decode_json(recorded.state)
    return state


def decode_json(state: str) -> Any:
    """Any JSON text written with the ledger's transcoder (dates, UUIDs decoded).

    The one decoder of the ledger's JSON: ``orjson`` parses, then one pass applies the
    transcodings (``{"_type_": "date_iso", "_data_": "2025-03-01"}`` -> a ``date``) bottom-up,
    exactly as the transcoder's ``object_hook`` does on every object. Where orjson would
    differ from the standard library — text it refuses (``NaN``, lone surrogates), integers
    beyond 64 bits (which it turns into floats) — ``json`` parses and the same pass revives.
    """
    try:
        return _revive_any(orjson.loads(state), True)
    except (orjson.JSONDecodeError, _BeyondOrjson):
        return _revive_any(json.loads(state), False)


def _revive_any(value: Any, orjson_parsed: bool) -> Any:
    t = type(value)
    if t is dict:
        return _revive(value, orjson_parsed)
    if t is list:
        return _revive_list(value, orjson_parsed)
    if t is float and orjson_parsed:
        _check_float(value)
    return value


def domain_event(name: str, originator_id: UUID, originator_version: int, state: str | dict[str, Any]) -> LedgerAggregate.Event:
    """The domain event of type ``name`` (a stable name) from its stored attributes: what the
    eventsourcing ``Mapper`` makes of a stored event (ids, version, upcasting older class versions),
    from the JSON text or from :func:`decode_json`'s result (taken over: pass a copy to keep one)."""
    cls = EVENT_TYPES[name]
    try:
        attributes: dict[str, Any] = decode_json(state) if isinstance(state, str) else state
    except Exception as error:  # as the Mapper reports it
        raise MapperDeserialisationError(
            f"Failed to deserialise state of stored event with topic '{get_topic(cls)}', "
            f"originator_id '{originator_id}' and originator_version {originator_version}: {error}"
        ) from error
    event: LedgerAggregate.Event = _domain_event(cls, originator_id, originator_version, attributes)
    return event


def _domain_event(cls: type, originator_id: UUID, originator_version: int, attributes: dict[str, Any]) -> Any:
    """``Mapper.to_domain_event`` after its decoding step, line for line."""
    convert = find_id_convertor(cls, type(originator_id))  # type: ignore[arg-type]  # UUID is hashable
    attributes["originator_id"] = originator_id if convert is pass_through_convertor else convert(originator_id)
    attributes["originator_version"] = originator_version
    class_version = getattr(cls, "class_version", 1)
    from_version = attributes.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(attributes)
        from_version += 1
    event: Any = object.__new__(cls)
    object.__setattr__(event, "__dict__", attributes)
    return event


class DecodedEvent:
    """A recorded event as projections fold it: the log's fields, and its attributes decoded at
    most once, when first asked for — several projections folding one event share one decoding.

    ``attributes`` is shared: read it, never change it. :meth:`domain_event` builds a new event
    from a copy of it each time (an aggregate may keep what its event carried).
    ``originator_text`` is the id as text (``str(UUID)``), what projections key aggregates by
    (a string hashes in C, a ``UUID`` in Python); ``recorded_at_iso`` and ``effective_on_iso``
    are the instants as the read models show them (``isoformat()``), which a bulk reader gets
    from the database as text (:meth:`from_scan`).
    """

    __slots__ = (
        "position", "originator_id", "originator_version", "topic", "state", "recorded_by", "command_id",
        "originator_text", "_recorded_at", "_effective_on", "recorded_at_iso", "effective_on_iso", "_name", "_attributes",
    )  # fmt: skip

    def __init__(
        self, position: int, originator_id: UUID, originator_version: int, topic: str, state: str,
        recorded_at: datetime, effective_on: date | None, recorded_by: str, command_id: str,
    ) -> None:  # fmt: skip
        self.position = position
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.topic = topic
        self.state = state  # the JSON text, as stored
        self.recorded_by = recorded_by
        self.command_id = command_id
        self.originator_text = str(originator_id)
        self._recorded_at: datetime | None = recorded_at
        self._effective_on = effective_on
        self.recorded_at_iso = recorded_at.isoformat()
        self.effective_on_iso = effective_on.isoformat() if effective_on is not None else None
        self._name: str | None = None
        self._attributes: dict[str, Any] | None = None

    @classmethod
    def of(cls, recorded: RecordedEvent) -> DecodedEvent:
        r = recorded
        return cls(r.position, r.originator_id, r.originator_version, r.topic, r.state, r.recorded_at, r.effective_on, r.recorded_by, r.command_id)

    @classmethod
    def from_scan(cls, row: tuple, originator_id: UUID) -> DecodedEvent:
        """From a row of :meth:`EventStore.scan <ledger.store.base.EventStore.scan>` (ids and instants as text),
        with the ``UUID`` of its originator id (the caller keeps one per aggregate)."""
        event = object.__new__(cls)
        (event.position, event.originator_text, event.originator_version, event.topic, event.state,
         event.recorded_at_iso, event.effective_on_iso, event.recorded_by, event.command_id) = row  # fmt: skip
        event.originator_id = originator_id
        event._recorded_at = event._effective_on = event._name = event._attributes = None
        return event

    @property
    def recorded_at(self) -> datetime:
        if self._recorded_at is None:
            self._recorded_at = datetime.fromisoformat(self.recorded_at_iso)
        return self._recorded_at

    @property
    def effective_on(self) -> date | None:
        if self._effective_on is None and self.effective_on_iso is not None:
            self._effective_on = date.fromisoformat(self.effective_on_iso)
        return self._effective_on

    @property
    def ref(self) -> str:
        """:attr:`RecordedEvent.ref <ledger.store.base.RecordedEvent.ref>`."""
        return f"{self.originator_text}/{self.originator_version}"

    @property
    def name(self) -> str:
        """The stable name (:func:`event_type`); ``UnknownEventType`` for a topic this ledger does not know."""
        if self._name is None:
            self._name = event_type(self.topic)
        return self._name

    @property
    def attributes(self) -> dict[str, Any]:
        """:func:`decode_state`, once."""
        if self._attributes is None:
            self._attributes = decode_json(self.state)
        return self._attributes

    def attributes_read_lazily(self) -> dict[str, Any] | LazyAttributes:
        """The attributes, for a reader of a few of them (``get`` and ``[]``): :attr:`attributes`
        where they are decoded already, else each attribute decoded when first read (the text
        parsed once, the transcodings of that attribute alone applied). What it reads is what
        :attr:`attributes` holds; an attribute it never reads is never checked."""
        if self._attributes is not None:
            return self._attributes
        try:
            parsed = orjson.loads(self.state)
        except orjson.JSONDecodeError:
            return self.attributes
        if type(parsed) is not dict or (len(parsed) == 2 and "_type_" in parsed and "_data_" in parsed):
            return self.attributes  # not an object of attributes: decode_json decides what it is
        return LazyAttributes(self, parsed)

    def domain_event(self) -> LedgerAggregate.Event:
        """:func:`decode`, from the attributes decoded once."""
        return domain_event(self.name, self.originator_id, self.originator_version, dict(self.attributes))

    def mutate(self, aggregate: LedgerAggregate | None) -> LedgerAggregate:
        """``self.domain_event().mutate(aggregate)``: the aggregate after this event (the same object,
        changed, unless ``aggregate`` is None). Where that would only check the id and version, call the
        event's ``@event`` method with the attributes it names and stamp version and ``modified_on``
        (:func:`_direct_method`), it does exactly that without building the event."""
        direct = _direct_method(EVENT_TYPES[self.name])
        attributes = self.attributes
        if direct is None or aggregate is None or "class_version" in attributes:
            folded = self.domain_event().mutate(aggregate)
            assert folded is not None  # an event's mutate returns the aggregate
            return folded
        if self.originator_id is not aggregate.id and self.originator_id != aggregate.id:  # a bulk reader keeps one UUID per aggregate
            raise OriginatorIDError(self.originator_id, aggregate.id)
        if self.originator_version != aggregate.version + 1:
            raise OriginatorVersionError(self.originator_version, aggregate.version + 1)
        method, parameters = direct
        method(aggregate, **{key: value for key, value in attributes.items() if key in parameters})
        aggregate.version = self.originator_version
        aggregate.modified_on = attributes["timestamp"]
        return aggregate


_ABSENT = object()


class LazyAttributes:
    """An event's attributes as orjson parsed them, each decoded (:func:`decode_json`'s transcodings
    and checks) when first read; where an attribute is beyond orjson (:func:`_check_float`), the
    event's :attr:`DecodedEvent.attributes` answer instead."""

    __slots__ = ("_event", "_parsed", "_decoded")

    def __init__(self, event: DecodedEvent, parsed: dict[str, Any]) -> None:
        self._event = event
        self._parsed = parsed
        self._decoded: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self._parsed[key]
        t = type(value)
        if t is dict or t is list or t is float:  # the others are what decode_json leaves them
            decoded = self._decoded
            if key in decoded:
                return decoded[key]
            try:
                value = _revive_any(value, True)
            except _BeyondOrjson:
                value = self._event.attributes[key]  # json parses the text again, as decode_json does
            decoded[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._parsed.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        t = type(value)
        return self[key] if t is dict or t is list or t is float else value




@functools.cache
def _direct_method(cls: type) -> tuple[Callable[..., None], frozenset[str]] | None:
    """The ``@event`` method an event class applies and the names of its parameters, where the class's
    ``mutate`` is eventsourcing's own (check id and version, ``apply``, stamp version and ``modified_on``)
    and its ``apply`` only calls that method with the attributes the method names (the library's
    ``DecoratedFuncCaller``, nothing overridden after it, no upcasting); None for any other class (a
    ``Created`` event, an event with its own ``apply``): fold it through the event object. Cached per class."""
    direct = None
    method = decorated_funcs.get(cls)
    after = cls.__mro__[cls.__mro__.index(DecoratedFuncCaller) + 1 :] if DecoratedFuncCaller in cls.__mro__ else ()
    inherited_apply = next((c.__dict__["apply"] for c in after if "apply" in c.__dict__), None)
    if (
        inspect.isfunction(method)
        and getattr(cls, "mutate", None) is CanMutateAggregate.mutate
        and getattr(cls, "apply", None) is DecoratedFuncCaller.apply
        and inherited_apply is CanMutateAggregate.apply
        and getattr(cls, "class_version", 1) == 1
    ):
        parameters = frozenset(inspect.signature(method).parameters) - {"self"}
        if not parameters & {"originator_id", "originator_version"}:  # the event object would supply those
            direct = (method, parameters)
    return direct


#: the transcodings' ``decode`` for string data, as C-level constructors where one is the same function
_FAST_REVIVERS: dict[str, Callable[[str], Any]] = {
    "uuid_hex": UUID,
    "datetime_iso": datetime.fromisoformat,
    "date_iso": date.fromisoformat,
    "decimal_str": Decimal,
}


def _revivers() -> dict[str, Callable[[Any], Any]]:
    """Transcoding name -> what revives its string ``_data_`` (every registered transcoding has one)."""
    return {name: _FAST_REVIVERS.get(name, transcoding.decode) for name, transcoding in _json_transcoder.names.items()}


_REVIVERS = _revivers()


def _transcoded(obj: dict[str, Any]) -> Any:
    """A ``{"_type_", "_data_"}`` object, whose members are already revived, as its value."""
    kind, data = obj["_type_"], obj["_data_"]
    if type(data) is str:
        revive = _REVIVERS.get(kind)
        if revive is not None:
            return revive(data)
    try:
        transcoding = _json_transcoder.names[kind]
    except KeyError as error:
        raise TranscodingNotRegisteredError(
            f"Data serialized with name '{kind}' is not deserializable. Please register a custom transcoding for this type."
        ) from error
    return transcoding.decode(data)


class _BeyondOrjson(Exception):
    """orjson parsed a number the standard library parses otherwise."""


#: orjson parses integers from -2**63 to 2**64 - 1 as ints, and larger ones as floats
_INT_LIMIT = 2.0**63


def _check_float(value: float) -> None:
    """A float this large may have been an integer literal in the text (``json`` keeps those exact)."""
    if value >= _INT_LIMIT or value <= -_INT_LIMIT:
        raise _BeyondOrjson


def _revive(obj: dict[str, Any], orjson_parsed: bool) -> Any:
    """The object hook's work on ``obj`` and everything in it, bottom-up, in place (and, for
    orjson's result, :func:`_check_float` on every float)."""
    for key, value in obj.items():
        t = type(value)
        if t is dict:
            if len(value) == 2 and "_type_" in value:  # a leaf, the common case: revived here, no recursion
                data = value.get("_data_")
                if type(data) is str:
                    revive = _REVIVERS.get(value["_type_"])
                    if revive is not None:
                        obj[key] = revive(data)
                        continue
            obj[key] = _revive(value, orjson_parsed)
        elif t is list:
            _revive_list(value, orjson_parsed)
        elif t is float and orjson_parsed:
            _check_float(value)
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
        return _transcoded(obj)
    return obj


def _revive_list(values: list[Any], orjson_parsed: bool) -> list[Any]:
    for i, value in enumerate(values):
        t = type(value)
        if t is dict:
            values[i] = _revive(value, orjson_parsed)
        elif t is list:
            _revive_list(value, orjson_parsed)
        elif t is float and orjson_parsed:
            _check_float(value)
    return values


def encode_json(value: Any) -> str:
    """The ledger's transcoder's JSON text of ``value`` (the inverse of :func:`decode_json`): the
    text of ``_json_transcoder.encode(value)``, written by ``orjson`` once ``value`` is plain JSON
    values with the transcodings applied as the transcoder's ``default`` applies them; wherever
    ``orjson`` could write another text (:mod:`ledger.plain_json`), by the transcoder itself. The
    same text, byte for byte: a provider's state is tens of kilobytes of dates, each a Python
    call in the transcoder's ``json``. A new event's state too (:func:`encode`)."""
    try:
        return orjson.dumps(_plain(value)).decode("utf-8")
    except (NotPlain, orjson.JSONEncodeError):
        return _json_transcoder.encode(value).decode("utf-8")


def stored_state(event: Any) -> str:
    """The text of ``_mapper.to_stored_event(event).state`` (the mapper has no compressor or cipher),
    by :func:`encode_json`: the event's attributes but its originator's id and version, with its
    class version where it is above 1."""
    state = dict(vars(event))
    del state["originator_id"], state["originator_version"]
    class_version = getattr(type(event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return encode_json(state)


def _transcoding_of(value: Any) -> Any:
    """A value the transcoder's ``default`` writes, as plain values (a date inline: the commonest)."""
    if type(value) is date:
        return {"_type_": DateAsISO.name, "_data_": value.isoformat()}
    try:
        transcoded = _json_transcoder.encoder.default(value)  # by exact type, as the transcoder looks it up
    except TranscodingNotRegisteredError:
        raise NotPlain from None  # a subclass of a JSON type (json writes it), or a type it refuses
    return _plain(transcoded)


_plain = walker(_transcoding_of)


# -- snapshots (read models only: never stored in the log) ---------------------------------

_SNAPSHOT_TOPIC = "eventsourcing.domain:Snapshot"
_SNAPSHOT_CLASS: type = resolve_topic(_SNAPSHOT_TOPIC)


def encode_snapshot(aggregate: LedgerAggregate) -> str:
    """An aggregate's state, for a read model to resume from without a fold: the text of
    ``_mapper.to_stored_event(Snapshot.take(aggregate)).state`` (the mapper has no compressor or
    cipher), written by :func:`encode_json`."""
    return stored_state(LedgerAggregate.Snapshot.take(aggregate))


def decode_snapshot(originator_id: UUID, version: int, state: str, cls: type[LedgerAggregate] | None = None) -> Any:
    """The aggregate a snapshot's state holds. With ``cls``, a state that names any other class is
    refused (ValueError) before that name is resolved: states read back from a table the
    application writes name the class to build."""
    snapshot: Any = _domain_event(_SNAPSHOT_CLASS, originator_id, version, decode_json(state))  # resolves nothing of the state
    if cls is not None and snapshot.topic != get_topic(cls):
        raise ValueError(f"snapshot of {originator_id} names {snapshot.topic!r}, not {cls.__name__}")
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
