"""Days on the effective axis are YYYY-MM-DD only (one parser, :func:`ledger.clock.day`): a Unix
timestamp or a compact 20240101 is refused naming the field; and a report for a period reaching past
today is reported up to today, one beginning after it refused as history and as-of refuse the future
(422 naming effective_from)."""
from __future__ import annotations

import pytest

from tests.api.conftest import headers

TODAY = "2025-06-01"  # the served fixture's clock

ENDPOINTS = [
    ("/v1/registry/as-of", "effective_at", {}),
    ("/v1/providers/TS-1/history", "effective_at", {}),
    ("/v1/providers/TS-1/timeline", "effective_from", {}),
    ("/v1/providers/TS-1/timeline", "effective_to", {}),
    ("/v1/reports/tangshan", "effective_from", {"effective_to": "2025-05-31"}),
    ("/v1/reports/tangshan", "effective_to", {"effective_from": "2025-01-01"}),
    ("/v1/reports/tangshan/announcements", "effective_from", {"effective_to": "2025-05-31"}),
    ("/v1/reports/tangshan/announcements", "effective_to", {"effective_from": "2025-01-01"}),
]


@pytest.mark.parametrize("path, field, rest", ENDPOINTS)
@pytest.mark.parametrize("value", ["0", "1733270400", "20240101", "2024-12-04T00:00:00", "2024-13-01"])
def test_an_effective_day_is_yyyy_mm_dd_only(served, path, field, rest, value):
    answer = served.client.get(path, params={**rest, field: value}, headers=headers("auditor"))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["field"] == field
    assert "YYYY-MM-DD" in problem["detail"] and "Datetimes provided to dates" not in problem["detail"]


@pytest.mark.parametrize("path, field, rest", ENDPOINTS)
def test_a_well_formed_day_is_read(served, path, field, rest):
    answer = served.client.get(path, params={**rest, field: "2025-03-01"}, headers=headers("auditor"))
    assert answer.status_code == 200, answer.text


def test_the_parser_reads_days_and_refuses_the_rest():
    from ledger.clock import day

    assert str(day("2025-03-01")) == "2025-03-01"
    for bad in ("0", "20250301", "1733270400", "2025-3-1", " 2025-03-01", "2025-02-30"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            day(bad)


@pytest.mark.parametrize("path", ["/v1/reports/tangshan", "/v1/reports/tangshan/announcements"])
@pytest.mark.parametrize("end", ["2025-05-31", TODAY, "2025-06-02", "2030-12-31"])
def test_a_period_reaching_past_today_is_reported_up_to_today(served, path, end):
    """This year's report is the year to date: nothing has taken effect after today."""
    answer = served.client.get(path, params={"effective_from": "2025-01-01", "effective_to": end}, headers=headers("auditor"))
    assert answer.status_code == 200, answer.text
    if path.endswith("tangshan"):
        assert answer.json()["effective_to"] == min(end, TODAY)


@pytest.mark.parametrize("path", ["/v1/reports/tangshan", "/v1/reports/tangshan/announcements"])
@pytest.mark.parametrize("start, refused", [(TODAY, False), ("2025-06-02", True), ("2030-01-01", True)])
def test_a_period_beginning_after_today_is_refused_naming_effective_from(served, path, start, refused):
    answer = served.client.get(path, params={"effective_from": start, "effective_to": "2030-12-31"}, headers=headers("auditor"))
    if refused:
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "effective_from" and "future" in answer.json()["detail"]
    else:
        assert answer.status_code == 200, answer.text


def test_an_open_ended_period_is_reported_to_today_and_a_long_one_refused(served):
    """effective_to 9999-12-31 reads "until now"; more than twenty years back from today is refused."""
    answer = served.client.get("/v1/reports/tangshan", params={"effective_from": "2020-01-01", "effective_to": "9999-12-31"}, headers=headers("auditor"))
    assert answer.status_code == 200 and answer.json()["effective_to"] == TODAY, answer.text
    answer = served.client.get("/v1/reports/tangshan", params={"effective_from": "2004-01-01", "effective_to": "9999-12-31"}, headers=headers("auditor"))
    assert answer.status_code == 422 and answer.json()["field"] == "effective_from", answer.text
