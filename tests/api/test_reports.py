"""Reports (JSON, CSV, XLSX), the 公示 of each removal, and the event stream."""
from __future__ import annotations

import csv
import io
import json
from datetime import date

from openpyxl import load_workbook

from api.reports import build_report, in_pool_on
from tests.api.conftest import headers

PERIOD = {"effective_from": "2025-01-01", "effective_to": "2025-12-31"}


def test_the_report_counts_the_pool_admissions_and_the_removal_by_article(served):
    answer = served.client.get("/v1/reports/tangshan", params=PERIOD, headers=headers("regulator"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["pool_size"] == 1  # TS-2; TS-1 was blacklisted
    assert report["admissions"] == 2
    assert report["removals_by_article"] == {"唐山 第十三条（二）": 1}
    march = {m["month"]: m["count"] for m in report["pool_size_by_month"]}
    assert march["2025-02"] == 0 and march["2025-03"] == 1 and march["2025-12"] == 1


def test_the_report_as_csv_and_xlsx_carries_the_same_figures(served):
    h = headers("auditor")
    rows = list(csv.reader(io.StringIO(served.client.get("/v1/reports/tangshan", params={**PERIOD, "format": "csv"}, headers=h).text)))
    assert rows[0] == ["section", "key", "subkey", "value"]
    assert ["removals_by_article", "唐山 第十三条（二）", "", "1"] in rows
    xlsx = served.client.get("/v1/reports/tangshan", params={**PERIOD, "format": "xlsx"}, headers=h)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert ["removals_by_article", "唐山 第十三条（二）", None, 1] in values


def test_a_backwards_period_is_refused_naming_the_field(served):
    answer = served.client.get("/v1/reports/tangshan", params={"effective_from": "2025-02-01", "effective_to": "2025-01-31"}, headers=headers("auditor"))
    assert answer.status_code == 422 and answer.json()["field"] == "effective_to"


def test_the_announcement_of_a_removal_cites_its_article_and_date(served):
    page = served.client.get("/v1/reports/tangshan/announcements", params=PERIOD).json()
    assert page["total"] == 1
    [item] = page["items"]
    assert item["provider_id"] == "TS-1" and item["article"] == "唐山 第十三条（二）"
    assert "根据《唐山市中小企业数字化转型试点城市数字化服务商管理规范（试行）》第十三条（二）" in item["text"]
    assert "取消服务商资格，并纳入黑名单管理" in item["text"] and "唐山市工业和信息化局" in item["text"]
    assert served.client.get("/v1/reports/tangshan/announcements", params={"effective_from": "2025-01-01", "effective_to": "2025-02-28"}).json()["total"] == 0


def _standing(admitted: str | None, sanctions: list[dict], status: str = "in_pool", since: str = "2025-01-01") -> dict:
    return {"admitted_on": admitted, "sanctions": sanctions, "status": status, "status_since": since}


def test_in_the_pool_on_a_day_at_the_edges_of_admission_removal_and_rescission():
    removal = {"removes": True, "effective_on": "2025-03-10", "rescinded_on": "2025-04-01"}
    standing = _standing("2025-03-01", [removal])
    assert [in_pool_on(standing, date(2025, 3, d)) for d in (1, 9, 10)] == [True, True, False]
    assert not in_pool_on(standing, date(2025, 2, 28))
    assert [in_pool_on(standing, date(2025, m, d)) for m, d in ((3, 31), (4, 1))] == [False, True]
    exited = _standing("2025-03-01", [], status="exited", since="2025-05-01")
    assert [in_pool_on(exited, date(2025, 4, 30)), in_pool_on(exited, date(2025, 5, 1))] == [True, False]


def test_grade_distribution_takes_each_providers_latest_grade_by_the_end_of_the_period():
    grades = {
        "TJ-1": [{"scheme": "score", "grade": "B", "effective_on": "2024-12-01"}, {"scheme": "score", "grade": "A", "effective_on": "2025-12-31"}],
        "TJ-2": [{"scheme": "score", "grade": "C", "effective_on": "2026-01-01"}],
    }
    report = build_report("tianjin", date(2025, 1, 1), date(2025, 12, 31), [], grades)
    assert report.grade_distribution == {"score": {"A": 1}}


def test_the_event_stream_resumes_after_the_last_event_id(served):
    last = served.events()
    body = served.client.get("/v1/events", params={"follow": False}, headers={"Last-Event-ID": str(last - 2)}).text
    frames = [f for f in body.split("\n\n") if f.startswith("id:")]
    assert [int(f.split("\n")[0].removeprefix("id: ")) for f in frames] == [last - 1, last]
    data = json.loads(frames[-1].split("data: ", 1)[1])
    assert data["position"] == last and data["event"].startswith("appeal.")
    assert served.client.get("/v1/events", params={"follow": False, "after": last}).text.count("id:") == 0
