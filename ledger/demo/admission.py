"""Planning the pools: rulebooks, applications, public notices, admissions and the scripted roles."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from ledger.commands import models as m
from ledger.demo.base import BuilderBase
from ledger.demo.data import CAPITALS, CONFIG, OBJECTIONS, SCOPES, VALIDITY
from ledger.demo.plan import JURISDICTIONS
from ledger.demo.shadow import _Prov
from ledger.rules import credit_code


def _credit_code(j: str, pid: str) -> str:
    """A 统一社会信用代码 with a valid check character (an enterprise registered with market
    regulation, 91…; a 2015+ identification code, MA…), derived from the provider id."""
    digest = hashlib.sha256(pid.encode()).digest()
    return credit_code.complete("91" + CONFIG[j].division + "MA" + "".join(credit_code.ALPHABET[b % 31] for b in digest[:7]))


class Admission(BuilderBase):
    """Rulebook dates, the applicants of each pool, who is admitted, refused or lapses, and the roles."""

    def rulebooks(self) -> None:
        day = date(2024, 1, 2)
        for j, (start, until, reference) in VALIDITY.items():
            self.add(day, m.DeclareRulebookValidity, priority=0, jurisdiction=j, valid_from=start, valid_until=until, reference=reference)
        self.add(
            day, m.SetRulebookParameters, priority=0, jurisdiction="xinxiang",
            params={"warning_rectification_days": 30},
            reference="新乡市工业和信息化局：由本局认定的警告整改期限30日（演示数据）",
        )  # fmt: skip
        self.add(
            day, m.SetRulebookParameters, priority=0, jurisdiction="liuzhou",
            params={"rectification_days": 30},
            reference="柳州市工业和信息化局：由本局认定的限期整改期限30日（演示数据）",
        )  # fmt: skip

    def providers(self) -> None:
        counts = {j: int(round(self.target * CONFIG[j].share)) for j in JURISDICTIONS}
        counts["tianjin"] += self.target - sum(counts.values())
        for j in JURISDICTIONS:
            n = counts[j]
            second = int(round(n * 0.15))
            extras = {"tianjin": ("objection", "lapse"), "xinxiang": ("objection", "refuse"), "province": ("refuse", "lapse"), "tangshan": ("refuse",), "liuzhou": ("lapse", "refuse")}[j]
            applicants = [(1, None)] * (n - second) + [(2, None)] * second
            for k, extra in enumerate(extras):
                applicants.insert(3 + 5 * k, (1, extra))  # type: ignore[arg-type]
            self._select(j, applicants)  # type: ignore[arg-type]

    def _kind(self, j: str) -> tuple[str, bool]:
        kinds = CONFIG[j].kinds
        kind, _, lead = self.rng.choices(kinds, weights=[k[1] for k in kinds])[0]
        return kind, (self.rng.random() < 0.55 if lead is None else lead)

    def _select(self, j: str, applicants: list[tuple[int, str | None]]) -> None:
        cfg = CONFIG[j]
        notice = j in ("tianjin", "xinxiang")
        # one call for applications a year (天津 第九条); admissions are announced in batches
        calls = {1: (date(2024, 1, 8), date(2024, 2, 16)), 2: (date(2025, 1, 6), date(2025, 2, 14))}
        batches = {
            1: {"tianjin": date(2024, 2, 26), "xinxiang": date(2024, 3, 4), "province": date(2024, 3, 1), "tangshan": date(2024, 2, 28), "liuzhou": date(2024, 3, 6)}[j],
            2: {"tianjin": date(2025, 3, 3), "xinxiang": date(2025, 3, 10), "province": date(2025, 3, 7), "tangshan": date(2025, 3, 5), "liuzhou": date(2025, 3, 12)}[j],
        }
        objections = 0
        for round_, extra in applicants:
            year = 2024 if round_ == 1 else 2025
            pid = f"{cfg.code}-{year}-{self.next_id(cfg.code + str(year)):03d}"
            kind, lead = self._kind(j)
            name = self.provider_name(j, kind)
            applied = self.between(*calls[round_])
            eligibility: dict[str, bool | int] = {  # type: ignore[assignment]
                "tianjin": {"law_violations_last_3_years": False, "unfair_competition_last_3_years": False, "serious_dishonesty_list": False},
                "xinxiang": {"abnormal_operation_list": False, "serious_dishonesty_list": False, "major_safety_accident": False, "tax_evasion": False},
                "province": {"registered_on_platform": True},
                "tangshan": {"serious_dishonesty_list": False, "registered_in_tangshan": True},
                "liuzhou": {"serious_dishonesty_list": False, "local_service_team": True},
            }[j]
            if kind == "智能装备服务商":
                eligibility = dict(eligibility, enterprises_in_province=self.rng.randint(3, 14))
            profile = {
                "address": self.address(j),
                "legal_representative": self.person(),
                "business_scope": self.rng.choice(SCOPES),
                "registered_capital": f"{self.rng.choice(CAPITALS)}万元人民币",
            }
            self.add(applied, m.SubmitApplication, provider_id=pid, jurisdiction=j, name=name, credit_code=_credit_code(j, pid),
                     kind=kind, profile=profile, eligibility=eligibility)  # fmt: skip
            batch = batches[round_]
            if extra == "lapse":
                self.add(self.days(batch, -5, -1), m.LapseApplication, provider_id=pid, reason="未在规定期限内补正申报材料")
                continue
            if extra == "refuse":
                reason = "县（市、区）审查未予推荐" if j == "xinxiang" else "专家评审未通过：案例项目与申报方向不符"
                self.add(self.days(batch, -6, -2), m.RefuseAdmission, provider_id=pid, reason=reason)
                continue
            if notice:
                opened = batch
                last_day = self.days(opened, 6 if j == "tianjin" else 4, 9)  # 天津 第十条: at least 7 days, inclusive
                self.add(opened, m.OpenPublicNotice, provider_id=pid)
                raise_objection = extra == "objection" or (round_ == 1 and self.rng.random() < 0.06 and objections < 4)
                if raise_objection:
                    objections += 1
                    grounds, stands = OBJECTIONS[3] if extra == "objection" else self.rng.choice(OBJECTIONS[:3])
                    oid = f"{pid}-O1"
                    raised = self.days(opened, 1, 3)
                    self.add(raised, m.RaiseObjection, provider_id=pid, objection_id=oid, raised_by=self.enterprise_name(j), grounds=grounds)
                    self.add(
                        self.days(raised, 1, max(1, (last_day - raised).days)), m.ResolveObjection, provider_id=pid, objection_id=oid, stands=stands,
                        reasons="经核实，异议事项属实" if stands else "经核实，相关项目已完成验收，异议不成立",
                    )  # fmt: skip
                admitted = self.days(last_day, 1, 2)
                self.add(admitted, m.ClosePublicNotice, provider_id=pid, last_day=last_day)
                if extra == "objection":
                    continue
            else:
                admitted = self.days(batch, 0, 3)
                self.add(admitted, m.AdmitProvider, provider_id=pid)
            self.provs[pid] = _Prov(pid, j, kind, name, lead, self.rng.lognormvariate(0, 0.6), round_, admitted)

    def roles(self) -> None:
        """Give some first-round providers a scripted outcome, with the days it unfolds on."""
        self.fates: defaultdict[str, list[_Prov]] = defaultdict(list)
        self.script: dict[str, dict[str, Any]] = {}
        for j, roles in self.ROLES.items():
            first = self.of(j, lambda p: p.round == 1)
            free = list(first)
            spare = len(first) // 2  # at least half of them stay in good standing (small plans have fewer outcomes)
            for role in roles:
                candidates = [p for p in free if not p.lead] if role in self.RATED else free
                if spare == 0 or not candidates:
                    continue
                p = self.rng.choice(candidates)
                free.remove(p)
                spare -= 1
                p.role = role
                self.fates[role].append(p)
        if self.full:
            missing = [role for roles in self.ROLES.values() for role in dict.fromkeys(roles) if len(self.fates[role]) < roles.count(role)]
            if missing:
                raise RuntimeError(f"demo generator: no provider for {', '.join(missing)}")
        for role, quota in self.RATED.items():
            for p in self.fates[role]:
                p.quota = quota
                if role == "lz_unsat6":
                    p.quota_until = date(2025, 2, 28)
                else:  # every rating of theirs comes after their last registration
                    p.reg_until = p.quota_until = date(2024, 10, 31) if role == "lz_gray11" else date(2024, 9, 30)
        J, D = self.days, timedelta
        starts = {
            "tj_grade_2024": [date(2025, 1, 13)] * 3, "tj_grade_2025": [date(2025, 12, 8)] * 2,
            "tj_complaints": [date(2024, 11, 8), date(2025, 6, 5)], "tj_fraud": [date(2025, 3, 12)],
            "tj_exit": [date(2025, 4, 10), date(2025, 9, 8)],
            "xx_mix": [date(2024, 12, 12)], "xx_unanswered": [date(2024, 10, 8), date(2025, 4, 14)],
            "xx_refused": [date(2025, 3, 10)], "xx_fraud": [date(2025, 7, 7)], "xx_exit": [date(2025, 5, 19)],
            "pv_unq2": [date(2025, 12, 8)] * 3, "pv_overdue": [date(2025, 3, 10)], "pv_fraud": [date(2025, 2, 17)],
            "pv_clear": [date(2024, 9, 9)], "pv_exit": [date(2025, 6, 16)],
            "ts_orders3_appeal": [date(2024, 7, 15)], "ts_orders3_dismissed": [date(2024, 8, 12)],
            "ts_refused": [date(2025, 2, 17)], "ts_leak": [date(2025, 8, 11)], "ts_exit": [date(2025, 7, 1)],
            "lz_orders3": [date(2024, 6, 17)], "lz_overdue": [date(2025, 4, 14)], "lz_fake": [date(2025, 6, 9)],
            "lz_report": [date(2025, 8, 4)], "lz_exit": [date(2025, 10, 13)],
        }  # fmt: skip
        for role, days in starts.items():
            for p, start in zip(self.fates[role], days):
                d = J(start, 0, 8)
                sc: dict[str, Any] = {"start": d}
                if role in ("tj_grade_2024", "tj_grade_2025", "pv_unq2"):
                    out = d  # the day of the grade or evaluation that removes it
                elif role in ("ts_orders3_appeal", "ts_orders3_dismissed", "lz_orders3"):
                    sc["findings"] = [d, J(d, 110, 130), J(d, 230, 250)]
                    out = sc["findings"][-1]
                elif role == "xx_unanswered":  # 新乡 第十八条: asked to answer a report, never does
                    sc["request"] = d + D(days=2)
                    sc["deadline"] = sc["request"] + D(days=15)
                    out = sc["deadline"] + D(days=1)
                elif role == "pv_overdue":
                    sc["verify"], sc["finding"] = d + D(days=30), d + D(days=36)
                    out = sc["finding"] + D(days=31)
                elif role == "pv_clear":
                    sc["verify"], sc["finding"] = d + D(days=35), d + D(days=42)
                    out = sc["finding"]
                elif role == "lz_report":
                    sc["verify"], sc["finding"] = d + D(days=25), d + D(days=32)
                    out = sc["finding"]
                elif role == "lz_overdue":
                    out = d + D(days=21)
                elif role in ("ts_refused", "xx_refused"):
                    sc["refusal"] = d + D(days=7)
                    out = d
                elif role == "tj_complaints":
                    out = d  # the third verified complaint
                else:
                    out = d
                p.out = out
                p.reg_until = min(p.reg_until, out - D(days=21))
                self.script[p.pid] = sc
