"""The plan being built: dated items, ids, and the random draws every part of the builder uses."""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ledger.clock import BUREAU_TZ
from ledger.commands import models as m
from ledger.demo.data import BRANDS, CONFIG, ENTERPRISE_BRANDS, GIVEN, OTHER_CITIES, ROADS, SURNAMES, TECH
from ledger.demo.plan import DEMO_END, DEMO_START, FULL_OUTCOMES, MAX_PROVIDERS, MIN_PROVIDERS, DeadlineSweep, Deferred, PlanEntry
from ledger.demo.shadow import _Item, _Proj, _Prov


class BuilderBase:
    """Items by day, serial numbers, and seeded draws of dates, names and places."""

    ROLES = {
        "tianjin": ("tj_grade_2024", "tj_grade_2024", "tj_grade_2024", "tj_grade_2025", "tj_grade_2025", "tj_complaints", "tj_complaints", "tj_fraud", "tj_exit", "tj_exit"),
        "xinxiang": ("xx_unsat2_appeal", "xx_unsat2", "xx_mix", "xx_unanswered", "xx_unanswered", "xx_refused", "xx_fraud", "xx_exit"),
        "province": ("pv_unq2", "pv_unq2", "pv_unq2", "pv_overdue", "pv_fraud", "pv_clear", "pv_exit"),
        "tangshan": ("ts_unsat2_appeal", "ts_unsat2", "ts_orders3_appeal", "ts_orders3_dismissed", "ts_refused", "ts_leak", "ts_exit"),
        "liuzhou": ("lz_gray11", "lz_unsat6", "lz_orders3", "lz_overdue", "lz_fake", "lz_report", "lz_exit"),
    }
    RATED = {"xx_unsat2_appeal": 4, "xx_unsat2": 4, "ts_unsat2_appeal": 3, "ts_unsat2": 3, "lz_gray11": 13, "lz_unsat6": 9}
    CONSEQUENCE = {  # article a verified complaint leads to
        "xinxiang": ("第十五条（二）", "warning"), "tangshan": ("第十二条（二）", "order"),
        "liuzhou": ("第十二条（一）", "order"), "province": ("四（一）整改", "order"),
    }  # fmt: skip
    ROUTINE = {
        "xinxiang": (("第十五条（三）", "项目资料报送不及时、不完整"), ("第十五条（五）", "软件采购清单未列明具体功能和费用")),
        "tangshan": (("第十二条（三）", "解决方案清单项目不完整"), ("第十二条（五）", "未按要求配合第三方评测"), ("第十二条（六）", "报价条款不符合公平竞争要求")),
        "liuzhou": (("第十二条（三）", "产品报价高于同期市场均价"), ("第十二条（五）", "项目推介中存在不当比较宣传")),
        "province": (("四（一）整改", "平台产品信息未及时更新"), ("四（一）整改", "服务案例信息与实际不符")),
    }  # fmt: skip
    LATE_REPORT = {"xinxiang": "第十五条（一）", "tangshan": "第十二条（一）", "liuzhou": "第十二条（二）"}

    def __init__(self, seed: int, providers: int) -> None:
        if providers < MIN_PROVIDERS:
            raise ValueError(f"the demo needs at least {MIN_PROVIDERS} providers, not {providers}")
        if providers > MAX_PROVIDERS:
            raise ValueError(f"the demo has names for at most {MAX_PROVIDERS} providers, not {providers}")
        self.seed = seed
        self.full = providers >= FULL_OUTCOMES
        self.rng = random.Random(seed)
        self.target = providers
        self.items: list[_Item] = []
        self.provs: dict[str, _Prov] = {}
        self.projects: dict[str, _Proj] = {}
        self.names: set[str] = set()
        self.serial: Counter[str] = Counter()
        self.rating_slots: list[tuple[date, int, str, str, bool]] = []  # day, seq, project, provider, accepted
        self.finding_no: Counter[str] = Counter()

    def add(self, day: date, command: type[m.Command], *, priority: int = 1, refs: dict[str, Any] | None = None, **fields: Any) -> bool:
        """Plan a command on a day; False (and nothing planned) past the end of the demo."""
        if day > DEMO_END:
            return False
        if day < DEMO_START:
            raise RuntimeError(f"demo generator: {command.__name__} planned on {day}, before {DEMO_START}")
        self.items.append(_Item(day, priority, len(self.items), command, fields, refs or {}))
        return True

    def next_id(self, kind: str) -> int:
        self.serial[kind] += 1
        return self.serial[kind]

    def plan(self) -> list[PlanEntry]:
        items = sorted(self.items, key=lambda i: (i.day, i.priority, i.seq))
        per_day = Counter(i.day for i in items)
        seen_on: Counter[date] = Counter()
        out: list[PlanEntry] = []
        for n, item in enumerate(items, 1):
            k = seen_on[item.day]
            seen_on[item.day] += 1
            seconds = 8 * 3600 + 30 * 60 + (k * 10 * 3600) // per_day[item.day]  # spread over 08:30 .. 18:30
            when = datetime(item.day.year, item.day.month, item.day.day, tzinfo=BUREAU_TZ) + timedelta(seconds=seconds)
            fields = dict(item.fields, command_id=f"demo{self.seed}-{n:05d}")
            if item.command is m.RecordPassedDeadlines:
                entry: m.Command | Deferred | DeadlineSweep = DeadlineSweep(fields["command_id"])
            elif item.refs:
                entry = Deferred(item.command, tuple(fields.items()), tuple(item.refs.items()))
            else:
                entry = item.command(**fields)
            out.append((when, entry))
        return out

    def days(self, day: date, low: int, high: int) -> date:
        return day + timedelta(days=self.rng.randint(low, high))

    def between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, max(0, (end - start).days)))

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def address(self, j: str) -> str:
        cfg = CONFIG[j]
        city = f"{cfg.city}市" if cfg.city else ""
        return f"{city}{self.rng.choice(cfg.districts)}{self.rng.choice(ROADS)}{self.rng.randint(1, 399)}号"

    def unique(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("ran out of names")

    def provider_name(self, j: str, kind: str) -> str:
        cfg = CONFIG[j]

        def make() -> str:
            if cfg.city and self.rng.random() < 0.82:
                prefix = cfg.city
            elif self.rng.random() < 0.5:
                prefix = self.rng.choice(OTHER_CITIES)
            else:
                prefix = ""
            suffix = "股份有限公司" if self.rng.random() < 0.15 else "有限公司"
            return f"{prefix}{self.rng.choice(BRANDS)}{self.rng.choice(TECH[kind])}{suffix}"

        return self.unique(make)

    def enterprise_name(self, j: str) -> str:
        cfg = CONFIG[j]

        def make() -> str:
            prefix = cfg.city if cfg.city else ""
            suffix = "股份有限公司" if self.rng.random() < 0.2 else "有限公司"
            return f"{prefix}{self.rng.choice(ENTERPRISE_BRANDS)}{self.rng.choice(cfg.industries)}{suffix}"

        return self.unique(make)

    def of(self, j: str, where: Callable[[_Prov], bool] = lambda p: True) -> list[_Prov]:
        return [p for p in self.provs.values() if p.j == j and where(p)]

    def pick(self, candidates: Sequence[_Prov]) -> _Prov:
        return self.rng.choices(list(candidates), weights=[p.weight for p in candidates])[0]

    def dated_id(self, j: str, letter: str, day: date) -> str:
        """Ids of complaints and appeals: code, letter, day filed, and a number within the day."""
        stem = f"{CONFIG[j].code}-{letter}{day:%Y%m%d}"
        return f"{stem}-{self.next_id(stem)}"

    def summary_no(self, j: str, year: int) -> str:
        self.finding_no[f"{j}{year}"] += 1
        return f"检查记录 {CONFIG[j].code}-{year}-{self.finding_no[f'{j}{year}']:03d}"
