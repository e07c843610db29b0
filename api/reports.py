"""Reports for the bureaus, computed from what the read service answers (no SQL here).

Per jurisdiction and period, on the effective axis (the facts' own dates): the
pool size at the end of the period and month by month, admissions, removals by
article, the latest grade and star distributions, warnings and rectification
orders per month; and the text of the public announcement (公示) of each removal,
ready to publish. Pure functions of the providers' standings: tested as such.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

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
    effective_to: date = Field(description="last day of the period (effective axis)")
    pool_size: int = Field(description="providers in the pool on effective_to")
    pool_size_by_month: list[MonthCount] = Field(description="providers in the pool at the end of each month")
    admissions: int
    admissions_by_month: list[MonthCount]
    removals_by_article: dict[str, int] = Field(description="removals in force that took effect in the period, by article")
    removals_by_month: dict[str, dict[str, int]] = Field(description="month -> article -> removals")
    grade_distribution: dict[str, dict[str, int]] = Field(description="scheme -> latest grade by effective_to -> providers")
    star_distribution: dict[str, int] = Field(description="新乡: latest stars by effective_to -> providers")
    sanctions_by_month: list[MonthlySanctions] = Field(description="warnings and rectification orders imposed, by month")


class Announcement(BaseModel):
    provider_id: str
    provider_name: str
    jurisdiction: str
    sanction: str
    article: str
    effective_on: date = Field(description="effective date of the removal")
    sanction_ref: str
    title: str
    text: str = Field(description="the announcement (公示), ready to publish")


def months(start: date, end: date) -> list[str]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_end(month: str) -> date:
    year, m = map(int, month.split("-"))
    first_next = date(year + 1, 1, 1) if m == 12 else date(year, m + 1, 1)
    return first_next - timedelta(days=1)


def _maybe_day(value: Any) -> date | None:
    return None if value is None else _day(value)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def in_pool_on(standing: dict[str, Any], day: date) -> bool:
    """Admitted by ``day``, not removed by then (a removal rescinded by then does not count), not exited."""
    admitted = _maybe_day(standing.get("admitted_on"))
    if admitted is None or admitted > day:
        return False
    for s in standing["sanctions"]:
        rescinded = _maybe_day(s.get("rescinded_on"))
        if s["removes"] and _day(s["effective_on"]) <= day and (rescinded is None or rescinded > day):
            return False
    return not (standing["status"] == "exited" and _day(standing["status_since"]) <= day)


def _removals(standing: dict[str, Any], start: date, end: date) -> list[dict[str, Any]]:
    return [s for s in standing["sanctions"] if s["removes"] and s["rescinded_on"] is None and start <= _day(s["effective_on"]) <= end]


def build_report(jurisdiction: str, start: date, end: date, standings: list[dict[str, Any]], grades: dict[str, list[dict[str, Any]]]) -> Report:
    period = months(start, end)
    removals = [(st, s) for st in standings for s in _removals(st, start, end)]
    by_month: dict[str, Counter[str]] = {m: Counter() for m in period}
    for _, s in removals:
        by_month[str(s["effective_on"])[:7]][s["article"]] += 1
    admitted = [_day(st["admitted_on"]) for st in standings if st.get("admitted_on") and start <= _day(st["admitted_on"]) <= end]
    imposed = [s for st in standings for s in st["sanctions"] if s["rescinded_on"] is None and start <= _day(s["effective_on"]) <= end]
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
        pool_size_by_month=[MonthCount(month=m, count=sum(1 for st in standings if in_pool_on(st, min(month_end(m), end)))) for m in period],
        admissions=len(admitted),
        admissions_by_month=[MonthCount(month=m, count=sum(1 for d in admitted if d.isoformat()[:7] == m)) for m in period],
        removals_by_article=dict(sorted(Counter(s["article"] for _, s in removals).items())),
        removals_by_month={m: dict(sorted(c.items())) for m, c in by_month.items()},
        grade_distribution={k: dict(sorted(v.items())) for k, v in sorted(latest.items())},
        star_distribution=dict(sorted(stars.items())),
        sanctions_by_month=[
            MonthlySanctions(
                month=m,
                warnings=sum(1 for s in imposed if s["sanction"] == WARNING and str(s["effective_on"])[:7] == m),
                rectification_orders=sum(1 for s in imposed if s["sanction"] == RECTIFICATION_ORDER and str(s["effective_on"])[:7] == m),
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
    rows += [("removals_by_month", month, article, n) for month, c in report.removals_by_month.items() for article, n in c.items()]
    rows += [("grade_distribution", scheme, grade, n) for scheme, c in report.grade_distribution.items() for grade, n in c.items()]
    rows += [("star_distribution", stars, "", n) for stars, n in report.star_distribution.items()]
    rows += [("warnings_by_month", m.month, "", m.warnings) for m in report.sanctions_by_month]
    rows += [("rectification_orders_by_month", m.month, "", m.rectification_orders) for m in report.sanctions_by_month]
    return rows


HEADER = ("section", "key", "subkey", "value")


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(report_rows(report))
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


def announcement(entry: dict[str, Any]) -> Announcement:
    """The 公示 of one removal, from a published list entry (article, its text, the document)."""
    effective = _day(entry["effective_on"])
    name, jurisdiction = entry["provider_name"], entry["jurisdiction"]
    article = entry["article"].split(" ", 1)[-1]
    action = WORDING.get(entry["sanction"], "移出服务商资源池")
    title = f"关于{name}{action.split('，')[0]}的公示"
    text = (
        f"{title}\n\n"
        f"根据《{entry['document']}》{article}“{entry['citation_text']}”的规定，"
        f"{name}（服务商编号：{entry['provider_id']}）自{_date_zh(effective)}起{action}。\n\n"
        f"特此公示。\n\n{AUTHORITY.get(jurisdiction, jurisdiction)}\n{_date_zh(effective)}\n"
    )
    return Announcement(
        provider_id=entry["provider_id"], provider_name=name, jurisdiction=jurisdiction, sanction=entry["sanction"],
        article=entry["article"], effective_on=effective, sanction_ref=entry["sanction_ref"], title=title, text=text,
    )  # fmt: skip
