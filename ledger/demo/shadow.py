"""The shadow of the ledger the generator keeps: each provider's standing as planned so far."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.commands import models as m
from ledger.demo.plan import DEMO_END


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, -2))).quantize(Decimal("0.01"))


@dataclass
class _Prov:
    pid: str
    j: str
    kind: str
    name: str
    lead: bool
    weight: float
    round: int
    admitted: date | None = None  # the day the admission is recorded
    role: str = "good"
    reg_until: date = DEMO_END  # last day a new project may name it
    out: date | None = None  # from this day on it is out of the pool (conservatively)
    back: date | None = None  # reinstated on this day
    quota: int = 0  # projects it must serve (roles whose outcome comes from ratings)
    quota_until: date = DEMO_END
    warnings: int = 0
    orders: int = 0
    unsat: int = 0
    unsat_ents: list[str] = field(default_factory=list)
    verified: int = 0
    unqualified: list[int] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    ratings: list[tuple[date, str, str]] = field(default_factory=list)  # effective day, rating, enterprise
    rating_log: list[tuple[date, str, str]] = field(default_factory=list)  # recorded day, rating, project

    @property
    def good(self) -> bool:
        return self.role == "good"

    def in_pool(self, day: date) -> bool:
        if self.admitted is None or day <= self.admitted:
            return False
        if self.out is not None and day >= self.out:
            return self.back is not None and day > self.back
        return True

    def can_serve(self, day: date) -> bool:
        return self.in_pool(day) and day <= self.reg_until

    def may_take(self, what: str) -> bool:
        """Whether a provider with no scripted outcome can take one more negative fact and stay clear of every threshold."""
        if not self.good:
            return False
        if what == "warning":  # 新乡 第十六条（一）: two warnings disqualify
            return self.warnings < 1
        if what == "order":  # 唐山 第十三条（一）/ 柳州 第十四条（四）: a third order removes
            return self.orders < 2
        if what == "verified":  # 天津 第十二条（四）: a third verified complaint removes
            return self.verified < 2
        raise ValueError(what)


@dataclass
class _Proj:
    pid: str
    j: str
    enterprise_id: str
    enterprise_name: str
    registered: date
    providers: list[str]  # lead first
    cost: Decimal = Decimal(0)
    started: date | None = None
    passed_on: date | None = None  # the day a passing acceptance is recorded
    failed_finally: date | None = None


@dataclass
class _Item:
    day: date
    priority: int
    seq: int
    command: type[m.Command]
    fields: dict[str, Any]
    refs: dict[str, Any]
