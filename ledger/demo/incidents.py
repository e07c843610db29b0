"""Planning what goes wrong: complaints, findings, the scripted removals, routine noise and the scheduler."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ledger.commands import models as m
from ledger.demo.data import CAPITALS, COMPLAINT_SUBJECTS, EVIDENCE, SCOPES
from ledger.demo.plan import DEMO_END
from ledger.demo.projects import Projects
from ledger.demo.shadow import _money, _Prov


class Incidents(Projects):
    """Complaints, findings, the scripted outcomes, routine events and the monthly deadline sweep."""

    def complaint(self, p: _Prov, filed: date, kind: str, subject: str, *, verdict: str | None, verify_on: date | None = None,
                  answer: bool = True, late: bool = False, request: date | None = None, findings: str = "") -> str:  # fmt: skip
        """File a complaint or report; ask the provider to answer; answer; verify. Returns its id."""
        rng = self.rng
        cid = self.dated_id(p.j, "C", filed)
        enterprise_id = None
        if kind == "enterprise":
            served = [self.projects[pid] for pid in p.projects if self.projects[pid].registered < filed]
            if served:
                project = rng.choice(served)
                enterprise_id, name = project.enterprise_id, project.enterprise_name
            else:
                name = self.enterprise_name(p.j)
        elif kind == "provider":
            others = self.of(p.j, lambda o: o.pid != p.pid)
            name = rng.choice(others).name if others else self.provider_name(p.j, p.kind)
        else:
            name = self.person()
        real_name = p.j == "xinxiang" or kind != "public" or rng.random() < 0.6
        self.add(
            filed, m.FileComplaint, complaint_id=cid, provider_id=p.pid, complainant_kind=kind, nature="report" if kind == "public" else "complaint",
            complainant_name=name if real_name else None, contact=f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}" if real_name else None,
            real_name=real_name, subject=subject, evidence=rng.sample(EVIDENCE, rng.randint(1, 3)), enterprise_id=enterprise_id,
        )  # fmt: skip
        request = request or self.days(filed, 1, 4)
        self.add(request, m.RequestAnswer, complaint_id=cid, answer_days=15)  # the bureau's request: 15 days
        if answer:
            self.add(self.days(request, 3, 12), m.RecordAnswer, complaint_id=cid, summary="服务商书面回复：已核查相关情况并提交整改说明")
        if verdict is not None:
            verify_on = verify_on or self.days(filed, 25, 60)
            self.add(verify_on, m.VerifyComplaint, complaint_id=cid, verdict=verdict, effective_on=filed if late else None,
                     findings=findings or ("经调查核实，投诉反映问题属实" if verdict == "true" else "经调查核实，投诉反映问题不属实"))  # fmt: skip
        return cid

    def finding(self, p: _Prov, day: date, article: str, text: str, *, evidence: tuple = (), deadline_days: int | None = None,
                exceptional_reason: str | None = None, complete: bool = True) -> str:  # fmt: skip
        """RecordFinding citing an article; for a warning or an order, rectification within the deadline. Returns its summary."""
        summary = f"{text}（{self.summary_no(p.j, day.year)}）"
        fields: dict[str, Any] = {"provider_id": p.pid, "article": article, "summary": summary}
        if deadline_days is not None:
            fields["deadline_days"] = deadline_days
        if exceptional_reason:
            fields["exceptional_reason"] = exceptional_reason
        self.add(day, m.RecordFinding, refs={"evidence": evidence} if evidence else None, **fields)
        if deadline_days is not None and complete:
            self.complete(p, self.days(day, 3, max(3, deadline_days - 3)), ("finding_sanction", p.pid, summary))
        return summary

    def scripted(self) -> None:
        rng, D = self.rng, timedelta
        for p in self.fates["tj_complaints"]:  # 天津 第十二条（四）: three verified complaints
            third = self.script[p.pid]["start"]
            verifies = [third - D(days=rng.randint(100, 130)), third - D(days=rng.randint(40, 70)), third]
            for k, verify_on in enumerate(verifies):
                filed = verify_on - D(days=rng.randint(30, 50))
                self.complaint(p, filed, "provider" if k == 1 else "enterprise", rng.choice(COMPLAINT_SUBJECTS), verdict="true", verify_on=verify_on, late=k == 0)
            self.complaint(p, third - D(days=rng.randint(60, 90)), "enterprise", rng.choice(COMPLAINT_SUBJECTS), verdict="unfounded")
        for p in self.fates["tj_fraud"]:
            self.finding(p, p.out, "第十二条（五）", "经专项审计，该服务商在承担的改造项目中虚增设备采购费用，骗取资助资金")  # type: ignore[arg-type]
        for role in ("tj_exit", "xx_exit", "pv_exit", "ts_exit", "lz_exit"):
            for p in self.fates[role]:
                self.add(p.out, m.WithdrawFromPool, provider_id=p.pid, reason=rng.choice(("公司业务调整，主动申请退出", "服务团队撤离本地，主动申请退出服务商库")))  # type: ignore[arg-type]

        for p in self.fates["xx_mix"]:  # 新乡 第十六条（一）: two warnings, then an appeal that is dismissed
            second = self.script[p.pid]["start"]
            self.finding(p, second - D(days=rng.randint(110, 130)), "第十五条（三）", "月度项目进度报告连续两个月未按时报送", deadline_days=30)
            changed = second - D(days=rng.randint(95, 110))
            reported = second - D(days=rng.randint(10, 16))
            self.add(reported, m.RecordProfileChange, provider_id=p.pid, field="legal_representative", new_value=self.person(), changed_on=changed, reported_on=reported)
            summary = self.finding(p, second, "第十五条（一）", "法定代表人变更逾期三个月才向市工业和信息化局报告", deadline_days=30,
                                   evidence=(("profile_change", p.pid, "legal_representative", changed.isoformat()),))  # fmt: skip
            self.appeal(
                p, self.days(second, 5, 10), "第十七条（三）", (("finding_sanction", p.pid, summary),), upheld=False,
                matter="对警告及取消资格决定提出申诉", reasons="法定代表人变更期间公司办公场所受暴雨灾害影响，未能及时报告",
                purpose="撤销第二次警告及取消资格决定", docs=["气象灾害预警通知", "工商变更登记材料"],
            )  # fmt: skip
        for p in self.fates["xx_unanswered"]:  # 新乡 第十八条: a real-name report the provider never answers
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "public", "举报该服务商申报材料中的项目业绩与实际不符", verdict=None, answer=False, request=sc["request"])
            verify_on = self.days(_next_first(sc["deadline"]), 5, 15)
            self.add(verify_on, m.VerifyComplaint, complaint_id=cid, verdict="true", findings="服务商逾期未回复；经核实，举报反映的业绩材料不实")
        for p in self.fates["xx_refused"]:  # 新乡 第十六条（二）: refuses to rectify after a warning
            sc = self.script[p.pid]
            summary = self.finding(p, sc["start"], "第十五条（五）", "解决方案清单中私自绑定专属产品，标准化产品报价高于同期市场价格", deadline_days=30, complete=False)
            self.add(sc["refusal"], m.RecordRectificationRefusal, provider_id=p.pid, refs={"sanction_ref": ("finding_sanction", p.pid, summary)})
        for p in self.fates["xx_fraud"]:  # 新乡 第十六条（五）
            self.finding(p, p.out, "第十六条（五）", "经纪检部门查实，该服务商向试点企业相关人员输送不正当利益")  # type: ignore[arg-type]
            self.add(self.days(p.out, 10, 20), m.WithholdFees, provider_id=p.pid, project_id=p.projects[-1] if p.projects else None,  # type: ignore[arg-type]
                     amount=_money(rng.uniform(80_000, 400_000)), reason="取消服务商资格，扣减未结算服务费用", article="第十六条（五）")  # fmt: skip

        for p in self.fates["pv_overdue"]:  # 省指南 四（一）: an order not rectified in time -> cleared
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "enterprise", "平台登记的产品功能与实际交付产品不符", verdict="true", verify_on=sc["verify"])
            self.finding(p, sc["finding"], "四（一）整改", "平台产品信息不实，经客户举报核实", evidence=(("complaint", cid),), deadline_days=30, complete=False)
        for p in self.fates["pv_clear"]:
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "enterprise", "服务商冒用其他企业案例承揽项目，造成企业损失", verdict="true", verify_on=sc["verify"])
            self.finding(p, sc["finding"], "四（一）清退", "客户举报经核实存在严重不良行为", evidence=(("complaint", cid),))
        for p in self.fates["pv_fraud"]:  # 省指南 四（四）
            self.finding(p, p.out, "四（四）", "申报及服务过程中提供虚假业绩证明，存在欺诈行为")  # type: ignore[arg-type]

        ts_texts = {"第十二条（二）": "驻场人员不足，未按合同要求服务试点企业，造成企业投诉", "第十二条（三）": "软件采购清单功能与费用罗列不准确",
                    "第十二条（五）": "拒不配合第三方支撑机构开展项目监理"}  # fmt: skip
        for role, appeal in (("ts_orders3_appeal", True), ("ts_orders3_dismissed", False)):  # 唐山 第十三条（一）: a third order
            for p in self.fates[role]:
                summaries = [
                    self.finding(p, day, article, text, deadline_days=rng.choice((20, 30)))
                    for day, (article, text) in zip(self.script[p.pid]["findings"], ts_texts.items())
                ]
                third = self.script[p.pid]["findings"][-1]
                if appeal:
                    self.appeal(
                        p, self.days(third, 18, 22), "第十六条（一）", (("finding_sanction", p.pid, summaries[0]),), upheld=True,
                        matter="对第一次限期整改决定提出申诉", reasons="试点企业长期未提供诊断所需的生产数据和现场条件，致使服务进度滞后",
                        purpose="撤销该次整改决定及据此作出的黑名单决定", docs=["工作联系函及企业签收记录", "项目周报"],
                    )  # fmt: skip
                else:
                    self.appeal(
                        p, self.days(third, 18, 22), "第十六条（三）", (("removal", p.pid),), upheld=False,
                        matter="对取消资格并纳入黑名单的认定理由提出异议", reasons="三次整改均已按期完成，不应再纳入黑名单",
                        purpose="撤销黑名单决定", docs=["整改完成报告"],
                    )  # fmt: skip
        for p in self.fates["ts_refused"]:  # 唐山 第十三条（一）: refuses to rectify within the deadline
            sc = self.script[p.pid]
            summary = self.finding(p, sc["start"], "第十二条（四）", "改造成效与实施方案存在明显偏差，未通过企业验收", deadline_days=30, complete=False)
            self.add(sc["refusal"], m.RecordRectificationRefusal, provider_id=p.pid, refs={"sanction_ref": ("finding_sanction", p.pid, summary)})
        for p in self.fates["ts_leak"]:  # 唐山 第十三条（四）
            self.finding(p, p.out, "第十三条（四）", "未经授权向第三方提供试点企业生产工艺数据，泄露企业商业秘密")  # type: ignore[arg-type]
            self.add(self.days(p.out, 10, 20), m.WithholdFees, provider_id=p.pid, project_id=p.projects[-1] if p.projects else None,  # type: ignore[arg-type]
                     amount=_money(rng.uniform(80_000, 400_000)), reason="唐山 第十四条：服务商被清退，不予支付服务费用", article="第十四条")  # fmt: skip

        lz_texts = {"第十二条（一）": "对接和进驻试点企业不及时，造成企业投诉", "第十二条（三）": "标准化产品报价高于同期市场均价",
                    "第十二条（五）": "以低于成本的报价排挤其他服务商"}  # fmt: skip
        for p in self.fates["lz_orders3"]:  # 柳州 第十四条（四）: a third order
            for day, (article, text) in zip(self.script[p.pid]["findings"], lz_texts.items()):
                self.finding(p, day, article, text, deadline_days=rng.choice((20, 30)))
        for p in self.fates["lz_overdue"]:  # 柳州 第十四条（四）: not rectified on time
            self.finding(p, self.script[p.pid]["start"], "第十二条（一）", "服务不能满足试点企业需求，造成企业投诉", deadline_days=20, complete=False)
        for p in self.fates["lz_fake"]:  # 柳州 第十四条（三）
            self.finding(p, p.out, "第十四条（三）", "与试点企业签订虚假合同、夸大改造成本")  # type: ignore[arg-type]
        for p in self.fates["lz_report"]:  # 柳州 第十五条: a verified report
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "public", "举报该服务商工作人员索要回扣", verdict="true", verify_on=sc["verify"])
            self.finding(p, sc["finding"], "第十五条", "举报经核实，服务商工作人员存在违规收受回扣行为", evidence=(("complaint", cid),))

    def routine(self) -> None:
        rng = self.rng
        complaints = {"tianjin": 20, "xinxiang": 10, "province": 8, "tangshan": 10, "liuzhou": 10}
        for j, n in complaints.items():
            for _ in range(n):
                filed = self.between(date(2024, 5, 6), date(2025, 10, 31))
                candidates = self.of(j, lambda p: p.good and p.in_pool(filed))
                if not candidates:
                    continue
                p = self.pick(candidates)
                kind = rng.choices(("enterprise", "provider", "public"), weights=(70, 15, 15))[0]
                verify_on = self.days(filed, 25, 60)
                true = rng.random() < 0.45
                if true and j == "tianjin" and kind != "public":
                    true = p.may_take("verified")
                    p.verified += true
                answer = j == "xinxiang" or rng.random() < 0.85
                cid = self.complaint(p, filed, kind, rng.choice(COMPLAINT_SUBJECTS), verdict="true" if true else "unfounded",
                                     verify_on=verify_on, answer=answer, late=true and j == "tianjin" and rng.random() < 0.35)  # fmt: skip
                if true and j in self.CONSEQUENCE:
                    day = self.days(verify_on, 5, 12)
                    article, what = self.CONSEQUENCE[j]
                    if p.in_pool(day) and p.may_take(what):
                        setattr(p, what + "s", getattr(p, what + "s") + 1)
                        self.finding(p, day, article, "投诉经核实：" + rng.choice(COMPLAINT_SUBJECTS), evidence=(("complaint", cid),), deadline_days=rng.choice((15, 20, 30)))
        findings = {"xinxiang": 5, "tangshan": 7, "liuzhou": 5, "province": 6}
        for j, n in findings.items():
            for k in range(n):
                day = self.between(date(2024, 6, 1), date(2025, 11, 15))
                what = self.CONSEQUENCE[j][1]
                candidates = self.of(j, lambda p: p.in_pool(day) and p.may_take(what))
                if not candidates:
                    continue
                p = self.pick(candidates)
                setattr(p, what + "s", getattr(p, what + "s") + 1)
                article, text = rng.choice(self.ROUTINE[j])
                if j == "tangshan" and k == 0:
                    self.finding(p, day, article, text, deadline_days=45, exceptional_reason="整改涉及硬件设备更换，供货周期较长，经局务会同意延长整改期限")
                else:
                    self.finding(p, day, article, text, deadline_days=rng.choice((15, 20, 30)))
        # profile changes, a few reported late (新乡 第十五条（一）, 唐山 第十二条（一）, 柳州 第十二条（二）)
        for k in range(24):
            changed = self.between(date(2024, 4, 1), date(2025, 8, 31))
            candidates = [p for p in self.provs.values() if p.good and p.in_pool(changed)]
            if not candidates:
                continue
            p = self.pick(candidates)
            fld = rng.choice(("address", "legal_representative", "registered_capital", "business_scope", "address", "name"))
            if fld == "name":
                if p.name.endswith("股份有限公司"):
                    fld = "address"
                else:
                    new = p.name.replace("有限公司", "股份有限公司")
                    self.names.add(new)
                    p.name = new
            new_value = {
                "address": lambda: self.address(p.j), "legal_representative": self.person,
                "registered_capital": lambda: f"{rng.choice(CAPITALS[4:])}万元人民币",
                "business_scope": lambda: rng.choice(SCOPES) + "；人工智能应用软件开发", "name": lambda: p.name,
            }[fld]()  # fmt: skip
            late = k % 4 == 0
            reported = self.days(changed, 60, 120) if late else self.days(changed, 2, 20)
            if not self.add(reported, m.RecordProfileChange, provider_id=p.pid, field=fld, new_value=new_value, changed_on=changed, reported_on=reported):
                continue
            day = self.days(reported, 5, 15)
            if late and p.j in self.LATE_REPORT:
                what = self.CONSEQUENCE[p.j][1]
                if p.in_pool(day) and p.may_take(what):
                    setattr(p, what + "s", getattr(p, what + "s") + 1)
                    self.finding(p, day, self.LATE_REPORT[p.j], "注册信息重大变更未及时报告", evidence=(("profile_change", p.pid, fld, changed.isoformat()),), deadline_days=20)
        # appeals of providers in good standing: one upheld (新乡), one dismissed (唐山)
        day = self.between(date(2025, 4, 1), date(2025, 5, 30))
        candidates = self.of("xinxiang", lambda p: p.in_pool(day) and p.may_take("warning"))
        if candidates:
            p = self.pick(candidates)
            p.warnings += 1
            summary = self.finding(p, day, "第十五条（三）", "项目验收资料报送超期", deadline_days=30, complete=False)
            self.appeal(
                p, self.days(day, 2, 4), "第十七条（一）", (("finding_sanction", p.pid, summary),), upheld=True, decide_in=(18, 22),
                matter="对警告决定提出申诉", reasons="试点企业迟迟不组织验收签字，导致资料无法按时报送",
                purpose="撤销该次警告", docs=["催办函", "企业回函"],
            )  # fmt: skip
        unsatisfied = {p.pid: [(d, pid) for d, r, pid in p.rating_log if r == "不满意" and d < date(2025, 10, 15)] for p in self.of("tangshan", lambda p: p.good)}
        candidates = [p for p in self.of("tangshan") if unsatisfied.get(p.pid)]
        if candidates:
            p = self.pick(candidates)
            day, project_id = unsatisfied[p.pid][0]
            self.appeal(
                p, self.days(day, 12, 20), "第十六条（二）", (("rating", project_id, p.pid),), upheld=False,
                matter="对企业满意度评价“不满意”提出异议", reasons="项目已按合同完成并通过验收",
                purpose="撤销该项“不满意”评价", docs=["验收报告"],
            )  # fmt: skip

    def deadlines(self) -> None:
        day = date(2024, 2, 1)
        while day <= DEMO_END:
            self.add(day, m.RecordPassedDeadlines, priority=0)
            day = _next_first(day)


def _next_first(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
