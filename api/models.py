"""The API's own models: its offset paging, projects, command receipts, errors and health.

Reads answer the read service's models (``ledger.views.models``) as they are; only what
the API adds to them lives here. Dates say their axis in their name: ``effective_*`` is when a fact took effect
(the facts' own dates), ``recorded_*`` / ``known_at`` is when the ledger recorded it.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

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




class CommandAccepted(BaseModel):
    command_id: str
    duplicate: bool = Field(description="true when this command id had been recorded before; nothing new was written")
    positions: list[int] = Field(description="log positions of the events recorded")
    events: list[str] = Field(description="names of the events recorded")
    read_models_caught_up: bool | None = Field(
        None,
        description="with a Wait-For-Read-Models header: whether the read models had applied these positions when the answer was"
        " sent (false: the command is recorded, the read models are still behind); absent without the header",
    )


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
