"""Reports for the bureaus (JSON, CSV, XLSX), the public announcements (公示) of removals,
and the stream of new events (server-sent events, resumable with ``Last-Event-ID``)."""
from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from api import reports
from api.deps import TOKEN_OPTIONAL, AppDep, PrincipalDep, ReaderOfReports, SettingsDep, ViewsDep, may_act_in
from api.errors import Refused
from api.models import Page, Problem
from api.routes.queries import every
from ledger.clock import business_date
from ledger.commands.models import Jurisdiction
from ledger.views import Views
from ledger.views.service import MAX_LIMIT

router = APIRouter(prefix="/v1", tags=["reports"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Problem}, 403: {"model": Problem}, 422: {"model": Problem}}

FromDate = Annotated[date, Query(description="first day of the period (effective axis)")]
ToDate = Annotated[date, Query(description="last day of the period (effective axis)")]


def _period(start: date, end: date) -> None:
    if end < start:
        raise Refused("effective_to is before effective_from", field="effective_to")
    if (end - start).days > 366 * 20:
        raise Refused("a period is at most twenty years", field="effective_to")


def standings(views: Views, jurisdiction: str, as_of: date | None = None) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Every provider's standing and grades in the jurisdiction, as the report's pure functions take them.

    With ``as_of`` before today, the grades are those history gives on that day (a verdict replaced
    or voided since still counts for it); nothing takes effect after today, so from today on they
    are the live ones."""
    found = views.providers(jurisdiction)
    grades = {s.provider_id: list(s.grades) for s in found}
    if as_of is not None and as_of < business_date(views.ledger.clock.now()):
        grades = views.grades_as_of(grades, as_of)
    return [s.model_dump(mode="json") for s in found], {pid: [g.model_dump(mode="json") for g in rows] for pid, rows in grades.items()}


@router.get(
    "/reports/{jurisdiction}",
    response_model=reports.Report,
    responses={**_ERRORS, 200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
    summary="A jurisdiction's report for a period: pool, admissions, removals by article, grades, stars, warnings and rectifications",
)
def report(
    jurisdiction: Jurisdiction,
    views: ViewsDep,
    principal: ReaderOfReports,
    effective_from: FromDate,
    effective_to: ToDate,
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx")] = "json",
) -> Any:
    """Auditors, and the regulator of the jurisdiction."""
    may_act_in(principal, jurisdiction)
    _period(effective_from, effective_to)
    found = reports.build_report(jurisdiction, effective_from, effective_to, *standings(views, jurisdiction, effective_to))
    name = f"report-{jurisdiction}-{effective_from}-{effective_to}"
    if format == "csv":
        return Response(reports.to_csv(found), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format == "xlsx":
        return Response(
            reports.to_xlsx(found),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return found


@router.get("/reports/{jurisdiction}/announcements", response_model=Page[reports.Announcement], responses=_ERRORS, summary="The public announcement (公示) of each removal in the period")
def announcements(jurisdiction: Jurisdiction, views: ViewsDep, effective_from: FromDate, effective_to: ToDate, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Any:
    """Public: each removal in force whose effective date falls in the period, with its article, ready to publish."""
    _period(effective_from, effective_to)
    entries = [
        e.model_dump(mode="json") for e in every(lambda cursor: views.lists(None, jurisdiction, cursor=cursor, limit=MAX_LIMIT))
        if effective_from <= e.effective_on <= effective_to and e.list_kind in ("removed", "blacklist", "gray_list", "disqualified")
    ]  # fmt: skip
    unique = list({e["sanction_ref"]: e for e in entries}.values())
    texts = [reports.announcement(e) for e in sorted(unique, key=lambda e: (str(e["effective_on"]), e["provider_id"]))]
    items = texts[offset : offset + limit]
    after = offset + len(items)
    return Page(items=items, total=len(texts), limit=limit, offset=offset, next_offset=after if after < len(texts) else None)


@router.get(
    "/events",
    tags=["events"],
    summary="New events as server-sent events; resume with Last-Event-ID (the log position)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 422: {"model": Problem}},
    openapi_extra=TOKEN_OPTIONAL,
)
async def events(
    request: Request,
    app: AppDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=2**62)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="start after this position (Last-Event-ID wins)")] = None,
    follow: Annotated[bool, Query(description="keep the stream open for new events (false: send what there is, then close)")] = True,
) -> StreamingResponse:
    """Each event carries its position (``id:``), its name (``event:``) and when it was recorded and took effect —
    not its content, which each role reads through the other endpoints. Public."""
    from ledger.wire import event_type

    store = app.ledger.store
    start = last_event_id if last_event_id is not None else (after if after is not None else store.max_position())

    def batch(position: int) -> list[Any]:
        return list(store.read_all(after=position, limit=500))

    async def stream() -> Any:
        position = start
        yield f": events after position {position}\n\n"
        while True:
            found = await asyncio.to_thread(batch, position)
            for event in found:
                data = {"position": event.position, "event": event_type(event), "recorded_at": event.recorded_at.isoformat(), "effective_on": event.effective_on.isoformat() if event.effective_on else None}
                yield f"id: {event.position}\nevent: ledger\ndata: {json.dumps(data)}\n\n"
                position = event.position
            if not found:
                if not follow or await request.is_disconnected():
                    return
                await asyncio.sleep(settings.stream_poll_seconds)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
