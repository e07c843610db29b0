"""Domain events <-> stored events, with the eventsourcing library's JSON transcoder."""
from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)

from ledger.clock import business_date
from ledger.store.base import NewEvent, RecordedEvent


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


def to_new_event(domain_event: DomainEventProtocol[UUID]) -> NewEvent:
    stored = _mapper.to_stored_event(domain_event)
    effective_on: Any = getattr(domain_event, "effective_on", None)
    recorded_at = domain_event.timestamp
    return NewEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state.decode("utf-8"),
        recorded_at=recorded_at,
        effective_on=effective_on if isinstance(effective_on, date) else business_date(recorded_at),
    )


def to_domain_event(recorded: RecordedEvent) -> DomainEventProtocol[UUID]:
    return _mapper.to_domain_event(
        StoredEvent(
            originator_id=recorded.originator_id,
            originator_version=recorded.originator_version,
            topic=recorded.topic,
            state=recorded.state.encode("utf-8"),
        )
    )


def decode_state(recorded: RecordedEvent) -> dict[str, Any]:
    """The event's attributes as plain Python values (dates, UUIDs decoded)."""
    return _mapper.transcoder.decode(recorded.state.encode("utf-8"))


def event_name(topic: str) -> str:
    """``ledger.aggregates.provider:Provider.Admitted`` -> ``Provider.Admitted``."""
    return topic.rsplit(":", 1)[-1]
