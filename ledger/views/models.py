"""What the read service returns: typed, frozen, JSON-friendly models.

The CLI renders them, the HTTP API returns them as they are (``model_dump(mode="json")``),
so their field names are part of the public contract: add fields, do not rename them.
Dates are ISO dates of the bureaus' calendar (Asia/Shanghai); instants are aware UTC
datetimes; refs are ``aggregate-uuid/version`` and never shortened.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Lenient(BaseModel):
    """Built from rows and dicts the read models store: extra keys are kept out, not refused."""

    model_config = ConfigDict(frozen=True, extra="ignore")


T = TypeVar("T")


class Page(Model, Generic[T]):
    """One page of a list: ``next_cursor`` fetches the following page (None on the last)."""

    items: list[T]
    total: int = Field(description="items matching the filters, over all pages")
    limit: int
    offset: int = 0
    next_cursor: str | None = None


# -- registry, standing ----------------------------------------------------------------------


class RegistryEntry(Lenient):
    provider_id: str
    jurisdiction: str
    name: str
    kind: str
    status: str = Field(description="pool status: applied, in_pool, removed, blacklisted, …")
    standing: str = Field(description="status, or warned / rectifying for a member with an open order")
    status_since: date
    standing_since: date
    applied_on: date
    admitted_on: date | None = None


class Sanction(Lenient):
    """A sanction with the article it applies, the rule pack and the events behind it."""

    ref: str
    sanction: str
    article: str = Field(description="jurisdiction and article, e.g. 唐山 第十三条（二）")
    text: str = Field(description="the article's words in the original Chinese")
    pack_version: str
    derived: bool = Field(description="derived by the ledger from counted facts (else on a regulator's finding)")
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list, description="refs of the events the sanction cites")
    effective_on: date
    deadline: date | None = None
    state: str = Field(description="in_force, rescinded; for orders: open, completed, overdue, refused")
    rescinded_on: date | None = None
    removes: bool = Field(description="whether it removes the provider from the pool")
    consequences: list[str] = Field(default_factory=list)


class Grade(Lenient):
    scheme: Literal["letter", "stars", "qualification"] = Field(
        description="letter grades by year (天津), stars by rating round (新乡), qualified/unqualified by year (省指南)"
    )
    period: str = Field(description="year, or rating round for stars")
    grade: str
    score: float | None = None
    ref: str
    effective_on: date
    detail: dict[str, Any] = Field(default_factory=dict)


class CounterValue(Lenient):
    name: str
    value: int
    refs: list[str] = Field(default_factory=list, description="the provider's events counted")
    source_refs: list[str] = Field(default_factory=list, description="where each counted fact came from")
    detail: dict[str, Any] = Field(default_factory=dict)


class FeesWithheld(Lenient):
    ref: str
    project_id: str | None = None
    amount: str
    reason: str
    citation: dict[str, Any] | None = None
    effective_on: date


class ProviderStanding(Lenient):
    """Everything a bureau asks about one provider."""

    provider_id: str
    name: str
    jurisdiction: str
    kind: str
    status: str
    standing: str
    status_since: date
    standing_since: date | None = None
    applied_on: date
    admitted_on: date | None = None
    version: int = Field(description="the provider aggregate's version this standing is at")
    grades: list[Grade] = Field(default_factory=list)
    counters: list[CounterValue] = Field(default_factory=list)
    sanctions: list[Sanction] = Field(default_factory=list)
    voided: dict[str, str] = Field(default_factory=dict, description="evidence ref -> the appeal decision that voided it")
    profile: dict[str, Any] = Field(default_factory=dict)
    fees_withheld: list[FeesWithheld] = Field(default_factory=list)
    late_profile_reports: list[dict[str, Any]] = Field(default_factory=list, description="profile changes reported late")


# -- lists, timeline -------------------------------------------------------------------------


class ListEntry(Lenient):
    """One entry of a list a bureau publishes; rescinded entries leave the list."""

    list_kind: str
    jurisdiction: str
    provider_id: str
    provider_name: str
    sanction: str
    sanction_ref: str
    article: str
    citation_text: str
    document: str
    pack_version: str
    derived: bool
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list)
    consequences: list[str] = Field(default_factory=list)
    effective_on: date
    recorded_at: datetime


class TimelineEntry(Lenient):
    position: int
    ref: str
    event_type: str = Field(description="the event's stable name, e.g. provider.sanction-imposed.v1")
    aggregate: str
    subject_id: str = Field(description="the provider, project, complaint or appeal the event belongs to")
    effective_on: date | None = None
    recorded_at: datetime
    recorded_by: str
    command_id: str
    summary: str


# -- history, explanations, what-if ----------------------------------------------------------


class AsOf(Model):
    """Which view of the ledger a result shows."""

    known_at: datetime | None = Field(None, description="only what was recorded by this instant")
    effective_at: date | None = Field(None, description="only what had taken effect by this date")

    def describe(self) -> str:
        """In words, e.g. ``as known at 2024-11-30 23:59:59 (Asia/Shanghai), effective on 2024-06-01``."""
        from ledger.clock import BUREAU_TZ

        parts = []
        if self.known_at is not None:
            local = self.known_at.astimezone(BUREAU_TZ)
            parts.append(f"as known at {local:%Y-%m-%d %H:%M:%S} (Asia/Shanghai): only what was recorded by then")
        if self.effective_at is not None:
            parts.append(f"as in effect on {self.effective_at.isoformat()} (Asia/Shanghai): only what had taken effect by that day")
        return "; ".join(parts) if parts else "now: everything recorded"


class History(Model):
    """A provider's standing as of a window on the recorded and/or effective axis."""

    as_of: AsOf
    view: str = Field(description="the window in words")
    standing: ProviderStanding
    events_applied: int
    skipped: list[str] = Field(default_factory=list, description="refs left out: they depend on events outside the window")


