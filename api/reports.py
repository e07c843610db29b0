"""Reports for the bureaus, computed from what the read service answers (no SQL here).

Per jurisdiction and period, on the effective axis (the facts' own dates): the
pool size at the end of the period and month by month, admissions, removals by
article, the latest grade and star distributions, warnings and rectification
orders per month; and the text of the public announcement (公示) of each removal,
ready to publish. Pure functions of the providers' standings: tested as such.

A report for a past period agrees with the providers' history as of the days it covers
(``/v1/providers/{id}/history?effective_at=…``), whenever it is asked: a sanction counts on a
day D when it took effect by D and was not rescinded by then (:func:`in_force_on`; one
rescinded later, an appeal upheld after the period, still counts for it; one rescinded from
its own day never took effect and never counts). The period's totals are as of its last day,
each month's figures as of the month's last day in the period. Grades are the ones history
gives on the last day (the caller passes them so).
"""
from __future__ import annotations

import calendar
import csv
import io
from collections import Counter
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from ledger.rules import PACKS
from ledger.rules.base import BLACKLISTING, CLEARANCE, DISQUALIFICATION, GRAY_LISTING, POOL_EXIT, RECTIFICATION_ORDER, REMOVAL, VOLUNTARY_EXIT, WARNING

#: who signs a jurisdiction's announcements (the province's guide names no province: its department, generically)
AUTHORITY = {
    "tianjin": "天津市工业和信息化局",
    "xinxiang": "新乡市工业和信息化局",
    "tangshan": "唐山市工业和信息化局",
    "liuzhou": "柳州市工业和信息化局",
    "province": "省工业和信息化主管部门",
}

#: what each removing sanction does, in the announcement's words
WORDING = {
    REMOVAL: "不再列入数字化转型服务商资源池",
    CLEARANCE: "予以清退",
    POOL_EXIT: "退出服务商库",
    VOLUNTARY_EXIT: "主动退出，不再列入数字化转型服务商资源池",
    DISQUALIFICATION: "取消服务商资格",
    BLACKLISTING: "取消服务商资格，并纳入黑名单管理",
    GRAY_LISTING: "予以清退，并纳入灰名单管理",
}


class MonthCount(BaseModel):
    month: str = Field(description="YYYY-MM of the effective dates counted")
    count: int


class MonthlySanctions(BaseModel):
    month: str
    warnings: int
    rectification_orders: int


class Report(BaseModel):
    jurisdiction: str
    effective_from: date = Field(description="first day of the period (effective axis)")
    effective_to: date = Field(description="last day of the period reported (effective axis): the one asked for, or today if that is earlier — nothing has taken effect after today")
    pool_size: int = Field(description="providers in the pool on effective_to")
    pool_size_by_month: list[MonthCount] = Field(description="providers in the pool at the end of each month")
    admissions: int
    admissions_by_month: list[MonthCount]
    removals_by_article: dict[str, int] = Field(
        description="removals (and announced voluntary exits, 天津 第十二条（八）) that took effect in the period and were in force on effective_to, by article"
    )
    removals_by_month: dict[str, dict[str, int]] = Field(description="month -> article -> removals that took effect in the month and were in force at its end")
    grade_distribution: dict[str, dict[str, int]] = Field(description="scheme -> latest grade by effective_to (as history gives it that day) -> providers")
    star_distribution: dict[str, int] = Field(description="新乡: latest stars by effective_to (as history gives them that day) -> providers")
    sanctions_by_month: list[MonthlySanctions] = Field(description="warnings and rectification orders imposed in each month and in force at its end")


