"""The published form of an event: a CloudEvents 1.0 envelope in *structured* mode.

Why structured mode: the whole message value is one JSON document
(``content-type: application/cloudevents+json``), so it survives any tool that
copies values and drops headers (``kcat``, mirroring, a dead-letter topic), and
a subscriber needs a JSON parser only. The Kafka message key is the envelope's
``partitionkey`` (the CloudEvents *partitioning* extension).

Envelope attributes (see ``contracts/asyncapi.yaml``):

- ``id`` — the event's reference ``<aggregate uuid>/<version>``: unique and the
  same on every re-publication, so a subscriber can drop a duplicate by id;
- ``type`` — the stable registered name (``provider.sanction-imposed.v1``, :mod:`ledger.wire`);
- ``source`` — ``/ledger/<jurisdiction>``: which bureau's pool;
- ``subject`` — ``<aggregate>/<business id>`` (``provider/TJ-2024-005``, ``project/PV-P2024-0001``);
- ``time`` — when it was recorded; ``effectiveon`` — the date it takes effect (the
  ledger's second time axis);
- ``logposition``, ``aggregateversion``, ``causationid`` (the command id),
  ``recordedby``, ``eventhash`` (the hash chain's value for this event);
- ``citation`` — for a sanction, an admission, a payment etc. that cites a rule:
  the article as the rulebook writes it (``唐山 第十三条（二）``); ``derived`` —
  true for a sanction the rule engine derived from counted facts;
- ``partitionkey`` — the provider whose standing the event bears on.

``data`` holds the event's attributes as plain JSON: a declared date is an ISO
string. Inside a free-form attribute (one typed ``dict``, ``list`` or ``Any``,
e.g. ``provider.fact-noted.v1``'s ``data``) a value JSON has no type for keeps the
ledger's tagged encoding (``{"_type_": "date_iso", "_data_": "2024-11-01"}``,
:data:`ledger.wire.FORMAT_VERSION`), so that a subscriber gets back exactly what
was recorded. The JSON Schema of each type's ``data`` is :func:`data_schema`,
generated from the event classes.

Reading (:func:`to_recorded`) rebuilds the :class:`RecordedEvent` the
projections fold, through :func:`upcast`: an older version of a type is
converted to the current one before anything reads it.
"""
from __future__ import annotations

import json
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict, Field, create_model

from ledger import wire
from ledger.store.base import RecordedEvent, text_row

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
DATA_CONTENT_TYPE = "application/json"

#: attributes of the domain event that are envelope or library metadata, not data
_NOT_DATA = {"originator_id", "originator_version", "timestamp", "originator_id_type", "originator_topic", "class_version"}


class Subject(BaseModel):
    """What an aggregate is about, from its first event: kind, business id, jurisdiction, key."""

    model_config = ConfigDict(frozen=True)

    aggregate: str  # provider / project / complaint / appeal / rulebook / entity
    business_id: str
    jurisdiction: str
    partition_key: str  # the provider whose standing the aggregate's events bear on


def subject_of_first(event_type: str, state: dict[str, Any]) -> Subject:
    """The subject of an aggregate, from its first event's type and attributes.

    A project's events are keyed by its integrated provider (else its first
    product provider): the provider whose pool membership the project belongs to;
    a complaint and an appeal by the provider they name; a rulebook by
    ``rulebook:<jurisdiction>``; an entity's credit-code reservation (which names
    every provider id the entity applied under, so no one provider) by
    ``entity:<jurisdiction>:<credit code>``.
    """
    aggregate = event_type.split(".", 1)[0]
    jurisdiction = state.get("jurisdiction", "")
    match aggregate:
        case "provider":
            return Subject(aggregate=aggregate, business_id=state["provider_id"], jurisdiction=jurisdiction, partition_key=state["provider_id"])
        case "project":
            providers = [p for p in [state.get("integrated_provider_id"), *(state.get("product_provider_ids") or [])] if p]
            key = providers[0] if providers else f"project:{state['project_id']}"
            return Subject(aggregate=aggregate, business_id=state["project_id"], jurisdiction=jurisdiction, partition_key=key)
        case "complaint" | "appeal":
            return Subject(aggregate=aggregate, business_id=state[f"{aggregate}_id"], jurisdiction=jurisdiction, partition_key=state["provider_id"])
        case "rulebook":
            return Subject(aggregate=aggregate, business_id=jurisdiction, jurisdiction=jurisdiction, partition_key=f"rulebook:{jurisdiction}")
        case "entity":
            key = f"{jurisdiction}:{state['credit_code']}"
            return Subject(aggregate=aggregate, business_id=key, jurisdiction=jurisdiction, partition_key=f"entity:{key}")
    raise ValueError(f"no subject for the first event {event_type!r}")


