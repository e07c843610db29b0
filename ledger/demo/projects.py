"""Planning the pilot enterprises' projects: from diagnosis to acceptance, ratings, payments and grades."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from ledger.aggregates.project import ENTERPRISE_KINDS
from ledger.commands import models as m
from ledger.demo.admission import Admission
from ledger.demo.data import CONFIG, LEVELS, PROBLEMS, SCENARIOS, SYSTEMS
from ledger.demo.plan import DEMO_END, JURISDICTIONS, Locator
from ledger.demo.shadow import _money, _Proj, _Prov
from ledger.rules.base import BELOW_TARGET_LEVEL, IMPLEMENTED_BEFORE_FILING


class Projects(Admission):
    """Projects and their lifecycle, the ratings that follow, the outcomes ratings cause, payments and grades."""

    def projects_all(self) -> None:
        for j in JURISDICTIONS:
            cfg = CONFIG[j]
            n = int(round(len(self.of(j)) * cfg.projects_per_provider))
            first = date(2024, 4, 1) if j != "xinxiang" else date(2024, 4, 8)
            days = sorted(self.between(first, date(2025, 8, 31)) for _ in range(n))
            for day in days:
                self.project(j, day)
        for role, quota in self.RATED.items():
            for p in self.fates[role]:
                if self.full and len(p.projects) < quota:
                    raise RuntimeError(f"demo generator: {p.pid} ({role}) serves {len(p.projects)} projects, needs {quota}")

    def project(self, j: str, day: date) -> None:
        cfg = CONFIG[j]
        available = self.of(j, lambda p: p.can_serve(day))
        leads = [p for p in available if p.lead]
        products = [p for p in available if not p.lead]
        if not leads:
            return
        needy = [p for p in products if p.quota and len(p.projects) < p.quota and day <= p.quota_until]
        chosen: list[_Prov] = []
        if not (j == "liuzhou" and self.rng.random() < 0.08):  # 柳州 第九条: a product provider may lead where no integrator takes part
            chosen.append(self.pick(leads))
        want = self.rng.choices((0, 1, 2), weights=(3, 5, 2))[0] if chosen else 1
        for p in needy:
            if self.rng.random() < 0.6 and len(chosen) < 3:
                chosen.append(p)
        others = [p for p in products if p not in chosen and not p.quota]
        while others and sum(1 for p in chosen if not p.lead) < want:
            p = self.pick(others)
            others.remove(p)
            chosen.append(p)
        if not chosen:
            return
        pid = f"{cfg.code}-P{day.year}-{self.next_id(cfg.code + 'P' + str(day.year)):04d}"
        eid = f"{cfg.code}-E{self.next_id(cfg.code + 'E'):04d}"
        ename = self.enterprise_name(j)
        ekind = self.rng.choices(ENTERPRISE_KINDS, weights=(50, 15, 3, 12, 10, 10))[0]
        lead = chosen[0]
        project = _Proj(pid, j, eid, ename, day, [p.pid for p in chosen])
        self.projects[pid] = project
        for p in chosen:
            p.projects.append(pid)
        integrated = lead.pid if lead.lead else None
        product_ids = [p.pid for p in chosen if p.pid != integrated]
        self.add(day, m.RegisterProject, project_id=pid, jurisdiction=j, enterprise_id=eid, enterprise_name=ename, enterprise_kind=ekind,
                 integrated_provider_id=integrated, product_provider_ids=product_ids)  # fmt: skip
        self.lifecycle(project, lead)

    def lifecycle(self, project: _Proj, lead: _Prov) -> None:
        rng, j, pid = self.rng, project.j, project.pid
        level_before = rng.choices((0, 1, 2, 3), weights=(1, 6, 4, 1))[0]
        scenarios = rng.sample(SCENARIOS, rng.randint(2, 4))
        diag = self.days(project.registered, 10, 30)
        ok = self.add(diag, m.RecordDiagnosis, project_id=pid, level_before=level_before,
                      report=f"{project.enterprise_name}数字化水平诊断报告：现状为{LEVELS[level_before]}，建议优先改造{scenarios[0]}",
                      problems=rng.sample(PROBLEMS, rng.randint(2, 4)), scenarios=scenarios)  # fmt: skip
        if not ok:
            return
        cost = _money(rng.uniform(200_000, 2_400_000))
        systems = "、".join(rng.sample(SYSTEMS, rng.randint(1, 3)))

        def filing(day: date, cost: Decimal, note: str = "") -> bool:
            end = day + timedelta(days=rng.randint(120, 240))
            return self.add(
                day, m.SubmitFiling, project_id=pid, content=f"部署{systems}，覆盖{'、'.join(scenarios)}{note}", cost=cost,
                expected_effect=f"数字化水平由{LEVELS[level_before]}提升至{LEVELS[min(4, max(2, level_before + 1))]}，生产效率提升{rng.randint(8, 30)}%",
                schedule=f"{day:%Y年%m月}至{end:%Y年%m月}",
            )  # fmt: skip

        submitted = self.days(diag, 10, 25)
        if not filing(submitted, cost):
            return
        early = j == "xinxiang" and lead.may_take("warning") and rng.random() < 0.05
        if early:  # 新乡 第十五条（四）: implementation started before the filing was approved
            lead.warnings += 1
            start = self.days(submitted, 2, 6)
            if not self.add(start, m.StartImplementation, project_id=pid):
                return
            self.complete(lead, self.days(start, 7, 20), ("fact_sanction", lead.pid, IMPLEMENTED_BEFORE_FILING, pid))
            decided = self.days(start, 4, 12)
            if not self.add(decided, m.DecideFiling, project_id=pid, approved=True, reasons="专家评审通过；已提醒服务商先备案后实施"):
                return
        else:
            decided = self.days(submitted, 7, 20)
            if rng.random() < 0.08:
                if not self.add(decided, m.DecideFiling, project_id=pid, approved=False, reasons="实施方案费用测算依据不足，请补充后重新报备"):
                    return
                cost = _money(float(cost) * rng.uniform(0.8, 0.95))
                if not filing(self.days(decided, 10, 25), cost, "（修改稿）"):
                    return
                decided = self.days(decided, 25, 40)
            if not self.add(decided, m.DecideFiling, project_id=pid, approved=True, reasons="专家评审通过"):
                return
            start = self.days(decided, 3, 15)
            if not self.add(start, m.StartImplementation, project_id=pid):
                return
        project.started = start
        project.cost = cost
        last = start
        if rng.random() < 0.1:  # 新乡 第十二条（三）: a major change is filed again before work goes on
            changed = self.days(start, 30, 60)
            extra = _money(float(cost) * rng.uniform(0.1, 0.35))
            removed = rng.random() < 0.3
            ok = self.add(changed, m.RecordMajorChange, project_id=pid,
                          description="取消一个改造场景" if removed else f"新增{rng.choice(SCENARIOS)}模块，投资增加{extra}元",
                          investment_increase=None if removed else extra, scenarios_removed=1 if removed else 0)  # fmt: skip
            if not ok or not filing(self.days(changed, 5, 12), cost if removed else cost + extra, "（重大变更重新报备）"):
                return
            if not removed:
                cost = cost + extra
            last = self.days(changed, 15, 25)
            if not self.add(last, m.DecideFiling, project_id=pid, approved=True, reasons="重大变更经专家评审同意"):
                return
        project.cost = cost
        accepted = max(self.days(start, 90, 180), self.days(last, 20, 40))
        for attempt in (1, 2):
            fail = rng.random() < (0.15 if j == "tangshan" else 0.1)
            level_after, below = None, False
            if not fail:
                level_after = min(4, max(2 if j in ("tangshan", "liuzhou") else 1, level_before + rng.choice((1, 1, 1, 2))))
                if j == "liuzhou" and level_before <= 1 and lead.may_take("order") and rng.random() < 0.22:
                    level_after, below = 1, True  # 柳州 第十二条（四）: below level 2 after the project
            late = rng.random() < 0.08
            recorded = self.days(accepted, 5, 12) if late else accepted
            ok = self.add(recorded, m.RecordAcceptance, project_id=pid, passed=not fail, level_after=level_after,
                          effective_on=accepted if late else None)  # fmt: skip
            if not ok:
                return
            if below:
                lead.orders += 1
                self.complete(lead, self.days(recorded, 7, 20), ("fact_sanction", lead.pid, BELOW_TARGET_LEVEL, pid))
            if not fail:
                project.passed_on = recorded
                break
            if attempt == 2 or rng.random() < 0.15:
                project.failed_finally = recorded
                break
            accepted = self.days(recorded, 45, 90)  # 新乡 第十二条（四）: rectify, then the next acceptance batch
        done = project.passed_on or project.failed_finally
        for provider_id in project.providers:
            self.rating_slots.append((self.days(done, 5, 20), len(self.rating_slots), pid, provider_id, project.passed_on is not None))  # type: ignore[arg-type]

    def complete(self, p: _Prov, day: date, locator: Locator) -> None:
        self.add(day, m.CompleteRectification, provider_id=p.pid, refs={"sanction_ref": locator})

    def ratings(self) -> None:
        rng = self.rng
        unsat_count: Counter[str] = Counter()
        for day, _, project_id, provider_id, accepted in sorted(self.rating_slots):
            if day > DEMO_END:
                continue
            p, project = self.provs[provider_id], self.projects[project_id]
            ent = project.enterprise_id
            draw = rng.random()
            rating = "满意" if draw < 0.62 else "基本满意" if draw < 0.92 else "不满意"
            role, j = p.role, p.j
            critical = False
            if role in ("xx_unsat2", "xx_unsat2_appeal"):
                rating = "不满意" if accepted and unsat_count[p.pid] < 2 and p.out is None else rating.replace("不满意", "基本满意")
            elif role in ("ts_unsat2", "ts_unsat2_appeal"):
                rating = "不满意" if unsat_count[p.pid] < 2 and p.out is None else rating.replace("不满意", "基本满意")
            elif role == "lz_gray11":
                rating = "不满意" if p.out is None or rng.random() < 0.5 else "基本满意"
            elif role == "lz_unsat6":
                rating = "不满意" if unsat_count[p.pid] < 6 else rating.replace("不满意", "基本满意")
            elif rating == "不满意":
                if not p.good:
                    rating = "基本满意"
                elif j == "xinxiang" and accepted:
                    rating = "不满意" if p.may_take("warning") else "基本满意"
                elif j == "tangshan":
                    rating = "不满意" if p.unsat < 1 else "基本满意"
                elif j == "liuzhou":
                    rating = "不满意" if ent in p.unsat_ents or len(p.unsat_ents) < 4 else "基本满意"
            if rating == "不满意":
                critical = not p.good
                unsat_count[p.pid] += 1
                p.unsat += 1
                if ent not in p.unsat_ents:
                    p.unsat_ents.append(ent)
            late = not critical and rng.random() < 0.05
            recorded = self.days(day, 3, 10) if late else day
            if not self.add(recorded, m.RateSatisfaction, project_id=project_id, provider_id=provider_id, rating=rating, effective_on=day if late else None):
                continue
            p.ratings.append((day, rating, ent))
            p.rating_log.append((recorded, rating, project_id))
            if rating != "不满意":
                continue
            if j == "xinxiang" and accepted:  # 新乡 第十五条（四）: a warning, to rectify
                if p.out is None:
                    p.warnings += 1
                    self.complete(p, self.days(recorded, 7, 14), ("rating_sanction", p.pid, project_id))
                if p.warnings >= 2 and p.out is None:
                    p.out = recorded
                    self.outcome(p, recorded, last_rating=project_id)
            elif j == "tangshan" and p.unsat >= 2 and p.out is None and not p.good:
                p.out = recorded
                self.outcome(p, recorded, last_rating=project_id)
            elif j == "liuzhou" and p.out is None and not p.good:
                if len(p.unsat_ents) == 6 and p.orders == 0:  # 柳州 第十二条（六）
                    p.orders += 1
                    self.complete(p, self.days(recorded, 7, 14), ("rule_sanction", p.pid, "liuzhou.12.6"))
                if len(p.unsat_ents) >= 11:  # 柳州 第十四条（五）
                    p.out = recorded
        if not self.full:  # a small plan may leave an outcome from ratings unreached
            return
        for role in ("xx_unsat2", "xx_unsat2_appeal", "ts_unsat2", "ts_unsat2_appeal", "lz_gray11"):
            for p in self.fates[role]:
                if p.out is None:
                    raise RuntimeError(f"demo generator: {p.pid} ({role}) did not reach its outcome from ratings")
        for p in self.fates["lz_unsat6"]:
            if len(p.unsat_ents) < 6:
                raise RuntimeError(f"demo generator: {p.pid} (lz_unsat6) has {len(p.unsat_ents)} 不满意 ratings")

    def outcome(self, p: _Prov, day: date, last_rating: str) -> None:
        """What follows a removal derived from ratings: an appeal, or fees withheld."""
        if p.role == "xx_unsat2_appeal":
            self.appeal(
                p, self.days(day, 16, 20), "第十七条（二）", (("rating", last_rating, p.pid),), upheld=True,
                matter="对试点企业满意度评价“不满意”提出异议",
                reasons="评价时项目已通过验收且各项指标达标，企业的评价依据是与本服务商无关的设备供货延误",
                purpose="撤销该项“不满意”评价及由此产生的警告和取消资格决定",
                docs=["验收报告", "企业设备供货合同", "项目周报"],
            )  # fmt: skip
        elif p.role == "ts_unsat2_appeal":
            self.appeal(
                p, self.days(day, 5, 15), "第十六条（二）", (("rating", last_rating, p.pid),), upheld=True,
                matter="对企业满意度评价“不满意”提出异议",
                reasons="评价表由非项目负责人填写，企业事后书面确认对服务基本满意",
                purpose="撤销该项评价及据此作出的取消资格、纳入黑名单决定",
                docs=["企业书面说明", "满意度评价表原件"],
            )  # fmt: skip
        elif p.role in ("xx_unsat2", "ts_unsat2"):
            reason = "新乡 第十六条：取消服务商资格，扣减未结算服务费用" if p.j == "xinxiang" else "唐山 第十三条、第十四条：取消资格并纳入黑名单，不予支付服务费用"
            article = "第十六条（一）" if p.j == "xinxiang" else "第十四条"  # disqualified by two warnings / 被清退 (第十三条（二）)
            self.add(self.days(day, 10, 20), m.WithholdFees, provider_id=p.pid, project_id=p.projects[-1], amount=_money(self.rng.uniform(50_000, 300_000)), reason=reason, article=article)

    def appeal(self, p: _Prov, filed: date, ground: str, targets: tuple, upheld: bool, matter: str, reasons: str, purpose: str, docs: list[str],
               decide_in: tuple[int, int] = (20, 30)) -> date:  # fmt: skip
        """FileAppeal, then DecideAppeal 20-30 days later; an upheld appeal reinstates a removed provider."""
        aid = self.dated_id(p.j, "A", filed)
        self.add(filed, m.FileAppeal, appeal_id=aid, provider_id=p.pid, ground=ground, matter=matter, reasons=reasons, purpose=purpose,
                 supporting_evidence=docs, refs={"evidence_refs": targets})  # fmt: skip
        decided = self.days(filed, *decide_in)
        self.add(decided, m.DecideAppeal, appeal_id=aid, upheld=upheld,
                 reasons="申诉理由成立，相关证据不再作为认定依据" if upheld else "申诉理由不成立，维持原处理决定")  # fmt: skip
        if upheld and p.out is not None and p.out <= filed:
            p.back = decided
        return decided

    def removed_on(self, p: _Prov, day: date) -> bool:
        """Out of the pool by a sanction (not a voluntary exit) on that day."""
        return not p.role.endswith("_exit") and p.out is not None and day >= p.out and not (p.back is not None and day > p.back)

    def payments(self) -> None:
        for project in self.projects.values():
            if project.started is None:
                continue
            lead = project.providers[0]
            pre = _money(float(project.cost) * 0.3)
            self.add(self.days(project.started, 0, 10), m.RecordPayment, project_id=project.pid, kind="prepayment", amount=pre, provider_id=lead)
            if project.passed_on is not None:
                rest = project.cost - pre
                shares = [(lead, rest)] if len(project.providers) == 1 else [(lead, _money(float(rest) * 0.6))]
                for provider_id in project.providers[1:]:
                    shares.append((provider_id, _money(float(rest) * 0.4 / (len(project.providers) - 1))))
                for provider_id, amount in shares:
                    day = self.days(project.passed_on, 15, 45)
                    kind = "fee_withheld" if self.removed_on(self.provs[provider_id], day) else "fee_paid"
                    self.add(day, m.RecordPayment, project_id=project.pid, kind=kind, amount=amount, provider_id=provider_id)
            elif project.failed_finally is not None and project.j == "tangshan" and self.rng.random() < 0.7:
                # 唐山 第十四条: 试点企业有权追回该项目预付款项
                self.add(self.days(project.failed_finally, 20, 40), m.RecordPayment, project_id=project.pid, kind="prepayment_recovered", amount=pre, provider_id=lead)

    def grades(self) -> None:
        rng = self.rng
        windows = {2024: (date(2025, 1, 13), date(2025, 1, 24)), 2025: (date(2025, 12, 8), date(2025, 12, 19))}
        for year, (low, high) in windows.items():
            for p in self.of("tianjin"):  # 天津 第十一条: A >= 80, B >= 70, C >= 60, D < 60
                removing = (p.role == "tj_grade_2024" and year == 2024) or (p.role == "tj_grade_2025" and year == 2025)
                day = p.out if removing else self.between(low, high)
                assert day is not None
                if not p.in_pool(day) and not removing:
                    continue
                score = rng.choice((55.5, 58.0, 61.5, 64.0, 67.5)) if removing else min(98.0, max(70.5, rng.gauss(83, 6)))
                self.add(day, m.RecordScore, provider_id=p.pid, year=year, score=round(score, 1))
        windows = {2024: (date(2025, 1, 20), date(2025, 2, 7)), 2025: (date(2025, 12, 8), date(2025, 12, 22))}
        for year, (low, high) in windows.items():
            for p in self.of("province"):  # 省指南 四（三）: unqualified two years running -> cleared
                removing = p.role == "pv_unq2"
                day = p.out if removing and year == 2025 else self.between(low, high)
                assert day is not None
                if not p.in_pool(day) and not (removing and year == 2025):
                    continue
                qualified = not removing
                if p.good and rng.random() < 0.1 and year - 1 not in p.unqualified:
                    qualified = False
                if not qualified:
                    p.unqualified.append(year)
                self.add(day, m.RecordEvaluation, provider_id=p.pid, year=year, qualified=qualified)
        # 新乡 第十四条: first rating in the 3rd month after the first batch was announced (March 2024)
        rounds = {"2024-R1": date(2024, 6, 17), "2024-R2": date(2024, 12, 16), "2025-R1": date(2025, 6, 16), "2025-R2": date(2025, 12, 15)}
        thresholds = {"three_star_min_enterprises": 5, "three_star_min_satisfied": 0.9, "two_star_min_enterprises": 3, "two_star_min_satisfied": 0.8, "one_star_min_enterprises": 1}
        for name, day in rounds.items():
            for p in self.of("xinxiang"):
                rated_on = self.days(day, 0, 3)
                if not p.in_pool(rated_on):
                    continue
                served = {self.projects[pid].enterprise_id for pid in p.projects if self.projects[pid].registered < day}
                rated = [r for d, r, _ in p.ratings if d < day]
                share = round(sum(1 for r in rated if r != "不满意") / len(rated), 2) if rated else 0.0
                n = len(served)
                if n >= 5 and rated and share >= 0.9:
                    stars = 3
                elif n >= 3 and rated and share >= 0.8:
                    stars = 2
                elif n >= 1:
                    stars = 1
                else:
                    stars = 0
                basis: dict[str, float | int | str] = {"enterprises_served": n, "ratings": len(rated), "satisfied_share": share, **thresholds}
                self.add(rated_on, m.RecordStarRating, provider_id=p.pid, rating_round=name, stars=stars, basis=basis)
