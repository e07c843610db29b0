"""Queries: the registry, a provider's standing, grades, counters, sanctions, timeline,
history on both time axes, explain and what-if; the published lists; verify.

Each route parses, asks the read service (``App.views``) and answers its model.
Every list is paged. Dates say their axis: ``effective_*`` (when the fact took
effect) or ``recorded_*`` / ``known_at`` (when the ledger recorded it).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BeforeValidator

from api.auth import Principal, Role
from api.deps import TOKEN_OPTIONAL, AppDep, Auditor, PrincipalDep, ViewsDep, may_read_provider
from api.errors import Forbidden
from api.models import EffectiveDay, GradeFilter, ListKind, Page, Paging, Problem, ProjectRating, ProjectView, RegistryAsOfPage, Standing
from ledger import views as v
from ledger.aggregates.project import Project
from ledger.aggregates.provider import Provider
from ledger.clock import day_or_instant
from ledger.commands.models import Id, Jurisdiction, Ref
from ledger.views.service import MAX_LIMIT


def _day_or_instant(value: Any) -> Any:
    """``2025-03-01`` is a day (which the read service takes as the start or the end of it, in
    Asia/Shanghai), not the instant at midnight a datetime would make of it; read as the CLI reads it
    (:func:`ledger.clock.day_or_instant`: a compact date or a number is refused)."""
    return day_or_instant(value) if isinstance(value, str) else value


#: a point on the recorded axis: an ISO instant (Asia/Shanghai without an offset) or a day
DayOrInstant = Annotated[datetime | date, BeforeValidator(_day_or_instant)]

router = APIRouter(prefix="/v1", tags=["queries"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem},
}  # fmt: skip

PagingDep = Annotated[Paging, Depends()]
IN_POOL = ("in_pool", "warned", "rectifying", "reinstated")
T = TypeVar("T")


def standing_of(views: v.Views, principal: Any, provider_id: str) -> v.ProviderStanding:
    """The provider's standing, if the caller may read it (404 before 403: ids in the lists are public)."""
    standing = views.provider(provider_id)  # views.NotFound -> 404
    may_read_provider(principal, provider_id, standing.jurisdiction)
    return standing


def every(fetch: Callable[[str | None], v.Page[T]]) -> Iterator[T]:
    """Every item of a cursor-paged read, page after page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def offset_page(page: v.Page[T]) -> Page[T]:
    """A page of the read service in the API's offset paging (what the dashboard pages with)."""
    after = page.offset + len(page.items)
    return Page[T](items=page.items, total=page.total, limit=page.limit, offset=page.offset, next_offset=after if page.next_cursor else None)


def slice_page(rows: list[T], paging: Paging) -> Page[T]:
    items = rows[paging.offset : paging.offset + paging.limit]
    after = paging.offset + len(items)
    return Page[T](items=items, total=len(rows), limit=paging.limit, offset=paging.offset, next_offset=after if after < len(rows) else None)


def registry_scope(principal: Principal, jurisdiction: str | None) -> tuple[str | None, bool]:
    """The jurisdiction a registry read covers (a regulator's own by default) and whether the reader
    sees every provider in it (an auditor; a regulator in its own) or only the pool."""
    if principal.role is Role.regulator and jurisdiction is None:
        jurisdiction = principal.jurisdiction
    return jurisdiction, principal.role is Role.auditor or (principal.role is Role.regulator and jurisdiction == principal.jurisdiction)


