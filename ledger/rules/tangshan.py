"""唐山市中小企业数字化转型试点城市数字化服务商管理规范（试行） — seeds/003_f878e0af29cbeb8e.txt."""
from __future__ import annotations

from typing import Annotated

from ledger.rules.base import (
    BLACKLISTING,
    RECTIFICATION_ORDER,
    RECTIFICATION_OVERDUE,
    RECTIFICATION_REFUSED,
    UNSATISFIED_RATING,
    AppealGround,
    Count,
    CountRule,
    FeeArticle,
    FindingArticle,
    Level,
    PackParameters,
    RulePack,
    cite,
    facts,
    sanctions,
    within,
)

DOCUMENT = "唐山市中小企业数字化转型试点城市数字化服务商管理规范（试行）"
c = cite("唐山", DOCUMENT)


class TangshanParameters(PackParameters):
    #: 第十三条（一）限期整改超过 2 次 (strict: the third order blacklists)
    rectification_orders: Count = 2
    #: 第十三条（二）“不满意”次数达到 2 次 (inclusive, occurrences)
    unsatisfied_ratings: Count = 2
    #: 第十二条 整改期限一般不超过 30 日 (a cap: each finding sets its period, ``deadline_days``);
    #: the bureau may shorten the cap, never lengthen it
    max_rectification_days: Annotated[int, within(1, 30, why="唐山 第十二条 整改期限一般不超过 30 日")] = 30
    #: 第六条（一）达到二级及以上标准
    target_level: Level = 2


_blacklisted = ("disqualified", "blacklisted", "announced_on_bureau_website", "no_subsidies")

RECTIFICATION_ARTICLES = {
    "第十二条（一）": "名称、住所、法定代表人、经营范围以及注册资本等内容发生较大变更，未及时向唐山市工业和信息化局报告说明",
    "第十二条（二）": "人员能力不足或团队配置不合理、对接和进驻试点企业不及时、服务不能满足试点企业需求、未按合同要求服务试点企业，以及其他原因造成试点企业投诉",
    "第十二条（三）": "提供的解决方案和软件采购清单中，项目清单不完整，具体功能、用途和费用罗列不准确，随意调整或者故意抬高标准化产品（服务）的同期市场价格",
    "第十二条（四）": "改造成效与实施方案存在明显偏差，无法通过企业验收，但尚未对试点企业数字化转型目标产生重大影响",
    "第十二条（五）": "服务过程中拒不配合第三方支撑机构开展评测、验收、监理工作",
    "第十二条（六）": "不符合市场公平竞争条件事项或其他原因",
}
BLACKLIST_ARTICLES = {
    "第十三条（三）": "绩效目标完成序时进度差距较大",
    "第十三条（四）": "泄露试点企业商业秘密、核心技术或敏感信息",
    "第十三条（五）": "伪造服务合同，联合相关方进行虚假交易，恶意套取项目资金",
    "第十三条（六）": "采取不正当竞争手段、损害试点企业或恶意诋毁其他服务商的",
    "第十三条（七）": "虚假宣传，向企业提供不匹配的产品和服务",
    "第十三条（八）": "通过大幅度修改服务/产品价格，扰乱市场，恶意竞争",
    "第十三条（九）": "有严重违法违纪行为或其他原因",
}

PACK = RulePack(
    jurisdiction="tangshan",
    short="唐山",
    document=DOCUMENT,
    version="tangshan-trial.1",
    # 第十八条: 自印发之日起实施 — the issue date is not in the text; the bureau declares it.
    valid_from=None,
    valid_until=None,
    validity=c("第十八条", "本办法自印发之日起实施，有效期至唐山市中小企业数字化转型试点城市工作完成为止。"),
    params=TangshanParameters(),
    provider_kinds=("数字化服务商",),
    rules=(
        CountRule(
            id="tangshan.13.1.orders",
            citation=c("第十三条（一）", "限期整改超过 2 次"),
            sanction=BLACKLISTING,
            select=sanctions(RECTIFICATION_ORDER),
            param="rectification_orders",
            strict=True,
            consequences=_blacklisted,
        ),
        CountRule(
            # "限期拒不进行整改" needs a refusal the regulator records (RecordRectificationRefusal):
            # an order that is merely overdue is shown overdue, it is not a refusal. (Until
            # 2026-12 the ledger derived this from an overdue order too, as rule
            # "tangshan.13.1.refused"; blacklistings recorded so keep their meaning — NOTES.md.)
            id="tangshan.13.1.refusal",
            citation=c("第十三条（一）", "限期拒不进行整改"),
            sanction=BLACKLISTING,
            select=facts(RECTIFICATION_REFUSED),
            consequences=_blacklisted,
        ),
        CountRule(
            id="tangshan.13.2",
            citation=c("第十三条（二）", "试点企业对服务商满意度评价“不满意”次数达到 2 次"),
            sanction=BLACKLISTING,
            select=facts(UNSATISFIED_RATING),
            param="unsatisfied_ratings",
            consequences=_blacklisted,
        ),
    ),
    findings={
        **{
            article: FindingArticle(c(article, text), RECTIFICATION_ORDER) for article, text in RECTIFICATION_ARTICLES.items()
        },
        **{
            article: FindingArticle(c(article, text), BLACKLISTING, _blacklisted)
            for article, text in BLACKLIST_ARTICLES.items()
        },
    },
    appeal_grounds={
        "第十六条（一）": AppealGround(
            c("第十六条（一）", "试点企业恶意拖延、阻滞诊断咨询服务工作开展，造成时限要求内未能完成工作任务的"),
            (RECTIFICATION_ORDER, RECTIFICATION_OVERDUE, RECTIFICATION_REFUSED),
        ),
        "第十六条（二）": AppealGround(
            c("第十六条（二）", "服务商对企业满意度评价结果为“不满意”，提出异议的"), (UNSATISFIED_RATING,)
        ),
        "第十六条（三）": AppealGround(c("第十六条（三）", "被清退、纳入黑名单认定理由存在异议的"), (BLACKLISTING,)),
        "第十六条（四）": AppealGround(c("第十六条（四）", "其他情况"), ("*",)),
    },
    fees=FeeArticle(
        c("第十四条", "服务商被清退或未通过验收的，不予支付服务费用，试点企业有权追回该项目预付款项。"),
        after_removal_under=("第十三条",),  # 被清退: disqualified and blacklisted under 第十三条
        failed_acceptance=True,
        on_removal=True,  # 不予支付: the clearance itself, on the provider's projects not yet accepted
    ),
)