def _citation_text(citation: Any) -> str | None:
    if isinstance(citation, dict) and citation.get("article"):
        return f"{citation.get('short', '')} {citation['article']}".strip()
    return None


class CloudEvent(BaseModel):
    """One published event (the message value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = SPEC_VERSION  # type: ignore[assignment]
    id: str
    type: str
    source: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = DATA_CONTENT_TYPE  # type: ignore[assignment]
    partitionkey: str
    effectiveon: date | None = None
    logposition: int
    aggregateid: UUID
    aggregateversion: int
    causationid: str
    recordedby: str
    eventhash: str
    citation: str | None = None
    derived: bool | None = None
    data: dict[str, Any]

    def to_json(self) -> bytes:
        return to_json(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_json(cls, value: bytes) -> CloudEvent:
        return cls.model_validate_json(value)


def _untag(value: Any) -> Any:
    """A transcoded scalar (``{"_type_": "date_iso", "_data_": "2024-11-01"}``) as its plain JSON text."""
    if isinstance(value, dict) and "_type_" in value and "_data_" in value:
        return value["_data_"]
    return value


def envelope_dict(event: RecordedEvent, subject: Subject) -> dict[str, Any]:
    """The envelope of a stored event as JSON-ready data (what :meth:`CloudEvent.to_json` writes):
    :func:`envelope_of_row` of the event as :meth:`EventStore.read_rows <ledger.store.base.EventStore.read_rows>`
    gives it."""
    return envelope_of_row(text_row(event), subject)


def envelope_of_row(row: tuple, subject: Subject) -> dict[str, Any]:
    """The envelope of an event given as a tuple of :data:`~ledger.store.base.ROW_COLUMNS` (ids and
    instants as text, as the relay reads them), as JSON-ready data.

    Built straight from the stored JSON, which is already the published form of a
    free-form attribute; a declared scalar only loses its type tag. The relay
    publishes this without building a model (it is its hot path); :func:`envelope`
    is the same as a validated :class:`CloudEvent`.
    """
    position, aggregate_id, version, topic, state, recorded_at, effective_on, recorded_by, command_id, event_hash = row
    event_type = wire.event_type(topic)
    free = _free_form(event_type)
    data = {k: (v if k in free else _untag(v)) for k, v in orjson.loads(state).items() if k not in _NOT_DATA}
    body: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": f"{aggregate_id}/{version}",
        "type": event_type,
        "source": f"/ledger/{subject.jurisdiction}",
        "subject": f"{subject.aggregate}/{subject.business_id}",
        "time": recorded_at,
        "datacontenttype": DATA_CONTENT_TYPE,
        "partitionkey": subject.partition_key,
        "logposition": position,
        "aggregateid": aggregate_id,
        "aggregateversion": version,
        "causationid": command_id,
        "recordedby": recorded_by,
        "eventhash": event_hash,
    }
    if effective_on is not None:
        body["effectiveon"] = effective_on
    citation = _citation_text(data.get("citation"))
    if citation is not None:
        body["citation"] = citation
    if event_type == "provider.sanction-imposed.v1":
        body["derived"] = data["derived"]
    body["data"] = data
    return body


def to_json(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (orjson: the relay's hot path)."""
    return orjson.dumps(body)


