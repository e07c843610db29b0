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
        #: every ParametersSet, in the order recorded: {"effective_on", "params"} (the day it takes effect)
        self.parameter_changes: list[dict[str, Any]] = []

    @event("ValidityDeclared")
    def declare_validity(self, valid_from: date | None, valid_until: date | None, reference: str, effective_on: date) -> None:
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.validity_declared = True

    @event("ParametersSet")
    def set_parameters(self, params: dict, reference: str, effective_on: date) -> None:
        if "parameter_changes" not in self.__dict__:  # a state snapshotted before the list existed (changes())
            self.parameter_changes = [{"effective_on": on, "params": values} for on, values in self.changes()]
        self.params.update(params)
        self.parameter_changes.append({"effective_on": effective_on, "params": dict(params)})

    def changes(self) -> list[tuple[date, dict[str, Any]]]:
        """(day of effect, values) of each parameter change; for a state from before they were kept
        apart (a snapshot), its parameters as one change in force whatever the day."""
        kept = self.__dict__.get("parameter_changes")
        if kept is None:
            return [(date.min, dict(self.params))] if self.params else []
        return [(change["effective_on"], change["params"]) for change in kept]
