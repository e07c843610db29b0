"""The API's public models: what every route answers (``response_model=``), its contract.

Dates say their axis in their name: ``effective_*`` is when a fact took effect
(the facts' own dates), ``recorded_*`` / ``known_at`` is when the ledger recorded it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

ListKind = Literal["blacklist", "gray_list", "disqualified", "removed"]
Standing = Literal[
    "applied", "in_notice", "in_pool", "warned", "rectifying", "reinstated", "refused", "lapsed", "exited",
    "removed", "blacklisted", "gray_listed", "disqualified",
]


class Paging(BaseModel):
    limit: int = Field(50, ge=1, le=500, description="items per page")
    offset: int = Field(0, ge=0, le=10_000_000, description="items to skip")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, null on the last")


class CursorPage(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    next_cursor: int | None = Field(description="pass as ?cursor= for the next page (a log position); null on the last")


class RegistryFilters(BaseModel):
    jurisdiction: str | None = None
    standing: str | None = None
    kind: str | None = None
    grade: str | None = Field(None, description="the latest letter grade (天津), stars (新乡) or qualified/unqualified (省指南)")


class RegistryEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider_id: str
    jurisdiction: str
    name: str
    kind: str
    status: str
    standing: str
    status_since: date = Field(description="effective date of the current pool status")
    standing_since: date = Field(description="effective date of the current standing")
    applied_on: date = Field(description="effective date of the application")
    admitted_on: date | None = Field(description="effective date of admission")
    last_recorded_at: datetime = Field(description="when the ledger last recorded an event of this provider")


class ListEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    list_kind: str
    provider_id: str
    provider_name: str
    jurisdiction: str
    sanction: str
    article: str = Field(description="the article applied, in the rulebook's words, e.g. 唐山 第十三条（二）")
    citation_text: str
    document: str
    pack_version: str
    derived: bool = Field(description="true when the ledger derived the sanction from counted facts, false for a regulator's finding")
    evidence: list[str]
    effective_on: date = Field(description="effective date of the sanction")
    recorded_at: datetime = Field(description="when the ledger recorded it")
    sanction_ref: str


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    position: int = Field(description="the event's position in the log")
    ref: str
    aggregate: str
    subject_id: str
    event_name: str
    effective_on: date | None = Field(description="effective date of the fact, when it has one")
    recorded_at: datetime = Field(description="when the ledger recorded it")
    recorded_by: str
    command_id: str
    summary: str


class Grade(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scheme: str
    period: str
    grade: str
    score: float | None
    detail: dict[str, Any]
    ref: str
    effective_on: date


class Counter(BaseModel):
    value: int
    refs: list[str]
    source_refs: list[str]
    detail: dict[str, Any]


class Sanction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ref: str
    sanction: str
    article: str
    text: str
    pack_version: str
    derived: bool
    params: dict[str, Any]
    evidence: list[str]
    effective_on: date
    deadline: date | None
    state: str
    rescinded_on: date | None
    removes: bool


class ProviderStanding(BaseModel):
    """A provider's standing now: pool status, grades, counters and every sanction with its citation."""

    model_config = ConfigDict(extra="allow")

    provider_id: str
    name: str
    jurisdiction: str
    kind: str
    status: str
    standing: str
    status_since: date
    applied_on: date
    admitted_on: date | None
    grades: dict[str, list[dict[str, Any]]]
    counters: dict[str, dict[str, Any]]
    sanctions: list[Sanction]


class HistoricalStanding(ProviderStanding):
    as_of: dict[str, Any] = Field(description="the window: known_at (recorded axis) and effective_at (effective axis)")


class ExplanationNode(BaseModel):
    ref: str
    kind: str
    title: str
    event_name: str | None = None
    effective_on: date | None = None
    recorded_at: datetime | None = None
    recorded_by: str | None = None
    details: dict[str, Any] = {}
    voided: dict[str, Any] | None = None
    rescinded: dict[str, Any] | None = None
    children: list[ExplanationNode] = []


class Explanation(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider_id: str
    jurisdiction: str
    root: ExplanationNode


class WhatIf(BaseModel):
    """What an upheld appeal voiding the named evidence would change. Nothing is written."""

    provider_id: str
    refs: list[str]
    voided: list[str]
    as_of: date
    status_before: str
    status_after: str
    standing_before: str
    standing_after: str
    would_rescind: list[dict[str, Any]]
    would_impose: list[dict[str, Any]]
    would_reinstate: bool
    counters_before: dict[str, Any]
    counters_after: dict[str, Any]
    events: list[str]


class ProjectRating(BaseModel):
    rating: str
    ref: str
    effective_on: date = Field(description="effective date of the rating")


class ProjectView(BaseModel):
    project_id: str
    jurisdiction: str
    enterprise_id: str
    enterprise_name: str
    provider_ids: list[str]
    stage: str
    filing: str | None
    acceptance: str | None
    implementation_started_on: date | None = Field(description="effective date implementation started")
    ratings: dict[str, ProjectRating] = Field(description="provider id -> the enterprise's latest rating")


class Verification(BaseModel):
    ok: bool
    events: int
    summary: str


class CommandAccepted(BaseModel):
    command_id: str
    duplicate: bool = Field(description="true when this command id had been recorded before; nothing new was written")
    positions: list[int] = Field(description="log positions of the events recorded")
    events: list[str] = Field(description="names of the events recorded")


class Problem(BaseModel):
    """Every error answer: one clear line, and the field or article it is about."""

    detail: str
    field: str | None = None
    article: str | None = None
    errors: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
