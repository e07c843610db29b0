"""Queries: the registry, a provider's standing, grades, counters, sanctions, timeline,
history on both time axes, explain and what-if; the published lists; verify.

Each route parses, asks the read service (``App.views``) and answers its model.
Every list is paged. Dates say their axis: ``effective_*`` (when the fact took
effect) or ``recorded_*`` / ``known_at`` (when the ledger recorded it).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.auth import Role
from api.deps import TOKEN_OPTIONAL, AppDep, Auditor, PrincipalDep, ViewsDep, may_read_provider
from api.errors import Forbidden, Refused
from api.models import (
    Counter,
    CursorPage,
    Explanation,
    Grade,
    HistoricalStanding,
    ListEntry,
    ListKind,
    Page,
    Paging,
    Problem,
    ProjectRating,
    ProjectView,
    ProviderStanding,
    RegistryEntry,
    RegistryFilters,
    Sanction,
    TimelineEntry,
    Verification,
    WhatIf,
)
from ledger.aggregates.project import Project
from ledger.application import NotFound
from ledger.commands.models import Id, Jurisdiction, Ref

router = APIRouter(prefix="/v1", tags=["queries"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem},
}  # fmt: skip

PagingDep = Annotated[Paging, Depends()]
IN_POOL = ("in_pool", "warned", "rectifying", "reinstated")


class TimelineFilters(BaseModel):
    effective_from: date | None = Field(None, description="events whose fact took effect on or after this date")
    effective_to: date | None = Field(None, description="… on or before this date")
    recorded_from: datetime | None = Field(None, description="events recorded at or after this instant")
    recorded_to: datetime | None = Field(None, description="… at or before this instant")
    event_type: list[str] | None = Field(None, description="event names, e.g. Provider.SanctionImposed (repeat)")
    actor: str | None = Field(None, description="who recorded the event (recorded_by)")

    def accepts(self, row: dict[str, Any]) -> bool:
        effective = row.get("effective_on")
        recorded = datetime.fromisoformat(row["recorded_at"])
        if self.effective_from and (effective is None or date.fromisoformat(effective) < self.effective_from):
            return False
        if self.effective_to and (effective is None or date.fromisoformat(effective) > self.effective_to):
            return False
        if self.recorded_from and recorded < _aware(self.recorded_from):
            return False
        if self.recorded_to and recorded > _aware(self.recorded_to):
            return False
        if self.event_type and row["event_name"] not in self.event_type:
            return False
        return not (self.actor and row["recorded_by"] != self.actor)


def _aware(when: datetime) -> datetime:
    from ledger.projections.history import instant

    return instant(when)


def standing_of(views: Any, principal: Any, provider_id: str) -> dict[str, Any]:
    """The provider's standing, if the caller may read it (404 before 403: ids in the lists are public)."""
    standing = views.provider(provider_id)
    if standing is None:
        raise NotFound(f"no provider {provider_id!r} in the ledger")
    may_read_provider(principal, provider_id, standing["jurisdiction"])
    return standing


@router.get("/registry", response_model=Page[RegistryEntry], responses=_ERRORS, summary="The registry, filtered and paged", openapi_extra=TOKEN_OPTIONAL)
def registry(
    views: ViewsDep,
    principal: PrincipalDep,
    paging: PagingDep,
    jurisdiction: Jurisdiction | None = None,
    standing: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=200)] = None,
    grade: Annotated[str | None, Query(max_length=20, description="latest grade: A–D (天津), stars 0–3 (新乡), qualified/unqualified (省指南)")] = None,
) -> Any:
    """Auditors see every provider; a regulator every provider of its own jurisdiction (the default there);
    everyone else, and a regulator elsewhere, the pool only."""
    if principal.role is Role.regulator and jurisdiction is None:
        jurisdiction = principal.jurisdiction
    full = principal.role is Role.auditor or (principal.role is Role.regulator and jurisdiction == principal.jurisdiction)
    if not full and standing is not None and standing not in IN_POOL:
        raise Forbidden(f"only the pool ({', '.join(IN_POOL)}) is public; standing {standing!r} needs an auditor's or the regulator's token")
    filters = RegistryFilters(jurisdiction=jurisdiction, standing=standing, kind=kind, grade=grade)
    if full:
        return views.registry(filters, paging)
    page = views.registry(filters, Paging.model_construct(limit=10**9, offset=0))
    pool = [r for r in page.items if r["standing"] in IN_POOL]
    items = pool[paging.offset : paging.offset + paging.limit]
    after = paging.offset + len(items)
    return Page(items=items, total=len(pool), limit=paging.limit, offset=paging.offset, next_offset=after if after < len(pool) else None)


@router.get("/lists", response_model=Page[ListEntry], responses=_ERRORS, summary="The published lists, each entry with its article", openapi_extra=TOKEN_OPTIONAL)
def lists(views: ViewsDep, paging: PagingDep, kind: ListKind | None = None, jurisdiction: Jurisdiction | None = None) -> Any:
    """Blacklist, gray list, disqualified and removed, as a bureau publishes them (rescinded entries are gone). Public."""
    return views.lists(kind, jurisdiction, paging)


@router.get("/providers/{provider_id}", response_model=ProviderStanding, responses=_ERRORS, summary="A provider's standing")
def provider(provider_id: Id, views: ViewsDep, principal: PrincipalDep) -> Any:
    return standing_of(views, principal, provider_id)