@router.get("/registry", response_model=Page[v.RegistryEntry], responses=_ERRORS, summary="The registry, filtered and paged", openapi_extra=TOKEN_OPTIONAL)
def registry(
    views: ViewsDep,
    principal: PrincipalDep,
    paging: PagingDep,
    jurisdiction: Jurisdiction | None = None,
    standing: Standing | None = None,
    kind: Annotated[str | None, Query(max_length=200)] = None,
    grade: Annotated[GradeFilter | None, Query(description="latest grade: A–D (天津), stars 0–3 (新乡), qualified/unqualified (省指南)")] = None,
) -> Any:
    """Auditors see every provider; a regulator every provider of its own jurisdiction (the default there);
    everyone else, and a regulator elsewhere, the pool only."""
    covered, full = registry_scope(principal, jurisdiction)
    if not full and standing is not None and standing not in IN_POOL:
        raise Forbidden(f"only the pool ({', '.join(IN_POOL)}) is public; standing {standing!r} needs an auditor's or the regulator's token")
    if full:
        return offset_page(views.registry(covered, standing, kind, grade, offset=paging.offset, limit=paging.limit))
    pool = [
        r for r in every(lambda cursor: views.registry(covered, standing, kind, grade, cursor=cursor, limit=MAX_LIMIT))
        if r.standing in IN_POOL
    ]  # fmt: skip
    return slice_page(pool, paging)


@router.get(
    "/registry/as-of", response_model=RegistryAsOfPage, responses=_ERRORS, openapi_extra=TOKEN_OPTIONAL,
    summary="The registry as of a past instant or date, on either time axis or both",
)  # fmt: skip
def registry_as_of(
    views: ViewsDep,
    principal: PrincipalDep,
    paging: PagingDep,
    jurisdiction: Jurisdiction | None = None,
    known_at: Annotated[DayOrInstant | None, Query(description="as the ledger knew it then (recorded axis; a date means the end of that day, Asia/Shanghai)")] = None,
    effective_at: Annotated[EffectiveDay | None, Query(description="as in effect on that date (effective axis; YYYY-MM-DD)")] = None,
) -> Any:
    """Every provider's line as of the window. Who sees what is as in `/registry`: auditors every
    provider, a regulator every provider of its own jurisdiction (the default there), everyone
    else the providers that were in the pool then."""
    covered, full = registry_scope(principal, jurisdiction)
    as_of = views.registry_as_of(covered, known_at, effective_at)
    page = slice_page(as_of.items if full else [e for e in as_of.items if e.standing in IN_POOL], paging)
    return RegistryAsOfPage(as_of=as_of.as_of, view=as_of.view, items=page.items, total=page.total, limit=page.limit, offset=page.offset, next_offset=page.next_offset)


@router.get("/lists", response_model=Page[v.ListEntry], responses=_ERRORS, summary="The published lists, each entry with its article", openapi_extra=TOKEN_OPTIONAL)
def lists(views: ViewsDep, paging: PagingDep, kind: ListKind | None = None, jurisdiction: Jurisdiction | None = None) -> Any:
    """Blacklist, gray list, disqualified and removed, as a bureau publishes them (rescinded entries are gone). Public."""
    return offset_page(views.lists(kind, jurisdiction, offset=paging.offset, limit=paging.limit))


@router.get("/providers/{provider_id}", response_model=v.ProviderStanding, responses=_ERRORS, summary="A provider's standing")
def provider(provider_id: Id, views: ViewsDep, principal: PrincipalDep) -> Any:
    return standing_of(views, principal, provider_id)


@router.get("/providers/{provider_id}/grades", response_model=Page[v.Grade], responses=_ERRORS, summary="A provider's grades")
def grades(provider_id: Id, views: ViewsDep, principal: PrincipalDep, paging: PagingDep) -> Any:
    return slice_page(standing_of(views, principal, provider_id).grades, paging)


@router.get("/providers/{provider_id}/counters", response_model=list[v.CounterValue], responses=_ERRORS, summary="A provider's counters, each with the events counted")
def counters(provider_id: Id, views: ViewsDep, principal: PrincipalDep) -> Any:
    return standing_of(views, principal, provider_id).counters


@router.get("/providers/{provider_id}/sanctions", response_model=Page[v.Sanction], responses=_ERRORS, summary="A provider's sanctions with their citations")
def sanctions(provider_id: Id, views: ViewsDep, principal: PrincipalDep, paging: PagingDep) -> Any:
    return slice_page(standing_of(views, principal, provider_id).sanctions, paging)


