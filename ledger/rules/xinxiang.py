"""新乡市中小企业数字化转型城市试点数字化服务商管理办法（试行）(修订征求意见稿, 2025)
— seeds/001_e00afd39a809e363.txt.

The converted text lost most article numbers; they are restored by counting,
第一条 … 第二十条, as in RULES.md.
"""
from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from ledger.rules.base import (
    ACCEPTANCE_PASSED,
    COMPLAINT_UNANSWERED,
    DISQUALIFICATION,
    FILING_APPROVED_BY_START,
    IMPLEMENTED_BEFORE_FILING,
    POOL_EXIT,
    RECTIFICATION_OVERDUE,
    RECTIFICATION_REFUSED,
    UNSATISFIED_RATING,
    WARNING,
    AppealGround,
    Count,
    CountRule,
    FeeArticle,
    FindingArticle,
    Item,
    PackParameters,
    PerFactRule,
    RulePack,
    View,
    cite,
    facts,
    sanctions,
)

DOCUMENT = "新乡市中小企业数字化转型城市试点数字化服务商管理办法（试行）"
c = cite("新乡", DOCUMENT)


class XinxiangParameters(PackParameters):
    #: 第十六条（一）受到警告2次及以上的 (inclusive, occurrences)
    warnings_for_disqualification: Count = 2
    #: 第十五条 予以警告并限期整改: the document sets no number. A finding gives its own period
    #: (``deadline_days``); a warning the ledger derives (第十五条（四）) has no finding to carry one:
    #: it gets the period the bureau sets here (``SetRulebookParameters``), or, while none is set,
    #: the one the regulator sets for it (``SetRectificationPeriod``) — never one of the ledger's
    warning_rectification_days: int | None = Field(default=None, ge=1, le=365)


def unsatisfied_after_acceptance(view: View) -> list[Item]:
    """第十五条（四）服务通过验收，但…“不满意”: a rating given after the project passed, or one
    given before it and followed by the pass — counted from the day both are true."""
    passed = {i.data.get("project_id"): i for i in view.facts(ACCEPTANCE_PASSED)}
    found = []
    for rating in view.facts(UNSATISFIED_RATING):
        if rating.data.get("accepted"):
            # entered after the pass: from the later of the two days (a rating dated before the pass counts
            # from the pass, as it would have entered in date order); ratings noted before the pass's day was
            # kept (no ``accepted_on``) keep their own day
            accepted_on = rating.data.get("accepted_on")
            found.append(replace(rating, effective_on=max(rating.effective_on, accepted_on)) if accepted_on else rating)
        elif rating.data.get("project_id") in passed:
            found.append(replace(rating, effective_on=max(rating.effective_on, passed[rating.data["project_id"]].effective_on)))
    return found


def implemented_before_approval(view: View) -> list[Item]:
    """第十五条（四）服务商未经报备即开展改造实施的: a start noted before the filing's approval was entered
    counts for nothing once an approval dated on or before the start is (FILING_APPROVED_BY_START): the
    order facts are entered in does not change what they decide."""
    contradicted = {i.data.get("contradicts") for i in view.facts(FILING_APPROVED_BY_START)}
    return [i for i in view.facts(IMPLEMENTED_BEFORE_FILING) if i.ref not in contradicted]


# 第十六条 "视情况不予支付或扣除部分服务费用": whether and how much is the regulator's decision, recorded
# with its amount (WithholdFees citing the article), never written on a disqualification by itself.
# (Disqualifications recorded before 2026-12 list "fees_withheld_or_deducted" among their
# consequences; they keep it as recorded.)
_disqualified = ("advisory_to_other_cities",)

WARNING_ARTICLES = {
    "第十五条（一）": "服务商名称、住所、法定代表人、经营范围以及注册资本等发生较大变更，未及时向新乡市工业和信息化局报告说明",
    "第十五条（二）": "人员能力不足或团队配置不合理，服务不能满足企业需求，造成试点企业投诉的",
    "第十五条（三）": "工作配合度不高，资料报送不及时、不完整、不规范的",
    "第十五条（四）": "服务商未严格按照改造合同对试点企业实施改造的",
    "第十五条（五）": "提供的解决方案和软件采购清单中，项目清单不完整，具体功能、用途和费用罗列不准确，私自绑定专属产品，随意调整或者故意抬高标准化产品（服务）的同期市场价格",
    "第十五条（六）": "不符合市场公平竞争条件事项或其他原因",
}

#: the rule id of a warning recorded by a finding under 第十五条（四）'s contract clause
CONTRACT_WARNING_RULE = "xinxiang.finding.第十五条（四）"