class RegistryAsOf(Model):
    as_of: AsOf
    view: str
    items: list[RegistryEntry]


class ExplanationNode(Model):
    ref: str
    kind: Literal["sanction", "fact", "event", "missing"]
    title: str
    event_type: str | None = None
    effective_on: date | None = None
    recorded_at: datetime | None = None
    recorded_by: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    voided: dict[str, Any] | None = None
    rescinded: dict[str, Any] | None = None
    children: list[ExplanationNode] = Field(default_factory=list)


class Explanation(Model):
    """Why a sanction: the article, pack version, parameters, and the chain of evidence."""

    provider_id: str
    jurisdiction: str
    root: ExplanationNode
    text: str = Field(description="the tree rendered for reading")


class SanctionSummary(Lenient):
    ref: str | None = None
    sanction: str
    article: str
    evidence: list[str] = Field(default_factory=list)
    effective_on: date


class WhatIfResult(Model):
    """What an upheld appeal voiding ``refs`` would change, computed and never written."""

    provider_id: str
    refs: list[str]
    voided: list[str]
    as_of: date
    status_before: str
    status_after: str
    standing_before: str
    standing_after: str
    would_rescind: list[SanctionSummary]
    would_impose: list[SanctionSummary]
    would_reinstate: bool
    counters_before: dict[str, int]
    counters_after: dict[str, int]
    events: list[str] = Field(description="stable names of the events an upheld appeal would record")
    text: str


class VerifyResult(Model):
    """The outcome of verifying the ledger (or an export, or against a digest): the hash chain, and
    every other check ``checks`` names; ``unchecked`` says what this verification cannot show."""

    ok: bool = Field(description="the event chain verified and no problem was found")
    chain_ok: bool = Field(True, description="the event chain alone verified")
    problems: list[str] = Field(default_factory=list, description="every problem besides the event chain, one line each")
    checks: list[str] = Field(default_factory=list, description="what was checked")
    unchecked: list[str] = Field(default_factory=list, description="what this verification does not show, and what would")
    signed_by: str | None = Field(None, description="with a digest: the public key that signed it (None: unsigned)")
    key_pinned: bool | None = Field(None, description="with a digest: whether its signer was checked against a pinned key")
    empty: bool = Field(description="the ledger (or export) holds no event at all")
    checked: int
    head_position: int
    head_hash: str
    first_bad_position: int | None = None
    first_bad_ref: str | None = None
    reason: str = ""
    digest_matched: bool | None = Field(None, description="with a digest: the log still holds it")
    summary: str
