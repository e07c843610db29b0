"""Entity (申请主体): one 统一社会信用代码 in one jurisdiction, and the provider ids it applied under.

A provider id is one application; the entity behind it is its credit code
(NOTES.md, "Entities and kinds"). An entity applies once at a time (in Tianjin
once at a time for each direction): whether it may apply now depends on the
status of every provider it applied as in that jurisdiction — one still applying
or in the pool refuses it; one out of the pool, however it left, does not — so
an application must find them without scanning the pool: this aggregate,
addressed by (jurisdiction, credit code), lists them. An application reads it,
checks each provider it names, and records the new provider id on it — in the same command, so two
concurrent applications with one code under different provider ids both expect
the same version of the same aggregate: the append's version check lets one
through and sends the other back to be decided again (and refused).

It records *who* applied, not their standing: the decision reads each named
provider for its current status, so a removal, listing or
voluntary exit recorded later needs no event here.
"""
from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate, aggregate_id


def entity_key(jurisdiction: str, credit_code: str) -> str:
    """The business id of an entity: ``tangshan:9144030071526726XG``."""
    return f"{jurisdiction}:{credit_code}"


class Entity(LedgerAggregate):
    @staticmethod
    def create_id(key: str = "", jurisdiction: str = "", credit_code: str = "", **_: Any) -> UUID:
        """By :func:`entity_key` (``uow.find(Entity, key)``) or by its parts (on creation)."""
        return aggregate_id("entity", key or entity_key(jurisdiction, credit_code))

    @event("CreditCodeReserved")
    def __init__(
        self,
        jurisdiction: str,
        credit_code: str,
        provider_id: str,
        earlier_provider_ids: list[str],
        effective_on: date,
    ) -> None:
        """The entity's first application since reservations exist; ``earlier_provider_ids`` are the
        applications recorded before them (ledgers from before 2026-12), oldest first."""
        self.jurisdiction = jurisdiction
        self.credit_code = credit_code
        self.provider_ids: list[str] = [*earlier_provider_ids, provider_id]

    @event("CreditCodeReservedAgain")
    def reserve_again(self, provider_id: str, effective_on: date) -> None:
        """A new application (under a new provider id) once the earlier ones allow it."""
        self.provider_ids.append(provider_id)

    @property
    def key(self) -> str:
        return entity_key(self.jurisdiction, self.credit_code)
