"""Common base of the ledger's aggregates (the eventsourcing library's ``Aggregate``)."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.clock import current_time


class DomainError(Exception):
    """A command that the rules do not allow; the message says which rule, and ``field`` the
    command's field at fault where one is (the API answers it beside the message)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LedgerAggregate(Aggregate):
    """Events are stamped with the ledger's clock, not the wall clock."""

    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return current_time()

    class Created(Event, Aggregate.Created):
        pass

    def next_ref(self) -> str:
        """The reference of the event being applied (call inside an ``@event`` body)."""
        return f"{id_text(self.id)}/{self.version + 1}"


@lru_cache(maxsize=65536)
def id_text(originator_id: UUID) -> str:
    """``str(originator_id)``, remembered: ``UUID.__str__`` formats in Python, and folding a long
    history asks for the same aggregate's id at every event that makes a ref."""
    return str(originator_id)


@lru_cache(maxsize=65536)
def aggregate_id(kind: str, business_id: str) -> UUID:
    """Aggregates are addressed by the bureau's own identifiers (e.g. ``TJ-2023-001``). Remembered:
    ``uuid5`` hashes and builds a ``UUID`` in Python at every look-up of a command, and a ``UUID``
    cannot change (its attributes are read-only), so handing out the same one again is safe."""
    return uuid5(NAMESPACE_URL, f"ledger:{kind}:{business_id}")
