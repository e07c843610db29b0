"""柳州市中小企业数字化转型服务商管理办法（试行）(征求意见稿) — seeds/004_59cc401ff8b41f48.txt."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ledger.rules.base import (
    BELOW_TARGET_LEVEL,
    DISQUALIFICATION,
    GRAY_LISTING,
    RECTIFICATION_ORDER,
    RECTIFICATION_OVERDUE,
    RECTIFICATION_REFUSED,
    UNSATISFIED_RATING,
    Count,
    CountRule,
    FindingArticle,
    Item,
    Level,
    PackParameters,
    PerFactRule,
    RulePack,
    View,
    cite,
    facts,
    facts_of,
    ref_key,
    sanctions,
    within,
)

DOCUMENT = "柳州市中小企业数字化转型服务商管理办法（试行）"
c = cite("柳州", DOCUMENT)


class LiuzhouParameters(PackParameters):
    #: 第十二条（六）超过5家试点企业 … “不满意” (strict, distinct enterprises)
    unsatisfied_enterprises_for_rectification: Count = 5
    #: 第十四条（五）超过10家试点企业 … “不满意” (strict, distinct enterprises)
    unsatisfied_enterprises_for_gray_list: Count = 10
    #: 第十四条（四）限期整改超过2次 (strict)
    rectification_orders: Count = 2
    #: 第十二条 整改期限一般不超过30日: a cap; the bureau may shorten it, never lengthen it
    max_rectification_days: Annotated[int, within(1, 30, why="柳州 第十二条 整改期限一般不超过30日")] = 30
    #: 第十二条 整改期限一般不超过30日: a finding gives its own period (``deadline_days``); an order
    #: the ledger derives (第十二条（四）（六）) has no finding to carry one: it gets the period the
    #: bureau sets here (``SetRulebookParameters``), or, while none is set, the one the regulator sets
    #: for it (``SetRectificationPeriod``). The text's 30 days is a cap, not a period
    rectification_days: int | None = Field(default=None, ge=1, le=365)
    #: 第八条（四）/ 第十二条（四）数字化水平达到二级及以上
    target_level: Level = 2

    @field_validator("rectification_days")
    @classmethod
    def _period_within_the_cap(cls, value: int | None, info: ValidationInfo) -> int | None:
        """第十二条 整改期限一般不超过30日: the bureau's standing period too."""
        cap = info.data.get("max_rectification_days")
        if value is not None and cap is not None and value > cap:
            raise PydanticCustomError("over_the_cap", "rectification_days {value} exceeds 第十二条's 整改期限一般不超过{cap}日", {"value": value, "cap": cap})
        return value


_gray = ("cleared", "public_notice", "gray_listed")


def first_below_target_per_project(view: View) -> list[Item]:
    """第十二条（四）"改造成效与实施方案存在明显偏差，试点企业数字化转型改造后未能达到二级的" is one 情形 per
    enterprise's transformation (its project), however many acceptances record it below level two (a
    failed acceptance and the next batch's, 新乡 第十二条（四） "可顺延至下一批次验收" being the practice): the
    earliest of a project's, by its date whatever the entry order, gives the one order."""
    first: dict[object, Item] = {}
    for item in sorted(view.facts(BELOW_TARGET_LEVEL), key=lambda i: (i.effective_on, ref_key(i.ref))):
        first.setdefault(item.data.get("project_id") or item.ref, item)
    return list(first.values())