#: where each rulebook names a publication of a removal, and the word it uses for it: (article
#: prefix, the word, the text naming it). A removal under an article not listed here is not announced
#: (the text names no publication: 新乡 第十八条 退出服务商库, 省指南 四（一）/ 四（三） 清退)
ANNOUNCED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "tianjin": (("第十二条", "公示", "第十二条 服务商存在以下任意一种情形，不再列入资源池，并向社会公示。"),),
    "xinxiang": (("第十六条", "通告", "第十六条 新乡市工业和信息化局将取消其服务商资格……并发布通告建议其他城市不选择其参与数字化转型相关工作"),),
    "province": (("四（四）", "通报", "四（四） 服务商存在弄虚作假……将公开通报并取消服务资格。"),),
    "tangshan": (("第十三条", "公告", "第十三条 取消服务商资格，并列入我市数字化服务商黑名单，在局官网上予以公告"),),
    "liuzhou": (
        ("第十四条", "公示", "第十四条 将对其进行清退，向社会公示，纳入市工业和信息化局灰名单进行管理。"),
        ("第十五条", "通报", "第十五条 经核实后将公开通报并取消其服务资格。"),
    ),
}


def announced_as(jurisdiction: str, article: str) -> str | None:
    """The word the rulebook uses for publishing a removal under ``article`` (``唐山 第十三条（二）``
    or ``第十三条（二）``): 公示, 公告, 通告 or 通报; None where the article names no publication."""
    clause = article.split(" ", 1)[-1]
    return next((word for prefix, word, _ in ANNOUNCED.get(jurisdiction, ()) if clause.startswith(prefix)), None)


class Announcement(BaseModel):
    provider_id: str
    provider_name: str
    jurisdiction: str
    sanction: str
    article: str
    kind: str = Field(description="the article's word for it: 公示, 公告, 通告 or 通报")
    effective_on: date = Field(description="effective date of the removal")
    signed_on: date = Field(description="the day the ledger recorded the removal (an announcement is never dated before the bureau knew it)")
    sanction_ref: str
    title: str
    text: str = Field(description="the announcement, ready to publish (as published: a later rescission does not change it)")
    rescinded_on: date | None = Field(None, description="the removal was rescinded later, on this day (the announcement stays in its period's archive)")
    rescinded_by_appeal: str | None = Field(None, description="the appeal whose decision rescinded it")
    rescission_note: str | None = Field(None, description="the note on the archived announcement saying it was rescinded")


def months(start: date, end: date) -> list[str]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_end(month: str) -> date:
    """The last day of ``YYYY-MM`` (also of 9999-12: computed without the next month's first day)."""
    year, m = map(int, month.split("-"))
    return date(year, m, calendar.monthrange(year, m)[1])


def _maybe_day(value: Any) -> date | None:
    return None if value is None else _day(value)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def in_pool_on(standing: dict[str, Any], day: date) -> bool:
    """Admitted by ``day``, not removed by then (a removal rescinded by then does not count), not exited."""
    admitted = _maybe_day(standing.get("admitted_on"))
    if admitted is None or admitted > day:
        return False
    if any(s["removes"] and in_force_on(s, day) for s in standing["sanctions"]):
        return False
    return not (standing["status"] == "exited" and _day(standing["status_since"]) <= day)


def in_force_on(sanction: dict[str, Any], day: date) -> bool:
    """Whether a sanction was in force on ``day``, as history on that day shows it: it took effect by
    then and was not rescinded by then (a rescission after ``day`` does not reach back). One
    rescinded from its own day (``rescinded_on == effective_on``) never took effect."""
    effective = _day(sanction["effective_on"])
    rescinded = _maybe_day(sanction.get("rescinded_on"))
    if rescinded is not None and rescinded <= effective:
        return False
    return effective <= day and (rescinded is None or rescinded > day)


