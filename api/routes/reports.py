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
from api.models import EffectiveDay, Page, Problem
from api.routes.queries import every
from ledger.clock import business_date
from ledger.commands.models import Jurisdiction
from ledger.rules import PACKS
from ledger.views import Views
from ledger.views.service import MAX_LIMIT

router = APIRouter(prefix="/v1", tags=["reports"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Problem}, 403: {"model": Problem}, 422: {"model": Problem}}

FromDate = Annotated[EffectiveDay, Query(description="first day of the period (effective axis; YYYY-MM-DD)")]
ToDate = Annotated[EffectiveDay, Query(description="last day of the period (effective axis; YYYY-MM-DD), today at the latest")]


def _period(start: date, end: date, today: date) -> date:
    """The last day reported: nothing has taken effect after today (as history and as-of refuse a
    future day), so a period reaching past it is reported up to today — this year's report is the
    year to date, and says so in its ``effective_to`` — and one that begins after today is refused
    rather than answered with projections."""
    if end < start:
        raise Refused("effective_to is before effective_from", field="effective_to")
    if start > today:
        raise Refused(f"effective_from {start} is in the future (today is {today})", field="effective_from")
    reported = min(end, today)
    if (reported - start).days > 366 * 20:
        raise Refused("a period is at most twenty years", field="effective_from")
    return reported


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
    effective_to = _period(effective_from, effective_to, business_date(views.ledger.clock.now()))
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


@router.get("/reports/{jurisdiction}/announcements", response_model=Page[reports.Announcement], responses=_ERRORS, summary="The public announcement (公示, 公告, 通告 or 通报) of each removal in the period, where its article names one")
def announcements(jurisdiction: Jurisdiction, views: ViewsDep, effective_from: FromDate, effective_to: ToDate, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Any:
    """Public: each removal whose effective date falls in the period and whose article names a
    publication (:data:`api.reports.ANNOUNCED`), with its article, signed on the day the ledger
    recorded it. A removal rescinded later stays in its period's archive, marked with the
    rescission's day and appeal; one rescinded from its own day never took effect and is left out."""
    today = business_date(views.ledger.clock.now())
    effective_to = _period(effective_from, effective_to, today)

    def wanted(article: str, effective_on: date) -> bool:
        return effective_from <= effective_on <= effective_to and reports.announced_as(jurisdiction, article) is not None

    entries = {
        e.sanction_ref: {**e.model_dump(mode="json"), "signed_on": business_date(e.recorded_at)}
        for e in every(lambda cursor: views.lists(None, jurisdiction, cursor=cursor, limit=MAX_LIMIT))
        if e.list_kind in ("removed", "blacklist", "gray_list", "disqualified") and wanted(e.article, e.effective_on)
    }  # fmt: skip
    document = PACKS[jurisdiction].document
    for standing in views.providers(jurisdiction):
        rescinded = [
            s for s in standing.sanctions
            if s.removes and s.rescinded_on is not None and s.effective_on < s.rescinded_on and wanted(s.article, s.effective_on)
        ]  # fmt: skip
        if not rescinded:
            continue
        records = views.sanction_records(standing.provider_id, [s.ref for s in rescinded])
        for s in rescinded:
            record = records[s.ref]
            entries[s.ref] = {
                "provider_id": standing.provider_id, "provider_name": standing.name, "jurisdiction": jurisdiction, "sanction": s.sanction,
                "article": s.article, "citation_text": s.text, "document": document, "effective_on": s.effective_on, "sanction_ref": s.ref,
                "signed_on": business_date(record["recorded_at"]) if record["recorded_at"] else min(s.effective_on, today),
                "rescission": record["rescission"] or {"rescinded_on": s.rescinded_on},
            }  # fmt: skip
    texts = [reports.announcement(e) for e in sorted(entries.values(), key=lambda e: (str(e["effective_on"]), e["provider_id"], e["sanction_ref"]))]
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
