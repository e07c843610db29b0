"""附件2 申报指南 of a provincial 工业和信息化厅 — seeds/002_0b2fc98d46cf0179.txt.

The guide numbers its parts 一、二、三、四 with （一）… inside them; citations use
that numbering, e.g. 四（三）.
"""
from __future__ import annotations

from typing import Annotated

from ledger.rules.base import (
    CLEARANCE,
    DISQUALIFICATION,
    EVALUATION,
    RECTIFICATION_ORDER,
    ConsecutiveYearsRule,
    Count,
    FindingArticle,
    PackParameters,
    RulePack,
    cite,
    facts,
    within,
)

DOCUMENT = "中小企业数字化转型试点 附件2 申报指南"
c = cite("省指南", DOCUMENT)

SMART_EQUIPMENT = "智能装备服务商"


class ProvinceParameters(PackParameters):
    #: 四（三）连续两年评价为不合格的服务商 … 清退出资源池
    consecutive_unqualified_years: Count = 2
    #: 二（一）4 至少在省内三家及以上企业得到应用 (inclusive, distinct enterprises): 至少 makes three a
    #: floor; the department may ask for more enterprises, never fewer
    smart_equipment_min_enterprises: Annotated[int, within(3, why="省指南 二（一）4 至少在省内三家及以上企业得到应用")] = 3


PARAMS = ProvinceParameters()


def eligibility(kind: str, f: dict, params: ProvinceParameters) -> list[str]:
    if kind == SMART_EQUIPMENT:
        applied_in = int(f.get("enterprises_in_province", 0))
        if applied_in < params.smart_equipment_min_enterprises:
            return [
                f"省指南 二（一）4: 智能装备至少在省内三家及以上企业得到应用（申报为 {applied_in} 家）"
            ]
    return []


_info = "对存在信息维护更新不及时、产品信息不实，或客户举报并经核实存在严重不良行为的服务商，将给予限期整改或清退等处理。"

PACK = RulePack(
    jurisdiction="province",
    short="省指南",
    document=DOCUMENT,
    version="province-guide.1",
    # The guide states no date of effect; the provincial department declares it.
    valid_from=None,
    valid_until=None,
    validity=c("（未载明施行日期）", "申报指南未载明施行及有效期限"),
    params=PARAMS,
    provider_kinds=(
        SMART_EQUIPMENT,
        "网络服务商",
        "标识服务商",
        "工业互联网融合应用服务商",
        "系统解决方案服务商",
        "工业信息安全服务商",
        "生产性服务业供应商",
    ),
    rules=(
        ConsecutiveYearsRule(
            id="province.4.3",
            citation=c("四（三）", "连续两年评价为不合格的服务商，将限制其通过资源池开展服务，并清退出资源池。"),
            sanction=CLEARANCE,
            select=facts(EVALUATION, lambda i: i.data.get("qualified") is False),
            param="consecutive_unqualified_years",
            consequences=("restricted_from_pool_services",),
        ),
    ),
    # 四（一） "将给予限期整改或清退等处理" leaves the choice between the two to the regulator:
    # both are findings, and an order that passes its deadline is shown overdue but clears
    # nobody by itself. (Until 2026-12 the ledger derived a clearance from an overdue order, as
    # rule "province.4.1.overdue"; clearances recorded so keep their meaning — NOTES.md.)
    findings={
        "四（一）整改": FindingArticle(c("四（一）", _info), RECTIFICATION_ORDER),
        "四（一）清退": FindingArticle(c("四（一）", _info), CLEARANCE),
        "四（四）": FindingArticle(
            c(
                "四（四）",
                "服务商存在弄虚作假、不正当竞争造成恶劣影响、拒绝接受监督检查、存在欺诈行为、企业被依法终止、发生重大安全问题或违法行为等，将公开通报并取消服务资格。",
            ),
            DISQUALIFICATION,
            ("public_notice",),
        ),
    },
    appeal_grounds={},
    eligibility=eligibility,
    open_kinds=c("一（一）", "建立数字化转型服务资源池……主要包含以下类别"),
)