def envelope(event: RecordedEvent, subject: Subject) -> CloudEvent:
    """The envelope of a stored event (its aggregate's ``subject`` from :func:`subject_of_first`)."""
    return CloudEvent.model_validate(envelope_dict(event, subject))


# -- the data of each type: models generated from the event classes ------------------------


@cache
def data_model(event_type: str) -> type[BaseModel]:
    """A pydantic model of the ``data`` of one event type, from its event class's annotations."""
    cls = wire.EVENT_TYPES[event_type]
    hints = typing.get_type_hints(cls)
    # an older name of a class that gained attributes (complaint.filed.v1) lacks them
    for later, added in wire.ADDED_IN.items():
        if wire.EVENT_TYPES[later] is cls and _version(later) > _version(event_type):
            hints = {k: v for k, v in hints.items() if k not in added}
    fields: dict[str, Any] = {
        name: (hint, Field(...)) for name, hint in hints.items() if name not in _NOT_DATA and typing.get_origin(hint) is not typing.ClassVar
    }
    model = create_model(
        "".join(part.title() for part in event_type.replace("-", ".").split(".")),
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return model


_SCALARS = (str, int, float, bool, date, datetime, type(None))


@cache
def _free_form(event_type: str) -> frozenset[str]:
    """The attributes of a type whose annotation leaves the JSON shape open (dict, list, Any)."""
    fields = data_model(event_type).model_fields
    return frozenset(
        name for name, info in fields.items()
        if not all(arg in _SCALARS for arg in (typing.get_args(info.annotation) or (info.annotation,)))
    )


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type's ``data``."""
    schema = data_model(event_type).model_json_schema()
    schema["title"] = event_type
    return schema


# -- reading -----------------------------------------------------------------------------------

#: (type, data) -> (type, data): one step from an older version of a type to a newer one.
Upcaster = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]

#: older type -> its upcaster. Every version ever published stays here, so an old message
#: (a compacted topic, a replayed archive) is read as the current version of its type.
UPCASTERS: dict[str, Upcaster] = {
    "complaint.filed.v1": lambda data: ("complaint.filed.v2", {**data, "nature": "report" if data.get("jurisdiction") == "xinxiang" else "complaint"}),
}


def _version(event_type: str) -> int:
    return int(event_type.rsplit(".v", 1)[1])


def upcast(event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The current version of a type and its data, through every upcaster on the way."""
    seen = set()
    while event_type in UPCASTERS:
        if event_type in seen:
            raise ValueError(f"upcasters loop at {event_type!r}")
        seen.add(event_type)
        event_type, data = UPCASTERS[event_type](data)
    if event_type not in wire.EVENT_TYPES:
        raise wire.UnknownEventType(f"unknown event type {event_type!r}")
    return event_type, data


def to_recorded(message: CloudEvent) -> RecordedEvent:
    """The stored event a published one records (upcast to the current version of its type)."""
    event_type, data = upcast(message.type, message.data)
    free = _free_form(event_type)
    values = data_model(event_type).model_validate(data).model_dump()
    for name in free:
        values[name] = wire.decode_json(json.dumps(data[name]))
    recorded_at = message.time.astimezone(UTC)  # pydantic's own UTC tzinfo would print differently
    values["timestamp"] = recorded_at
    cls = wire.EVENT_TYPES[event_type]
    if getattr(cls, "class_version", 1) > 1:  # the data is the class's current version (upcast above)
        values["class_version"] = cls.class_version  # type: ignore[attr-defined]  # set on versioned event classes
    if message.aggregateversion == 1:  # a created event names its aggregate class (the library needs it)
        values["originator_topic"] = get_topic(wire.AGGREGATES[event_type.split(".", 1)[0]])
    return RecordedEvent(
        position=message.logposition,
        originator_id=message.aggregateid,
        originator_version=message.aggregateversion,
        topic=event_type if cls is not None else message.type,
        state=wire.encode_json(values),
        recorded_at=recorded_at,
        effective_on=message.effectiveon,
        recorded_by=message.recordedby,
        command_id=message.causationid,
        prev_hash="",
        hash=message.eventhash,
    )