RECTIFICATION_ARTICLES = {
    "第十二条（一）": "人员能力不足或团队配置不合理、对接或进驻试点企业不及时、服务不能满足试点企业需求、未按合同要求服务试点企业，以及其他原因造成试点企业投诉的",
    "第十二条（二）": "服务商名称、住所、法定代表人、经营范围及注册资本等内容发生较大变更，未及时向市工信局报告说明的",
    "第十二条（三）": "提供的解决方案和软件采购清单中，项目清单不完整，具体功能、用途和费用罗列不准确，随意调整或者故意抬高标准化产品（服务）的同期市场价格的",
    "第十二条（四）": "改造成效与实施方案存在明显偏差，试点企业数字化转型改造后未能达到二级的",
    "第十二条（五）": "不符合市场公平竞争条件的事项或其他原因",
}
GRAY_LIST_ARTICLES = {
    "第十四条（一）": "以获取服务合同为目的，为企业包装项目，企业建而不用的",
    "第十四条（二）": "将试点期之前已完成的数字化改造项目包装成新项目参加试点，骗取补贴的",
    "第十四条（三）": "签订虚假合同、夸大改造成本、约定回扣交易、伪造改造成果的",
    "第十四条（六）": "绩效任务目标进度滞后的",
    "第十四条（七）": "泄露试点企业商业机密、核心技术或敏感信息，包括但不限于客户数据、产品设计、生产流程等",
    "第十四条（八）": "与试点企业合作中获得不正当经济利益、采取不正当竞争手段、损害试点企业或其他相关参与方利益的",
    "第十四条（九）": "申请材料弄虚作假的",
    "第十四条（十）": "有违法违纪行为或其他原因的",
}

PACK = RulePack(
    jurisdiction="liuzhou",
    short="柳州",
    document=DOCUMENT,
    version="liuzhou-2025.draft",
    # 第十七条: 本办法自2025年X月X日起施行 — the draft leaves the date blank for the regulator.
    valid_from=None,
    valid_until=None,
    validity=c("第十七条", "本办法自2025年X月X日起施行，有效期至试点工作结束之日。"),
    params=LiuzhouParameters(),
    provider_kinds=("集成服务商", "产品服务商"),
    rules=(
        CountRule(
            id="liuzhou.12.6",
            citation=c("第十二条（六）", "超过5家试点企业对服务商满意度评价为“不满意”的"),
            sanction=RECTIFICATION_ORDER,
            select=facts(UNSATISFIED_RATING),
            param="unsatisfied_enterprises_for_rectification",
            strict=True,
            distinct_by="enterprise_id",
            deadline_param="rectification_days",
            consequences=("interview",),
        ),
        PerFactRule(
            id="liuzhou.12.4",
            citation=c("第十二条（四）", "改造成效与实施方案存在明显偏差，试点企业数字化转型改造后未能达到二级的"),
            sanction=RECTIFICATION_ORDER,
            select=first_below_target_per_project,
            deadline_param="rectification_days",
            consequences=("interview",),
        ),
        CountRule(
            id="liuzhou.14.5",
            citation=c("第十四条（五）", "超过10家试点企业对服务商满意度评价为“不满意”的"),
            sanction=GRAY_LISTING,
            select=facts(UNSATISFIED_RATING),
            param="unsatisfied_enterprises_for_gray_list",
            strict=True,
            distinct_by="enterprise_id",
            consequences=_gray,
        ),
        CountRule(
            id="liuzhou.14.4.orders",
            citation=c("第十四条（四）", "限期整改超过2次"),
            sanction=GRAY_LISTING,
            select=sanctions(RECTIFICATION_ORDER),
            param="rectification_orders",
            strict=True,
            consequences=_gray,
        ),
        CountRule(
            id="liuzhou.14.4.refused_or_late",
            citation=c("第十四条（四）", "限期拒不进行整改的，未按时完成整改的"),
            sanction=GRAY_LISTING,
            select=facts_of(RECTIFICATION_REFUSED, RECTIFICATION_OVERDUE),
            consequences=_gray,
        ),
    ),
    findings={
        **{
            article: FindingArticle(c(article, text), RECTIFICATION_ORDER, ("interview",))
            for article, text in RECTIFICATION_ARTICLES.items()
        },
        **{article: FindingArticle(c(article, text), GRAY_LISTING, _gray) for article, text in GRAY_LIST_ARTICLES.items()},
        "第十五条": FindingArticle(
            c("第十五条", "任何单位和个人如发现服务商及其工作人员有违法、违规行为的，可向市工业和信息化局举报、投诉。经核实后将公开通报并取消其服务资格。"),
            DISQUALIFICATION,
            ("public_notice",),
        ),
    },
    appeal_grounds={},
    target_level_citation=c("第十二条（四）", "试点企业数字化转型改造后未能达到二级的"),
)