@router.get("/providers/{provider_id}/grades", response_model=Page[Grade], responses=_ERRORS, summary="A provider's grades")
def grades(provider_id: Id, views: ViewsDep, principal: PrincipalDep, paging: PagingDep) -> Any:
    standing_of(views, principal, provider_id)
    return _page(views.grades(provider_id), paging)


@router.get("/providers/{provider_id}/counters", response_model=dict[str, Counter], responses=_ERRORS, summary="A provider's counters, each with the events counted")
def counters(provider_id: Id, views: ViewsDep, principal: PrincipalDep) -> Any:
    standing_of(views, principal, provider_id)
    return views.counters(provider_id)


@router.get("/providers/{provider_id}/sanctions", response_model=Page[Sanction], responses=_ERRORS, summary="A provider's sanctions with their citations")
def sanctions(provider_id: Id, views: ViewsDep, principal: PrincipalDep, paging: PagingDep) -> Any:
    return _page(standing_of(views, principal, provider_id)["sanctions"], paging)


@router.get("/providers/{provider_id}/timeline", response_model=CursorPage[TimelineEntry], responses=_ERRORS, summary="Every event of a provider, its projects, complaints and appeals")
def timeline(
    provider_id: Id,
    views: ViewsDep,
    principal: PrincipalDep,
    filters: Annotated[TimelineFilters, Query()],
    cursor: Annotated[int | None, Query(ge=0, le=2**62, description="a log position: events after it")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    standing_of(views, principal, provider_id)
    items, next_cursor = views.timeline(provider_id, filters, cursor, limit)
    return CursorPage(items=items, limit=limit, next_cursor=next_cursor)


@router.get("/providers/{provider_id}/history", response_model=HistoricalStanding, responses=_ERRORS, summary="A provider's standing as of a past date, on either time axis")
def history(
    provider_id: Id,
    views: ViewsDep,
    principal: PrincipalDep,
    known_at: Annotated[datetime | date | None, Query(description="as the ledger knew it then (recorded axis; a date means the end of that day, Asia/Shanghai)")] = None,
    effective_at: Annotated[date | None, Query(description="as in effect on that date (effective axis)")] = None,
) -> Any:
    if known_at is None and effective_at is None:
        raise Refused("give known_at and/or effective_at", field="known_at")
    standing_of(views, principal, provider_id)
    found = views.history(provider_id, known_at, effective_at)
    if found is None:
        raise NotFound(f"provider {provider_id!r} had not applied in that window")
    return found


@router.get("/providers/{provider_id}/explain", response_model=Explanation, responses=_ERRORS, summary="Why a sanction: article, parameters, evidence, chain of causation")
def explain(
    provider_id: Id,
    views: ViewsDep,
    principal: PrincipalDep,
    ref: Annotated[Ref | None, Query(description="a sanction's event ref; default: the provider's removal")] = None,
) -> Any:
    standing_of(views, principal, provider_id)
    explanation = views.explain(ref or provider_id)
    if explanation.provider_id != provider_id:
        raise NotFound(f"{ref} is not an event of provider {provider_id}")
    return explanation.to_dict()


@router.get("/providers/{provider_id}/whatif", response_model=WhatIf, responses=_ERRORS, summary="What an upheld appeal voiding the evidence would change (writes nothing)")
def whatif(provider_id: Id, views: ViewsDep, principal: PrincipalDep, void: Annotated[list[Ref], Query(min_length=1, description="evidence refs to void (repeat)")]) -> Any:
    standing_of(views, principal, provider_id)
    result = views.whatif(provider_id, void)
    return {k: v for k, v in vars(result).items() if k not in ("before", "after")}


@router.get("/projects/{project_id}", response_model=ProjectView, responses=_ERRORS, summary="A project: its enterprise, providers, stage, filing, acceptance and ratings")
def project(project_id: Id, app: AppDep, principal: PrincipalDep) -> Any:
    """The enterprise reads its own projects; the regulator of the jurisdiction and auditors read all."""
    found = app.ledger.load(Project, project_id)  # NotFound -> 404
    allowed = (
        principal.role is Role.auditor
        or (principal.role is Role.regulator and principal.jurisdiction == found.jurisdiction)
        or (principal.role is Role.enterprise and principal.enterprise_id == found.enterprise_id)
    )
    if principal.role is Role.public:
        from api.auth import TokenError

        raise TokenError("a bearer token is required to read a project")
    if not allowed:
        raise Forbidden(f"a {principal.role} may not read project {project_id}")
    return ProjectView(
        project_id=found.project_id, jurisdiction=found.jurisdiction, enterprise_id=found.enterprise_id, enterprise_name=found.enterprise_name,
        provider_ids=found.provider_ids, stage=found.stage, filing=found.filing, acceptance=found.acceptance,
        implementation_started_on=found.implementation_started_on,
        ratings={pid: ProjectRating(rating=r["rating"], ref=r["ref"], effective_on=r["on"]) for pid, r in found.ratings.items()},
    )  # fmt: skip


@router.get("/verify", response_model=Verification, responses=_ERRORS, summary="Check the hash chain of the whole log (auditor)", tags=["audit"])
def verify(app: AppDep, principal: Auditor) -> Any:
    from ledger.audit.verify import verify_store

    report = verify_store(app.ledger.store)
    return Verification(ok=report.ok, events=report.checked, summary=report.summary())


def _page(rows: list[Any], paging: Paging) -> Page:
    items = rows[paging.offset : paging.offset + paging.limit]
    after = paging.offset + len(items)
    return Page(items=items, total=len(rows), limit=paging.limit, offset=paging.offset, next_offset=after if after < len(rows) else None)
