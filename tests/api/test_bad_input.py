"""Bad input at the edges: extreme dates, bodies that are not JSON or give a key twice, refusals of a
rulebook's parameters, validity or an unknown article — each a 4xx naming the field, never a 500."""
from __future__ import annotations

import pytest

from tests.api.conftest import headers


def test_extreme_days_and_instants_on_the_recorded_axis_are_answered_not_500(served):
    client, auditor = served.client, headers("auditor")
    everything = client.get("/v1/providers/TS-1/timeline", headers=auditor).json()["items"]
    assert everything
    for query in ("recorded_from=0001-01-01", "recorded_to=9999-12-31", "recorded_from=0001-01-01T00:00:00&recorded_to=9999-12-31T23:59:59"):
        answer = client.get(f"/v1/providers/TS-1/timeline?{query}", headers=auditor)
        assert answer.status_code == 200, (query, answer.text)
        assert answer.json()["items"] == everything, query
    for query in ("recorded_to=0001-01-01T00:00:00", "recorded_from=9999-12-31T23:59:59-05:00"):
        answer = client.get(f"/v1/providers/TS-1/timeline?{query}", headers=auditor)
        assert answer.status_code == 200 and answer.json()["items"] == [], (query, answer.text)
    answer = client.get("/v1/providers/TS-1/timeline?recorded_from=9999-12-31&recorded_to=0001-01-01", headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "recorded_to"
    answer = client.get("/v1/registry/as-of?known_at=0001-01-01T00:00:00", headers=auditor)
    assert answer.status_code == 200 and answer.json()["items"] == [], answer.text
    answer = client.get("/v1/providers/TS-1/history?known_at=0001-01-01T00:00:00", headers=auditor)
    assert answer.status_code == 404, answer.text  # not applied yet by then
    answer = client.get("/v1/registry/as-of?known_at=9999-12-31T23:59:59", headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "known_at"  # in the future


@pytest.mark.parametrize("value", ["20250301", "1740787200", "2025-3-1", "yesterday"])
def test_a_point_on_the_recorded_axis_is_a_day_or_an_iso_instant_as_the_cli_reads_it(served, value):
    """``20250301`` would be a Unix timestamp of 1970 to the API's datetime and a day to a lenient CLI:
    both refuse it (the CLI: tests/e2e/test_cli_clear.py)."""
    answer = served.client.get(f"/v1/providers/TS-1/history?known_at={value}", headers=headers("auditor"))
    assert answer.status_code == 422 and answer.json()["field"] == "known_at", answer.text
    assert "neither a day (YYYY-MM-DD) nor an ISO instant" in answer.json()["detail"]


def _post(served, path: str, body: str, key: str):
    return served.client.post(
        f"/v1{path}", content=body, headers={**headers("regulator"), "Content-Type": "application/json", "Idempotency-Key": key}
    )


def test_a_body_that_is_not_json_names_the_body(served):
    answer = _post(served, "/providers/TS-2/scores", '{"year":2025,"score":80,', "k-1")
    assert answer.status_code == 422 and answer.json()["field"] == "body", answer.text
    assert "\n" not in answer.json()["detail"] and "character 24" in answer.json()["detail"]


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/providers/TS-2/scores", '{"year":2025,"score":80,"year":2026}', "year"),
        ("/providers/TS-2/findings", '{"article":"第十二条（一）","summary":"late","summary":"later","deadline_days":10}', "summary"),
        ("/rulebooks/tangshan/parameters", '{"params":{"unsatisfied_ratings":3,"unsatisfied_ratings":4},"reference":"r"}', "params.unsatisfied_ratings"),
    ],
)
def test_a_key_given_twice_is_refused_naming_it_and_writes_nothing(served, path, body, field):
    before = served.events()
    answer = _post(served, path, body, "k-2")
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    assert served.events() == before


def test_a_key_given_twice_is_checked_after_the_token(served):
    answer = served.client.post("/v1/providers/TS-2/findings", content='{"summary":"a","summary":"b"}', headers={"Content-Type": "application/json"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "params, field",
    [
        ({"unsatisfied_ratings": "x"}, "params.unsatisfied_ratings"),
        ({"unsatisfied_ratings": 2.5}, "params.unsatisfied_ratings"),
        ({"no_such_parameter": 1}, "params.no_such_parameter"),
    ],
)
def test_a_refused_rulebook_parameter_is_one_line_naming_it(served, params, field):
    before = served.events()
    answer = served.client.post(
        "/v1/rulebooks/tangshan/parameters", json={"params": params, "reference": "r"}, headers={**headers("regulator"), "Idempotency-Key": "k-3"}
    )
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    assert "\n" not in answer.json()["detail"] and "pydantic" not in answer.json()["detail"]
    assert served.events() == before


def test_validity_ending_before_it_begins_names_valid_until(served):
    body = {"valid_from": "2025-01-01", "valid_until": "2024-01-01", "reference": "r"}
    answer = served.client.post("/v1/rulebooks/tangshan/validity", json=body, headers={**headers("regulator"), "Idempotency-Key": "k-4"})
    assert answer.status_code == 422 and answer.json()["field"] == "valid_until", answer.text


def test_an_unknown_finding_article_names_the_field_and_no_article_it_was_not_given(served):
    body = {"article": "bogus", "summary": "late", "deadline_days": 10}
    answer = served.client.post("/v1/providers/TS-2/findings", json=body, headers={**headers("regulator"), "Idempotency-Key": "k-5"})
    assert answer.status_code == 422 and answer.json()["field"] == "article", answer.text
    assert "article" not in answer.json()  # not the first of the known articles the message lists
    assert "bogus" in answer.json()["detail"]


@pytest.mark.parametrize("value", [1743465600, "1743465600", "20250401", 0])
def test_a_day_in_a_command_body_is_yyyy_mm_dd_as_in_a_query(served, value):
    """A number was read as seconds since 1970 (1743465600 recorded as 2025-04-01); the query days refuse it."""
    before = served.events()
    answer = served.client.post(
        "/v1/providers/TS-2/scores", json={"year": 2024, "score": 80, "effective_on": value},
        headers={**headers("regulator"), "Idempotency-Key": f"day-{value}"},
    )  # fmt: skip
    assert answer.status_code == 422 and answer.json()["field"] == "effective_on", answer.text
    assert "is not a day (YYYY-MM-DD)" in answer.json()["detail"]
    assert served.events() == before
