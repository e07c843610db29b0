"""Stand-in for ``ledger.views.Views`` and the bootstrap ``App`` until they land on main.

Same method names and arguments as the typed read service the API is written
against (registry(filters, paging), provider(id), grades, counters,
lists(kind, jurisdiction, paging), timeline(id, filters, cursor),
history(id, known_at, effective_at), explain(id), whatif(id, void)); it only
delegates to the existing read functions. Delete it when ``ledger.views`` lands.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.models import ListKind, Page, Paging, RegistryFilters
from ledger.bootstrap import App


def _page(rows: list[Any], paging: Paging) -> Page:
    items = rows[paging.offset : paging.offset + paging.limit]
    after = paging.offset + len(items)
    return Page(items=items, total=len(rows), limit=paging.limit, offset=paging.offset, next_offset=after if after < len(rows) else None)


def _latest_grade(standing: dict[str, Any]) -> str | None:
    grades = standing["grades"]
    for key, rows in (("grade", grades["scores"]), ("stars", grades["stars"]), ("qualified", grades["evaluations"])):
        if rows:
            value = rows[-1][key]
            return ("qualified" if value else "unqualified") if key == "qualified" else str(value)
    return None


class InterimViews:
    def __init__(self, app: App) -> None:
        from ledger.projections import read_models

        self.app = app
        self.models = read_models(app)

    def registry(self, filters: RegistryFilters, paging: Paging) -> Page:
        rows = self.models.registry(filters.jurisdiction)
        if filters.standing:
            rows = [r for r in rows if r["standing"] == filters.standing]
        if filters.kind:
            rows = [r for r in rows if r["kind"] == filters.kind]
        if filters.grade:
            rows = [r for r in rows if _latest_grade(self.models.provider_standing(r["provider_id"]) or {"grades": {"scores": [], "stars": [], "evaluations": []}}) == filters.grade]
        return _page(rows, paging)

    def provider(self, provider_id: str) -> dict[str, Any] | None:
        return self.models.provider_standing(provider_id)

    def grades(self, provider_id: str) -> list[dict[str, Any]]:
        return self.models.grades(provider_id)

    def counters(self, provider_id: str) -> dict[str, dict[str, Any]]:
        return self.models.counters(provider_id)

    def lists(self, kind: ListKind | None, jurisdiction: str | None, paging: Paging) -> Page:
        return _page(self.models.lists(kind, jurisdiction), paging)

    def timeline(self, provider_id: str, filters: Any, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        rows = [r for r in self.models.timeline(provider_id) if cursor is None or r["position"] > cursor]
        rows = [r for r in rows if filters.accepts(r)]
        page = rows[:limit]
        return page, (page[-1]["position"] if len(rows) > limit else None)

    def history(self, provider_id: str, known_at: datetime | date | None, effective_at: date | None) -> dict[str, Any] | None:
        from ledger.projections.history import standing_as_of

        return standing_as_of(self.app.ledger, provider_id, known_at=known_at, effective_at=effective_at)

    def explain(self, provider_or_ref: str) -> Any:
        from ledger.projections.explain import explain, explain_removal

        return explain(self.app.ledger, provider_or_ref) if "/" in provider_or_ref else explain_removal(self.app.ledger, provider_or_ref)

    def whatif(self, provider_id: str, void: list[str]) -> Any:
        from ledger.projections.whatif import what_if

        return what_if(self.app.ledger, provider_id, void)


@dataclass
class InterimApp:
    """The bootstrap App with a read service beside it."""

    app: App
    views: InterimViews

    @classmethod
    def around(cls, app: App) -> InterimApp:
        return cls(app, InterimViews(app))

    @classmethod
    def open(cls, database_url: str, clock: Any = None) -> InterimApp:
        from ledger.bootstrap import bootstrap
        from ledger.settings import Settings

        return cls.around(bootstrap(Settings(database_url=database_url), clock=clock))

    @property
    def ledger(self) -> Any:
        return self.app.ledger

    @property
    def settings(self) -> Any:
        return self.app.settings

    def close(self) -> None:
        self.app.close()
