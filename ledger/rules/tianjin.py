"""天津市制造业数字化转型服务商管理规范（试行） — seeds/000_23a0fe54bdc11030.txt."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ledger.rules.base import (
    COMPLAINT_VERIFIED,
    REMOVAL,
    SCORE,
    Count,
    CountRule,
    FindingArticle,
    PackParameters,
    RulePack,
    cite,
    facts,
    within,
)

DOCUMENT = "天津市制造业数字化转型服务商管理规范（试行）"
c = cite("天津", DOCUMENT)


Score = Annotated[float, within(0, 100, why="第十一条 scores out of 100")]


class TianjinParameters(PackParameters):
    #: 第十二条（四）被企业或其他服务商投诉3次或以上并核实确认属实的 (inclusive, occurrences)
    verified_complaints: Count = 3
    #: 第十一条 80分以上（含80分）为A级，70-80分以下（含70分）为B级，60-70分以下（含60分）为C级:
    #: within 0..100 and strictly ordered, A above B above C
    grade_a_min: Score = 80
    grade_b_min: Score = 70
    grade_c_min: Score = 60
    #: 第十条 公示期不少于7天: a floor; the bureau may lengthen the notice, never shorten it
    min_notice_days: Annotated[int, within(7, why="天津 第十条 公示期不少于7天")] = 7

    @field_validator("grade_b_min", "grade_c_min")
    @classmethod
    def _bands_in_order(cls, value: float, info: ValidationInfo) -> float:
        """第十一条's bands: A > B > C (a band above must start higher than the one below it)."""
        above = "grade_a_min" if info.field_name == "grade_b_min" else "grade_b_min"
        if above in info.data and not value < info.data[above]:
            raise PydanticCustomError("bands_out_of_order", "must be below {above} ({limit}): 第十一条's bands go A > B > C", {"above": above, "limit": info.data[above]})
        return value


def grade(score: float, params: TianjinParameters) -> str:
    """第十一条: A >= 80; 70 <= B < 80; 60 <= C < 70; D < 60."""
    if score >= params.grade_a_min:
        return "A"
    if score >= params.grade_b_min:
        return "B"
    if score >= params.grade_c_min:
        return "C"
    return "D"


def eligibility(kind: str, facts_: dict, params: TianjinParameters) -> list[str]:
    problems = []
    if facts_.get("law_violations_last_3_years"):
        problems.append("天津 第六条: 近三年有触犯国家法律法规的行为")
    if facts_.get("unfair_competition_last_3_years"):
        problems.append("天津 第六条: 近三年有不正当竞争行为")
    if facts_.get("serious_dishonesty_list"):
        problems.append("天津 第八条（五）: 列入严重失信主体名单")
    return problems


_removal = "不再列入资源池，并向社会公示"
PARAMS = TianjinParameters()

PACK = RulePack(
    jurisdiction="tianjin",
    short="天津",
    document=DOCUMENT,
    version="tianjin-2023.1",
    valid_from=date(2023, 1, 29),
    valid_until=date(2025, 12, 31),
    validity=c("第十四条", "本管理规范自印发之日起施行，有效期至2025年12月31日。"),
    params=PARAMS,
    provider_kinds=("数字化解决方案服务商", "两化融合贯标咨询服务商", "工业互联网服务商", "云服务商"),
    rules=(
        CountRule(
            id="tianjin.12.4",
            citation=c("第十二条（四）", "被企业或其他服务商投诉3次或以上并核实确认属实的"),
            sanction=REMOVAL,
            # 投诉 by an enterprise or another provider; a report (举报) is not a complaint
            select=facts(
                COMPLAINT_VERIFIED,
                lambda i: i.data.get("complainant_kind") in ("enterprise", "provider") and i.data.get("nature", "complaint") == "complaint",
            ),
            param="verified_complaints",
            consequences=("public_notice",),
        ),
        CountRule(
            id="tianjin.12.2",
            citation=c("第十二条（2）", "评级结果为C级与D级的"),
            sanction=REMOVAL,
            select=facts(SCORE, lambda i: i.data.get("grade") in ("C", "D")),
            consequences=("public_notice",),
        ),
    ),
    findings={
        "第十二条（1）": FindingArticle(c("第十二条（1）", "违反法律法规、行业自律公约等被通报的"), REMOVAL, ("public_notice",)),
        "第十二条（3）": FindingArticle(c("第十二条（3）", "拒绝接受监督检查的"), REMOVAL, ("public_notice",)),
        "第十二条（五）": FindingArticle(c("第十二条（五）", "有弄虚作假、骗取资助资金等行为的"), REMOVAL, ("public_notice",)),
        "第十二条（六）": FindingArticle(c("第十二条（六）", "发生重大责任事故、造成严重社会影响的"), REMOVAL, ("public_notice",)),
        "第十二条（七）": FindingArticle(c("第十二条（七）", "不配合提供服务情况的"), REMOVAL, ("public_notice",)),
    },
    appeal_grounds={},
    requires_notice=True,
    notice_citation=c("第十条", "公示期不少于7天，公示期满无异议的纳入天津市制造业数字化转型服务商资源池"),
    grade=grade,
    eligibility=eligibility,
    voluntary_exit=c("第十二条（八）", "主动退出资源池的"),
    voluntary_exit_announced=True,
    several_directions=c("第九条", "服务商按自愿原则进行申报，可根据自身能力和条件申报资源池的多个方向。"),
    open_kinds=c("第四条", "本管理规范所称服务商主要包括数字化解决方案服务商、两化融合贯标咨询服务商、工业互联网服务商、云服务商等。"),
)
