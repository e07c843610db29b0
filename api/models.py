"""The API's own models: its offset paging, projects, command receipts, errors and health.

Reads answer the read service's models (``ledger.views.models``) as they are; only what
the API adds to them lives here. Dates say their axis in their name: ``effective_*`` is when a fact took effect
(the facts' own dates), ``recorded_*`` / ``known_at`` is when the ledger recorded it.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from ledger.aggregates.provider import STANDINGS
from ledger.clock import day
from ledger.views.models import RegistryAsOf

T = TypeVar("T")

ListKind = Literal["blacklist", "gray_list", "disqualified", "removed"]
if TYPE_CHECKING:
    Standing = str
else:  # the one list of standings (ledger.aggregates.provider.STANDINGS), an enum in the OpenAPI schema
    Standing = Literal[STANDINGS]
#: the latest grade a registry filter names: A–D (天津 第十一条), stars 0–3 (新乡 第十四条), qualified/unqualified (省指南 四（三）)
GradeFilter = Literal["A", "B", "C", "D", "0", "1", "2", "3", "qualified", "unqualified"]


def _day(value: Any) -> Any:
    try:
        return day(value) if isinstance(value, str) else value
    except ValueError as error:  # one line, without pydantic's "Value error, " prefix
        raise PydanticCustomError("day", "{why}", {"why": str(error)}) from None


#: a day on the effective axis: YYYY-MM-DD only (:func:`ledger.clock.day`), never a Unix timestamp
EffectiveDay = Annotated[date, BeforeValidator(_day)]


class Paging(BaseModel):
    limit: int = Field(50, ge=1, le=500, description="items per page")
    offset: int = Field(0, ge=0, le=10_000_000, description="items to skip")


class RegistryAsOfPage(RegistryAsOf):
    """The registry as of a window, one page of it (``limit``/``offset`` as ``/v1/registry``)."""

    total: int = Field(description="providers in the window, over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, null on the last")


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
    fees_after_clearance: list[dict[str, Any]] = Field(
        default_factory=list,
        description="唐山 第十四条 服务商被清退…不予支付服务费用，试点企业有权追回该项目预付款项: for each clearance of a provider of the"
        " project not yet accepted by then, from its effective day (rescinded_on: the day an appeal rescinded it)",
    )
    fees_not_payable: list[dict[str, Any]] = Field(
        default_factory=list, description="唐山 第十四条 未通过验收的，不予支付服务费用, recorded where the ledger knows no sum"
    )




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
