"""What the demo is: its dates, the entries of a plan, and how lazy entries find the events they name."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Union

from ledger.aggregates import Complaint, Project, Provider
from ledger.application import Ledger
from ledger.commands import models as m
from ledger.rules.base import FINDING
from ledger.store.base import event_ref

DEMO_START = date(2024, 1, 1)
DEMO_END = date(2025, 12, 31)
JURISDICTIONS = ("tianjin", "xinxiang", "province", "tangshan", "liuzhou")
#: the fewest providers a plan can have (one per jurisdiction)
MIN_PROVIDERS = 5
#: from this many providers on, every scripted outcome is in the plan (checked when it is generated)
FULL_OUTCOMES = 150
#: the most providers a plan can have: the invented enterprise names run out above it. Each city has
#: 45 brands x 8 industries x 2 suffixes = 720 (data/words.json, data/jurisdictions.json), and 新乡 needs
#: about 2.6 projects per provider of its 22 %, one enterprise each: plans fail from about 1,240 on
#: (seed 2024: 1,242); 1,200 leaves a margin for every seed (tests/unit/test_demo.py)
MAX_PROVIDERS = 1200


class DemoError(Exception):
    """A command of the demo plan could not be recorded (the plan and the domain disagree)."""


Locator = tuple  # ("kind", arg, ...): how to find an event ref in the ledger at execution time


@dataclass(frozen=True)
class Deferred:
    """A command that names events (``aggregate-uuid/version``) looked up when it is executed.

    ``refs`` maps a field to a locator, or to a tuple of locators for a list field.
    Calling it with the ledger returns the command. Two Deferreds are equal when
    they would build the same command from the same ledger, so plans compare.
    """

    command: type[m.Command]
    fields: tuple[tuple[str, Any], ...]
    refs: tuple[tuple[str, Any], ...] = ()

    @property
    def command_id(self) -> str:
        return dict(self.fields)["command_id"]

    def __call__(self, ledger: Ledger) -> m.Command:
        values = dict(self.fields)
        for name, locator in self.refs:
            if locator and isinstance(locator[0], tuple):
                values[name] = [locate(ledger, each) for each in locator]
            else:
                values[name] = locate(ledger, locator)
        return self.command(**values)


@dataclass(frozen=True)
class DeadlineSweep:
    """The scheduler's monthly run: one ``RecordPassedDeadlines`` per provider with something due
    (:func:`ledger.deadlines.sweep`), command ids ``<command_id>:<provider id>``."""

    command_id: str


PlanEntry = tuple[datetime, Union[m.Command, Deferred, DeadlineSweep]]


def _sanction_citing(provider: Provider, fact_ref: str) -> str:
    found = [s["ref"] for s in provider.sanctions.values() if fact_ref in s["evidence"] and s["sanction"] in ("warning", "rectification_order")]
    if not found:
        raise LookupError(f"no warning or order of provider {provider.provider_id} cites {fact_ref}")
    return found[-1]


def locate(ledger: Ledger, locator: Locator) -> str:
    """The event ref a locator names, from the ledger's current state.

    - ``("rating", project_id, provider_id)``: the enterprise's rating of the provider;
    - ``("complaint", complaint_id)``: the complaint's latest event (its verification);
    - ``("profile_change", provider_id, field, changed_on)``: a profile change reported late;
    - ``("finding_sanction", provider_id, summary)``: the sanction a finding imposed;
    - ``("fact_sanction", provider_id, fact_kind, project_id)``: the warning or order
      derived from a fact about a project;
    - ``("rating_sanction", provider_id, project_id)``: the warning derived from a rating;
    - ``("rule_sanction", provider_id, rule_id)``: the latest sanction derived by a rule;
    - ``("removal", provider_id)``: the sanction that keeps the provider out of the pool.
    """
    kind, *args = locator
    if kind == "rating":
        project_id, provider_id = args
        return ledger.load(Project, project_id).ratings[provider_id]["ref"]
    if kind == "complaint":
        complaint = ledger.load(Complaint, args[0])
        return event_ref(complaint.id, complaint.version)
    provider = ledger.load(Provider, args[0])
    if kind == "profile_change":
        for change in provider.late_profile_reports:
            if change["field"] == args[1] and change["changed_on"].isoformat() == args[2]:
                return change["ref"]
    elif kind == "finding_sanction":
        for fact in provider.facts.values():
            if fact["kind"] == FINDING and fact["data"].get("summary") == args[1]:
                for sanction in provider.sanctions.values():
                    if sanction["key"] == f"finding@{fact['ref']}":
                        return sanction["ref"]
    elif kind == "fact_sanction":
        for fact in provider.facts.values():
            if fact["kind"] == args[1] and fact["data"].get("project_id") == args[2]:
                return _sanction_citing(provider, fact["ref"])
    elif kind == "rating_sanction":
        rating = ledger.load(Project, args[1]).ratings[args[0]]["ref"]
        fact = provider.find_fact_by_source(rating)  # type: ignore[assignment]
        if fact is not None:
            return _sanction_citing(provider, fact["ref"])
    elif kind == "rule_sanction":
        found = [s["ref"] for s in provider.sanctions.values() if s["rule_id"] == args[1] and s["rescinded_on"] is None]
        if found:
            return found[-1]
    elif kind == "removal":
        found = provider.active_removals()
        if found:
            return found[-1]["ref"]
    else:
        raise ValueError(f"unknown locator {locator!r}")
    raise LookupError(f"nothing in the ledger matches {locator!r}")
