"""Reports (JSON, CSV, XLSX), the 公示 of each removal, and the event stream."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api import create_app
from api.reports import build_report, in_force_on, in_pool_on, month_end
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.settings import Settings
from tests.api.conftest import SETTINGS, headers
from tests.integration.conftest import DECLARED_FROM, START
from tests.integration.scenario import Scenario

PERIOD = {"effective_from": "2025-01-01", "effective_to": "2025-05-31"}  # the served fixture asks on 2025-06-01


def test_the_report_counts_the_pool_admissions_and_the_removal_by_article(served):
    answer = served.client.get("/v1/reports/tangshan", params=PERIOD, headers=headers("regulator"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["pool_size"] == 1  # TS-2; TS-1 was blacklisted
    assert report["admissions"] == 2
    assert report["removals_by_article"] == {"唐山 第十三条（二）": 1}
    march = {m["month"]: m["count"] for m in report["pool_size_by_month"]}
    assert march["2025-02"] == 0 and march["2025-03"] == 1 and march["2025-05"] == 1


def test_the_report_as_csv_and_xlsx_carries_the_same_figures(served):
    h = headers("auditor")
    body = served.client.get("/v1/reports/tangshan", params={**PERIOD, "format": "csv"}, headers=h).content
    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM Excel on zh-CN Windows needs
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["jurisdiction", "effective_from", "effective_to", "section", "key", "subkey", "value"]
    assert ["tangshan", "2025-01-01", "2025-05-31", "removals_by_article", "唐山 第十三条（二）", "", "1"] in rows
    months = [row[4] for row in rows if row[3] == "removals_by_month"]
    assert months == [f"2025-{m:02d}" for m in range(1, 6)]  # every month, those without removals too
    assert ["tangshan", "2025-01-01", "2025-05-31", "removals_by_month", "2025-01", "", "0"] in rows
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


# -- a past period agrees with history as of its days, whenever it is asked ---------------------------


@dataclass
class Past:
    client: TestClient
    order: str  # TS-2's rectification order, 2025-03-20, rescinded on appeal 2025-04-15


@pytest.fixture
def past(database_url: str) -> Iterator[Past]:
    """TS-1 blacklisted on 03-12 (唐山 第十三条（二）), rescinded on appeal on 05-10; TS-2 ordered to
    rectify on 03-20, the order voided on appeal on 04-15; TJ-2 scored 85 (A) for 2024 on 03-05 and
    re-scored 75 (B) on 05-01; TJ-3 withdrew (天津 第十二条（八）) on 03-31. Asked on 06-01."""
    clock = ManualClock(START)
    app = bootstrap(Settings(database_url=database_url), clock=clock)
    scenario = Scenario(app.ledger, clock)
    for jurisdiction, valid_from in DECLARED_FROM.items():
        app.ledger.execute(m.DeclareRulebookValidity(command_id=f"declare-{jurisdiction}", jurisdiction=jurisdiction, valid_from=valid_from, reference="test"))
    for provider_id in ("TS-1", "TS-2"):
        scenario.admit(provider_id, "tangshan")
    for provider_id in ("TJ-2", "TJ-3"):
        scenario.admit(provider_id, "tianjin")
    scenario.on(date(2025, 3, 5))
    scenario.run(m.RecordScore, provider_id="TJ-2", year=2024, score=85)
    scenario.on(date(2025, 3, 12))
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}", on=date(2025, 3, day)) for i, day in ((1, 10), (2, 12))]
    scenario.on(date(2025, 3, 20))
    order = scenario.finding("TS-2", "第十二条（二）")
    scenario.on(date(2025, 4, 2))
    scenario.run(m.WithdrawFromPool, provider_id="TJ-3", reason="leaving", effective_on=date(2025, 3, 31))
    scenario.on(date(2025, 4, 15))
    scenario.appeal("TS-2", "第十六条（四）", order)
    scenario.on(date(2025, 5, 1))
    scenario.run(m.RecordScore, provider_id="TJ-2", year=2024, score=75)
    scenario.on(date(2025, 5, 10))
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)
    clock.set(date(2025, 6, 1))
    assert app.projections is not None
    app.projections.wait_for()
    with TestClient(create_app(app, SETTINGS), raise_server_exceptions=False) as client:
        yield Past(client, order)
    app.close()


def _report(past: Past, jurisdiction: str, start: str, end: str) -> dict:
    answer = past.client.get(f"/v1/reports/{jurisdiction}", params={"effective_from": start, "effective_to": end}, headers=headers("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _history(past: Past, provider_id: str, day: str) -> dict:
    answer = past.client.get(f"/v1/providers/{provider_id}/history", params={"effective_at": day}, headers=headers("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()["standing"]


def test_the_fixture_is_what_the_reports_are_checked_against(past):
    assert [(s["sanction"], s["article"], s["effective_on"], s["state"]) for s in _history(past, "TS-1", "2025-03-31")["sanctions"]] == [
        ("blacklisting", "唐山 第十三条（二）", "2025-03-12", "in_force")
    ]
    assert _history(past, "TS-1", "2025-05-10")["status"] == "reinstated"
    assert [s["state"] for s in _history(past, "TS-2", "2025-03-31")["sanctions"]] == ["open"]
    assert [s["state"] for s in _history(past, "TS-2", "2025-04-15")["sanctions"]] == ["rescinded"]
    assert [(g["period"], g["grade"]) for g in _history(past, "TJ-2", "2025-03-31")["grades"]] == [("2024", "A")]
    assert [(g["period"], g["grade"]) for g in _history(past, "TJ-2", "2025-05-01")["grades"]] == [("2024", "B")]


BLACKLISTED = "唐山 第十三条（二）"


def test_a_removal_rescinded_after_the_period_is_counted_in_it_at_its_boundaries(past):
    # taking effect on the period's first day, on its last day; the day before it, the day after it
    for start, end, counted in (
        ("2025-03-01", "2025-03-31", True), ("2025-03-12", "2025-03-31", True), ("2025-03-01", "2025-03-12", True),
        ("2025-03-13", "2025-03-31", False), ("2025-03-01", "2025-03-11", False), ("2025-03-01", "2025-05-09", True),
    ):  # fmt: skip
        report = _report(past, "tangshan", start, end)
        assert report["removals_by_article"] == ({BLACKLISTED: 1} if counted else {}), (start, end)
        in_pool = _history(past, "TS-1", end)["status"] in ("in_pool", "reinstated")
        assert report["pool_size"] == 1 + in_pool, (start, end)  # TS-2 all along
    march = _report(past, "tangshan", "2025-03-01", "2025-03-31")
    assert (march["pool_size"], march["admissions"], march["removals_by_month"]["2025-03"]) == (1, 2, {BLACKLISTED: 1})


def test_a_removal_rescinded_inside_the_period_or_on_its_last_day_is_not_counted(past):
    for end in ("2025-05-10", "2025-05-31"):
        report = _report(past, "tangshan", "2025-03-01", end)
        assert report["removals_by_article"] == {} and report["pool_size"] == 2, end
        assert report["removals_by_month"]["2025-03"] == {BLACKLISTED: 1}  # in force at the end of March
        assert [m["count"] for m in report["pool_size_by_month"]] == [1, 1, 2]  # March, April, May


def test_an_order_rescinded_after_the_month_counts_in_it_not_after_its_rescission(past):
    def orders(start: str, end: str) -> dict[str, int]:
        return {m["month"]: m["rectification_orders"] for m in _report(past, "tangshan", start, end)["sanctions_by_month"]}

    assert orders("2025-03-01", "2025-03-31") == {"2025-03": 1}
    assert orders("2025-03-20", "2025-03-20") == {"2025-03": 1}
    assert orders("2025-03-21", "2025-03-31") == orders("2025-03-01", "2025-03-19") == {"2025-03": 0}
    assert orders("2025-03-01", "2025-04-14") == {"2025-03": 1, "2025-04": 0}
    assert orders("2025-03-01", "2025-04-15") == {"2025-03": 1, "2025-04": 0}  # March as of 03-31


def test_the_grades_of_a_past_period_are_those_history_gives_on_its_last_day(past):
    for end, expected in (("2025-03-04", {}), ("2025-03-05", {"letter": {"A": 1}}), ("2025-03-31", {"letter": {"A": 1}}),
                          ("2025-04-30", {"letter": {"A": 1}}), ("2025-05-01", {"letter": {"B": 1}}), ("2025-06-01", {"letter": {"B": 1}})):  # fmt: skip
        assert _report(past, "tianjin", "2025-03-01", end)["grade_distribution"] == expected, end
        grades = [g["grade"] for g in _history(past, "TJ-2", end)["grades"]]
        assert grades == [g for c in expected.values() for g in c], end


def test_a_tianjin_voluntary_exit_is_counted_under_its_article_on_its_day(past):
    exit_ = "天津 第十二条（八）"
    for start, end, counted in (
        ("2025-03-01", "2025-03-31", True), ("2025-03-31", "2025-03-31", True), ("2025-03-01", "2025-03-30", False), ("2025-04-01", "2025-04-30", False),
    ):  # fmt: skip
        report = _report(past, "tianjin", start, end)
        assert report["removals_by_article"] == ({exit_: 1} if counted else {}), (start, end)
    report = _report(past, "tianjin", "2025-03-01", "2025-04-30")
    assert report["removals_by_month"] == {"2025-03": {exit_: 1}, "2025-04": {}}
    assert [m["count"] for m in report["pool_size_by_month"]] == [1, 1]  # TJ-2; TJ-3 left on 03-31
    announced = past.client.get("/v1/reports/tianjin/announcements", params={"effective_from": "2025-03-01", "effective_to": "2025-03-31"}).json()
    assert [(i["provider_id"], i["article"]) for i in announced["items"]] == [("TJ-3", exit_)]


def test_a_period_at_the_end_of_the_calendar_is_answered_not_a_server_error(served):
    for start, end in (("9999-01-01", "9999-12-31"), ("9999-12-31", "9999-12-31")):  # the future: refused, not projected
        answer = served.client.get("/v1/reports/tangshan", params={"effective_from": start, "effective_to": end}, headers=headers("auditor"))
        assert answer.status_code == 422 and answer.json()["field"] == "effective_from", (start, end, answer.text)
    for start, end in (("0001-01-01", "0001-01-31"),):
        answer = served.client.get("/v1/reports/tangshan", params={"effective_from": start, "effective_to": end}, headers=headers("auditor"))
        assert answer.status_code == 200, (start, end, answer.text)
        assert answer.json()["pool_size_by_month"][-1]["month"] == end[:7]
    assert month_end("9999-12") == date(9999, 12, 31) and month_end("2024-02") == date(2024, 2, 29)


def test_a_sanction_counts_on_a_day_when_it_took_effect_by_then_and_was_not_rescinded_by_then():
    rescinded_later = {"effective_on": "2025-03-12", "rescinded_on": "2025-05-10"}
    assert [in_force_on(rescinded_later, date(2025, m, d)) for m, d in ((3, 11), (3, 12), (5, 9), (5, 10))] == [False, True, True, False]
    never = {"effective_on": "2025-03-12", "rescinded_on": "2025-03-12"}  # rescinded from its own day: it never took effect
    assert not any(in_force_on(never, date(2025, 3, d)) for d in (11, 12, 31))
    assert in_force_on({"effective_on": "2025-03-12", "rescinded_on": None}, date(9999, 12, 31))


def test_build_report_counts_removals_and_orders_as_of_the_period_and_each_month_end():
    def sanction(kind: str, on: str, rescinded: str | None = None) -> dict:
        return {"sanction": kind, "article": f"A {kind}", "removes": kind == "blacklisting", "effective_on": on, "rescinded_on": rescinded}

    standings = [
        _standing("2025-01-01", [sanction("blacklisting", "2025-03-12", "2025-05-10")]),
        _standing("2025-01-01", [sanction("blacklisting", "2025-03-05", "2025-03-05")]),  # never took effect
        _standing("2025-01-01", [sanction("warning", "2025-03-01", "2025-04-01"), sanction("rectification_order", "2025-03-31", "2025-03-31")]),
    ]
    march = build_report("tangshan", date(2025, 3, 1), date(2025, 3, 31), standings, {})
    assert march.removals_by_article == {"A blacklisting": 1} and march.pool_size == 2
    assert [(m.warnings, m.rectification_orders) for m in march.sanctions_by_month] == [(1, 0)]
    spring = build_report("tangshan", date(2025, 3, 1), date(2025, 5, 31), standings, {})
    assert spring.removals_by_article == {} and spring.removals_by_month["2025-03"] == {"A blacklisting": 1}
    assert [m.count for m in spring.pool_size_by_month] == [2, 2, 3]
    assert [(m.warnings, m.rectification_orders) for m in spring.sanctions_by_month] == [(1, 0), (0, 0), (0, 0)]
