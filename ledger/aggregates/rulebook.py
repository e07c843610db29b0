"""Rulebook: what a regulator declares about a pack (dates left blank in drafts, parameters)."""
from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate, aggregate_id


class Rulebook(LedgerAggregate):
    @staticmethod
    def create_id(jurisdiction: str, **_: Any):
        return aggregate_id("rulebook", jurisdiction)

    @event("Opened")
    def __init__(self, jurisdiction: str, effective_on: date) -> None:
        self.jurisdiction = jurisdiction
        self.valid_from: date | None = None
        self.valid_until: date | None = None
        self.validity_declared = False
        self.params: dict[str, Any] = {}

    @event("ValidityDeclared")
    def declare_validity(self, valid_from: date | None, valid_until: date | None, reference: str, effective_on: date) -> None:
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.validity_declared = True

    @event("ParametersSet")
    def set_parameters(self, params: dict, reference: str, effective_on: date) -> None:
        self.params.update(params)