@router.get("/providers/{provider_id}/timeline", response_model=v.Page[v.TimelineEntry], responses=_ERRORS, summary="Every event of a provider, its projects, complaints and appeals")
def timeline(
    provider_id: Id,
    views: ViewsDep,
    principal: PrincipalDep,
    effective_from: Annotated[EffectiveDay | None, Query(description="events whose fact took effect on or after this date (effective axis; YYYY-MM-DD)")] = None,
    effective_to: Annotated[EffectiveDay | None, Query(description="… on or before this date (effective axis; YYYY-MM-DD)")] = None,
    recorded_from: Annotated[DayOrInstant | None, Query(description="events the ledger recorded at or after this instant (recorded axis; a date means the start of that day, a time without offset is Asia/Shanghai)")] = None,
    recorded_to: Annotated[DayOrInstant | None, Query(description="… at or before this instant (recorded axis; a date means the end of that day, Asia/Shanghai)")] = None,
    event_type: Annotated[str | None, Query(max_length=100, description="a stable event name (provider.sanction-imposed.v1) or its aggregate (provider)")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="who recorded the event (recorded_by)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    standing_of(views, principal, provider_id)
    return views.timeline(provider_id, effective_from, effective_to, event_type, actor, recorded_from=recorded_from, recorded_to=recorded_to, cursor=cursor, limit=limit)


@router.get("/providers/{provider_id}/history", response_model=v.History, responses=_ERRORS, summary="A provider's standing as of a past date, on either time axis")
def history(
    provider_id: Id,
    views: ViewsDep,
    principal: PrincipalDep,
    known_at: Annotated[DayOrInstant | None, Query(description="as the ledger knew it then (recorded axis; a date means the end of that day, Asia/Shanghai)")] = None,
    effective_at: Annotated[EffectiveDay | None, Query(description="as in effect on that date (effective axis; YYYY-MM-DD)")] = None,
) -> Any:
    standing_of(views, principal, provider_id)
    return views.history(provider_id, known_at, effective_at)


@router.get("/providers/{provider_id}/explain", response_model=v.Explanation, responses=_ERRORS, summary="Why a sanction: article, parameters, evidence, chain of causation")
def explain(
    provider_id: Id,
    views: ViewsDep,
    principal: PrincipalDep,
    ref: Annotated[Ref | None, Query(description="a sanction's event ref; default: the provider's removal")] = None,
) -> Any:
    standing_of(views, principal, provider_id)
    explanation = views.explain(ref or provider_id)
    if explanation.provider_id != provider_id:
        raise v.NotFound(f"{ref} is not an event of provider {provider_id}")
    return explanation


@router.get("/providers/{provider_id}/whatif", response_model=v.WhatIfResult, responses=_ERRORS, summary="What an upheld appeal voiding the evidence would change (writes nothing)")
def whatif(provider_id: Id, views: ViewsDep, principal: PrincipalDep, void: Annotated[list[Ref], Query(min_length=1, description="evidence refs to void (repeat)")]) -> Any:
    standing_of(views, principal, provider_id)
    return views.whatif(provider_id, void)


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
        fees_after_clearance=found.fees_after_clearance({pid: app.ledger.load(Provider, pid) for pid in found.provider_ids}, app.ledger.pack(found.jurisdiction)),
        fees_not_payable=found.fees_not_payable,
    )  # fmt: skip


@router.get("/verify", response_model=v.VerifyResult, responses=_ERRORS, summary="Verify the ledger as `ledger verify` does (auditor)", tags=["audit"])
def verify(
    views: ViewsDep,
    principal: Auditor,
    read_models: Annotated[bool, Query(description="also rebuild the read models from the log and compare them (`ledger verify --read-models`)")] = False,
) -> Any:
    """The checks of `ledger verify` (one function, :meth:`ledger.views.Views.verify`): ``ok`` is false
    when the event chain breaks or any other check found a problem (``problems``); ``checks`` and
    ``unchecked`` say what was and was not checked."""
    return views.verify(read_models=read_models)