PACK = RulePack(
    jurisdiction="xinxiang",
    short="新乡",
    document=DOCUMENT,
    version="xinxiang-2025.draft",
    # 第二十条: 自发布之日起施行 — the draft leaves the publication date blank (2025年  月  日),
    # and the end (通过国家验收) is a date the regulator declares.
    valid_from=None,
    valid_until=None,
    validity=c(
        "第二十条",
        "本办法自发布之日起施行，有效期至城市试点工作通过国家验收。《新乡市工业和信息化局关于印发<新乡市中小企业数字化转型城市试点数字化服务商管理办法（试行）>"
        "<新乡市中小企业数字化转型城市试点专家委员会管理办法（试行）>的通知》（新工信〔2025〕36号）中《新乡市中小企业数字化转型城市试点数字化服务商管理办法（试行）》同时废止。",
    ),
    params=XinxiangParameters(),
    provider_kinds=("数字化服务商",),
    rules=(
        PerFactRule(
            id="xinxiang.15.4.unsatisfied",
            citation=c("第十五条（四）", "服务商服务通过验收，但试点企业满意度评价为“不满意”的"),
            sanction=WARNING,
            select=unsatisfied_after_acceptance,
            deadline_param="warning_rectification_days",
        ),
        PerFactRule(
            id="xinxiang.15.4.before_filing",
            citation=c("第十五条（四）", "服务商未经报备即开展改造实施的"),
            sanction=WARNING,
            select=implemented_before_approval,
            deadline_param="warning_rectification_days",
        ),
        CountRule(
            id="xinxiang.16.1",
            citation=c("第十六条（一）", "受到警告2次及以上的"),
            sanction=DISQUALIFICATION,
            select=sanctions(WARNING),
            param="warnings_for_disqualification",
            consequences=_disqualified,
        ),
        CountRule(
            id="xinxiang.16.2",
            citation=c("第十六条（二）", "受到警告拒不进行整改的"),
            sanction=DISQUALIFICATION,
            select=facts(RECTIFICATION_REFUSED),
            consequences=_disqualified,
        ),
        CountRule(
            id="xinxiang.16.4",
            citation=c("第十六条（四）", "未按合同约定完成服务事项，提出整改要求后，在规定期限内仍未按照要求完成整改的"),
            sanction=DISQUALIFICATION,
            # only the first clause of 第十五条（四）(未严格按照改造合同对试点企业实施改造) is about
            # contract work; warnings under its other clauses (未经报备, 不满意) are not
            select=facts(RECTIFICATION_OVERDUE, lambda i: i.data.get("rule_id") == CONTRACT_WARNING_RULE),
            consequences=_disqualified,
        ),
        CountRule(
            id="xinxiang.18.unanswered",
            citation=c("第十八条", "被举报服务商未按要求回复或经核实确认该服务商存在弄虚作假行为的，退出服务商库"),
            sanction=POOL_EXIT,
            # only a report (举报) is answered under 第十八条; facts noted before 2026-12 carry no
            # nature and came from filings Xinxiang handled as reports
            select=facts(COMPLAINT_UNANSWERED, lambda i: i.data.get("nature", "report") == "report"),
        ),
    ),
    findings={
        **{
            article: FindingArticle(c(article, text), WARNING) for article, text in WARNING_ARTICLES.items()
        },
        "第十六条（三）": FindingArticle(
            c("第十六条（三）", "恶意诽谤、污蔑市中小企业数字化转型工作及相关工作人员，造成严重不良社会影响的"),
            DISQUALIFICATION,
            _disqualified,
        ),
        "第十六条（五）": FindingArticle(c("第十六条（五）", "对服务商的违法违纪行为查实的有关情形"), DISQUALIFICATION, _disqualified),
        "第十八条": FindingArticle(
            c("第十八条", "经核实确认该服务商存在弄虚作假行为的，退出服务商库"), POOL_EXIT
        ),
    },
    appeal_grounds={
        "第十七条（一）": AppealGround(
            c("第十七条（一）", "试点企业恶意拖延、阻滞转型服务工作开展，造成时限要求内未能完成工作任务的"),
            (WARNING, DISQUALIFICATION, RECTIFICATION_OVERDUE),
        ),
        "第十七条（二）": AppealGround(
            c("第十七条（二）", "服务商对试点企业满意度评价表中评价结果为“不满意”，提出异议的"), (UNSATISFIED_RATING,)
        ),
        "第十七条（三）": AppealGround(
            c("第十七条（三）", "因不可抗力未按要求完成服务受到警告或者取消资格的"),
            (WARNING, DISQUALIFICATION, RECTIFICATION_OVERDUE),
        ),
    },
    appeal_statement=c("第十七条", "申诉材料应写明申诉的事项、理由和目的，并提供必要的、真实的佐证材料"),
    real_name_reports=c(
        "第十八条",
        "任何组织和个人可针对服务商相关信息真实性、准确性等方面存在的问题，向新乡市工业和信息化局实名举报，并提供佐证材料和联系方式。",
    ),
    fees=FeeArticle(
        c("第十六条", "新乡市工业和信息化局将取消其服务商资格，视情况不予支付或扣除部分服务费用"),
        after_removal_under=("第十六条",),  # not 第十八条's exit (退出服务商库): it names no fees
    ),
    filing_review=c("第十二条（三）", "服务商按照通过备案审核的改造方案与试点企业签订数字化改造合同并实施改造"),
    requires_notice=True,
    notice_citation=c("第九条", "按照企业自愿申报、县（市、区）审查推荐、专家评审、专题会议研究和社会公示等程序"),
    eligibility=lambda kind, f, params: [
        msg
        for key, msg in (
            ("abnormal_operation_list", "新乡 第十条（二）: 列入经营异常名录"),
            ("serious_dishonesty_list", "新乡 第十条（二）: 列入严重失信主体名单"),
            ("major_safety_accident", "新乡 第十条（二）: 发生重大安全事故"),
            ("tax_evasion", "新乡 第十条（二）: 发生偷税漏税等违法违规行为"),
        )
        if f.get(key)
    ],
)