def _imposed(standing: dict[str, Any], start: date, end: date, kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The sanctions (of ``kinds``) that took effect from ``start`` to ``end`` and were in force on ``end``."""
    return [
        s for s in standing["sanctions"]
        if (kinds is None or s["sanction"] in kinds) and start <= _day(s["effective_on"]) <= end and in_force_on(s, end)
    ]  # fmt: skip


def _exit(standing: dict[str, Any], jurisdiction: str, start: date, end: date) -> tuple[str, date] | None:
    """(article, day) of the provider's own exit from start to end where the rulebook announces it
    with the removals (天津 第十二条（八） "主动退出资源池的"; ``rm_lists`` lists it so, and the
    announcements publish it)."""
    pack = PACKS.get(jurisdiction)
    if pack is None or not pack.voluntary_exit_announced or pack.voluntary_exit is None or standing.get("status") != "exited":
        return None
    day = _day(standing["status_since"])
    return (pack.voluntary_exit.label, day) if start <= day <= end else None


def _removals(standing: dict[str, Any], jurisdiction: str, start: date, end: date) -> list[tuple[str, date]]:
    """(article, day) of each removal that took effect from start to end and was in force on end,
    and of an announced voluntary exit in that span."""
    found = [(s["article"], _day(s["effective_on"])) for s in _imposed(standing, start, end) if s["removes"]]
    exited = _exit(standing, jurisdiction, start, end)
    return found + ([exited] if exited else [])


def build_report(jurisdiction: str, start: date, end: date, standings: list[dict[str, Any]], grades: dict[str, list[dict[str, Any]]]) -> Report:
    period = months(start, end)
    # each month as of its last day in the period: the first month from start, the last to end
    spans = {m: (max(start, date(int(m[:4]), int(m[5:]), 1)), min(month_end(m), end)) for m in period}
    removals = [r for st in standings for r in _removals(st, jurisdiction, start, end)]
    by_month = {m: Counter(article for st in standings for article, _ in _removals(st, jurisdiction, *span)) for m, span in spans.items()}
    admitted = [_day(st["admitted_on"]) for st in standings if st.get("admitted_on") and start <= _day(st["admitted_on"]) <= end]
    imposed = {m: [s for st in standings for s in _imposed(st, *span, (WARNING, RECTIFICATION_ORDER))] for m, span in spans.items()}
    latest: dict[str, Counter[str]] = {}
    stars: Counter[str] = Counter()
    for rows in grades.values():
        by_scheme: dict[str, dict[str, Any]] = {}
        for row in rows:
            if _day(row["effective_on"]) <= end:
                by_scheme[row["scheme"]] = row  # rows come ordered by period and effective date
        for scheme, row in by_scheme.items():
            if scheme == "stars":
                stars[str(row["grade"])] += 1
            else:
                latest.setdefault(scheme, Counter())[str(row["grade"])] += 1
    return Report(
        jurisdiction=jurisdiction,
        effective_from=start,
        effective_to=end,
        pool_size=sum(1 for st in standings if in_pool_on(st, end)),
        pool_size_by_month=[MonthCount(month=m, count=sum(1 for st in standings if in_pool_on(st, spans[m][1]))) for m in period],
        admissions=len(admitted),
        admissions_by_month=[MonthCount(month=m, count=sum(1 for d in admitted if d.isoformat()[:7] == m)) for m in period],
        removals_by_article=dict(sorted(Counter(article for article, _ in removals).items())),
        removals_by_month={m: dict(sorted(c.items())) for m, c in by_month.items()},
        grade_distribution={k: dict(sorted(v.items())) for k, v in sorted(latest.items())},
        star_distribution=dict(sorted(stars.items())),
        sanctions_by_month=[
            MonthlySanctions(
                month=m,
                warnings=sum(1 for s in imposed[m] if s["sanction"] == WARNING),
                rectification_orders=sum(1 for s in imposed[m] if s["sanction"] == RECTIFICATION_ORDER),
            )
            for m in period
        ],
    )


def report_rows(report: Report) -> list[tuple[str, str, str, int]]:
    """(section, key, sub-key, value): the report flattened for CSV and spreadsheets."""
    rows: list[tuple[str, str, str, int]] = [("pool_size", report.effective_to.isoformat(), "", report.pool_size), ("admissions", "period", "", report.admissions)]
    rows += [("pool_size_by_month", m.month, "", m.count) for m in report.pool_size_by_month]
    rows += [("admissions_by_month", m.month, "", m.count) for m in report.admissions_by_month]
    rows += [("removals_by_article", article, "", n) for article, n in report.removals_by_article.items()]
    # a month without removals is a row too (subkey empty, 0): the rows are the same from one period to the next
    rows += [row for month, c in report.removals_by_month.items() for row in ([("removals_by_month", month, article, n) for article, n in c.items()] or [("removals_by_month", month, "", 0)])]
    rows += [("grade_distribution", scheme, grade, n) for scheme, c in report.grade_distribution.items() for grade, n in c.items()]
    rows += [("star_distribution", stars, "", n) for stars, n in report.star_distribution.items()]
    rows += [("warnings_by_month", m.month, "", m.warnings) for m in report.sanctions_by_month]
    rows += [("rectification_orders_by_month", m.month, "", m.rectification_orders) for m in report.sanctions_by_month]
    return rows


HEADER = ("section", "key", "subkey", "value")
#: the CSV's columns: each row says its jurisdiction and period, so rows from several reports can be put together
CSV_HEADER = ("jurisdiction", "effective_from", "effective_to", *HEADER)


def to_csv(report: Report) -> str:
    """The report as CSV, with a UTF-8 byte order mark (Excel on a zh-CN Windows reads UTF-8 as GBK without
    it) and the jurisdiction and period in every row."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    period = (report.jurisdiction, report.effective_from.isoformat(), report.effective_to.isoformat())
    writer.writerows(period + row for row in report_rows(report))
    return out.getvalue()


def to_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "summary"
    sheet.append(["jurisdiction", report.jurisdiction])
    sheet.append(["effective_from", report.effective_from.isoformat()])
    sheet.append(["effective_to", report.effective_to.isoformat()])
    sheet.append([])
    sheet.append(list(HEADER))
    for row in report_rows(report):
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _date_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def inner_quotes(text: str) -> str:
    """Quotation marks inside a quotation are the inner kind: “不满意” quoted in “…” becomes ‘不满意’."""
    return text.replace("“", "‘").replace("”", "’")


def announcement(entry: dict[str, Any]) -> Announcement:
    """The announcement of one removal, from a published list entry (article, its text, the document),
    with ``signed_on`` (the day the ledger recorded it) and, where it was rescinded later,
    ``rescission`` ({rescinded_on, appeal_id}). Worded with the article's word (:func:`announced_as`;
    公示 where the caller did not check)."""
    effective, signed = _day(entry["effective_on"]), _day(entry["signed_on"])
    name, jurisdiction = entry["provider_name"], entry["jurisdiction"]
    kind = announced_as(jurisdiction, entry["article"]) or "公示"
    article = entry["article"].split(" ", 1)[-1]
    action = WORDING.get(entry["sanction"], "移出服务商资源池")
    title = f"关于{name}{action.split('，')[0]}的{kind}"
    text = (
        f"{title}\n\n"
        f"根据《{entry['document']}》{article}“{inner_quotes(entry['citation_text'])}”的规定，"
        f"{name}（服务商编号：{entry['provider_id']}）自{_date_zh(effective)}起{action}。\n\n"
        f"特此{kind}。\n\n{AUTHORITY.get(jurisdiction, jurisdiction)}\n{_date_zh(signed)}\n"
    )
    rescission = entry.get("rescission") or {}
    rescinded_on = _maybe_day(rescission.get("rescinded_on"))
    appeal = rescission.get("appeal_id") or rescission.get("appeal_ref")
    note = None
    if rescinded_on is not None:
        note = f"该决定已于{_date_zh(rescinded_on)}撤销" + (f"（申诉{appeal}）" if appeal else "") + "。"
    return Announcement(
        provider_id=entry["provider_id"], provider_name=name, jurisdiction=jurisdiction, sanction=entry["sanction"],
        article=entry["article"], kind=kind, effective_on=effective, signed_on=signed, sanction_ref=entry["sanction_ref"], title=title, text=text,
        rescinded_on=rescinded_on, rescinded_by_appeal=appeal, rescission_note=note,
    )  # fmt: skip
