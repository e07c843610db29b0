"""Health, readiness, metrics, OpenAPI, and how commands and their errors are answered."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ledger.aggregates import Provider
from ledger.clock import BUREAU_TZ
from ledger.commands import models as m
from tests.api.conftest import headers


def test_health_ready_metrics_and_docs(served):
    client = served.client
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["checks"]["database"].startswith("ok")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "ledger_api_requests_total" in metrics.text
    assert client.get("/docs").status_code == 200
    assert "/v1/providers/{provider_id}/findings" in client.get("/openapi.json").json()["paths"]


def _check_kafka_at(served, address: str) -> None:
    served.client.app.state.settings = served.client.app.state.settings.model_copy(update={"check_kafka": True})
    served.app.settings = served.app.settings.model_copy(update={"kafka_bootstrap": address})


def test_readiness_names_an_unreachable_kafka(served):
    _check_kafka_at(served, "127.0.0.1:1")
    answer = served.client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"]["kafka"] == "unreachable: 127.0.0.1:1"


@pytest.mark.kafka
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_readiness_with_the_real_broker(served):
    from tests.kafka.conftest import kafka_bootstrap_address

    _check_kafka_at(served, kafka_bootstrap_address())
    answer = served.client.get("/ready")
    assert answer.status_code == 200 and answer.json()["checks"]["kafka"] == "ok"


def test_a_command_is_recorded_once_per_idempotency_key_and_by_the_tokens_subject(served):
    client, before = served.client, served.events()
    body = {"article": "第十二条（一）", "summary": "late report", "deadline_days": 10}
    first = client.post("/v1/providers/TS-2/findings", json=body, headers={**headers("regulator"), "Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    assert first.json()["events"] and first.json()["duplicate"] is False
    again = client.post("/v1/providers/TS-2/findings", json=body, headers={**headers("regulator"), "Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    recorded = list(served.app.ledger.store.read_all(after=before))
    assert len(recorded) == len(first.json()["positions"])
    assert {e.recorded_by for e in recorded} == {"ts-bureau"}


def test_bad_input_names_the_field_and_writes_nothing(served):
    client, before = served.client, served.events()
    answer = client.post("/v1/providers/TS-2/findings", json={"article": "第十二条（一）"}, headers={**headers("regulator"), "Idempotency-Key": "k-2"})
    assert answer.status_code == 422 and answer.json()["field"] == "summary"
    answer = client.post("/v1/providers/TS-2/findings", json={"article": "第十二条（一）", "summary": "s", "deadline_days": 0}, headers={**headers("regulator"), "Idempotency-Key": "k-3"})
    assert answer.status_code == 422 and answer.json()["field"] == "deadline_days"
    answer = client.post("/v1/providers/TS-2/findings", json={"article": "第十二条（一）", "summary": "s"}, headers=headers("regulator"))
    assert answer.status_code == 422 and answer.json()["field"] == "Idempotency-Key"
    answer = client.post("/v1/providers/TS-2/findings", json={"article": "第十二条（一）", "summary": "s"}, headers={**headers("regulator"), "Idempotency-Key": "k-3b"})
    assert answer.status_code == 422 and answer.json()["field"] == "deadline_days" and answer.json()["article"] == "第十二条（一）"
    answer = client.post("/v1/providers/TS-2/findings", json={"article": "第十二条（一）", "summary": "s", "deadline_days": 10, "effective_on": "2020-01-01"}, headers={**headers("regulator"), "Idempotency-Key": "k-3c"})
    assert answer.status_code == 422 and answer.json()["field"] == "effective_on"
    answer = client.post("/v1/providers/TS-2/profile-changes", json={"field": "address", "new_value": "x", "changed_on": "2025-05-02", "reported_on": "2025-05-01"}, headers={**headers("regulator"), "Idempotency-Key": "k-4"})
    assert answer.status_code == 422 and answer.json()["field"] == "reported_on"
    assert served.events() == before


def test_a_rule_refusal_names_the_article_and_writes_nothing(served):
    before = served.events()
    answer = served.client.post("/v1/providers/TS-2/findings", json={"article": "第九十九条", "summary": "s"}, headers={**headers("regulator"), "Idempotency-Key": "k-5"})
    assert answer.status_code == 422
    assert answer.json()["article"] == "第九十九条"
    answer = served.client.post("/v1/providers/TS-1/withdrawal", json={}, headers={**headers("regulator"), "Idempotency-Key": "k-6"})
    assert answer.status_code == 422 and "was out of the pool that day" in answer.json()["detail"]
    assert served.events() == before


def test_an_unknown_provider_is_404(served):
    answer = served.client.post("/v1/providers/NOPE/admission", json={}, headers={**headers("regulator"), "Idempotency-Key": "k-7"})
    assert answer.status_code == 404
    assert served.client.get("/v1/providers/NOPE", headers=headers("auditor")).status_code == 404


def test_a_concurrent_writer_is_409(served, monkeypatch):
    from ledger.application import CommandConflict

    def conflict(command):
        raise CommandConflict("command conflicted with concurrent writers 5 times; not recorded")

    monkeypatch.setattr(served.app.ledger, "execute", conflict)
    answer = served.client.post("/v1/providers/TS-2/findings", json={"article": "第十二条（一）", "summary": "s"}, headers={**headers("regulator"), "Idempotency-Key": "k-8"})
    assert answer.status_code == 409 and "not recorded" in answer.json()["detail"]


def test_a_bad_token_is_401(served):
    answer = served.client.get("/v1/verify", headers={"Authorization": "Bearer not-a-jwt"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert served.app.ledger.find(Provider, "TS-1") is not None


def test_the_read_services_refusals_name_the_field_and_unknown_providers_are_404(served):
    auditor = headers("auditor")
    get = served.client.get
    answer = get("/v1/providers/TS-1/timeline", params={"cursor": "not-a-cursor"}, headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "cursor"
    answer = get("/v1/providers/TS-1/timeline", params={"event_type": "provider.no-such-event.v1"}, headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "event_type"
    answer = get("/v1/providers/TS-1/timeline", params={"effective_from": "2025-03-02", "effective_to": "2025-03-01"}, headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "effective_to"
    answer = get("/v1/providers/TS-1/history", headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "known_at"
    answer = get("/v1/providers/TS-1/history", params={"effective_at": "2025-06-02"}, headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "effective_at" and "future" in answer.json()["detail"]
    assert get("/v1/providers/TS-1/history", params={"effective_at": "2025-06-01"}, headers=auditor).status_code == 200
    answer = get("/v1/providers/NO-SUCH/timeline", headers=auditor)
    assert answer.status_code == 404 and "NO-SUCH" in answer.json()["detail"]
    first = get("/v1/providers/TS-1/timeline", params={"limit": 1}, headers=auditor).json()
    second = get("/v1/providers/TS-1/timeline", params={"limit": 1, "cursor": first["next_cursor"]}, headers=auditor).json()
    assert first["total"] == second["total"] > 1 and second["items"][0]["position"] > first["items"][0]["position"]


def test_the_timeline_filters_on_the_recorded_axis(served):
    """?recorded_from/?recorded_to: instants (an offset, or Asia/Shanghai without one) or days
    (from the start / to the end of that day, Asia/Shanghai), both bounds included."""
    found = datetime(2025, 6, 1, 10, 0, 0, 500000, tzinfo=BUREAU_TZ)
    served.clock.set(found)
    served.app.ledger.execute(m.RecordFinding(command_id="late-finding", provider_id="TS-2", article="第十二条（一）", summary="recorded later", deadline_days=30))
    assert served.app.projections is not None
    served.app.projections.catch_up()
    auditor = headers("auditor")

    def recorded(**params: str) -> set[str]:
        """The commands whose events on TS-2's timeline were recorded within the bounds."""
        answer = served.client.get("/v1/providers/TS-2/timeline", params={"limit": 500, **params}, headers=auditor)
        assert answer.status_code == 200, answer.text
        return {e["command_id"] for e in answer.json()["items"]}

    µs = timedelta(microseconds=1)
    seeded = recorded(recorded_to="2025-05-31")  # the seed's commands, recorded on 2025-03-01
    assert seeded and "late-finding" not in seeded
    assert recorded(recorded_from=(found - µs).isoformat()) == {"late-finding"}
    assert recorded(recorded_from=found.isoformat()) == {"late-finding"}
    assert recorded(recorded_from=(found + µs).isoformat()) == set()
    assert recorded(recorded_to=(found - µs).isoformat()) == seeded
    assert recorded(recorded_to=found.isoformat()) == seeded | {"late-finding"}
    assert recorded(recorded_from="2025-06-01") == {"late-finding"}
    assert recorded(recorded_to="2025-06-01") == seeded | {"late-finding"}
    assert recorded(recorded_from="2025-06-01T10:00:00.5") == {"late-finding"}  # no offset: Asia/Shanghai
    assert recorded(recorded_from="2025-06-01T10:00:00.500001") == set()
    # a day on the recorded axis is a day, not its midnight: known_at too means the end of it
    known = served.client.get("/v1/providers/TS-2/history", params={"known_at": "2025-06-01"}, headers=auditor).json()
    assert known["view"].startswith("as known at 2025-06-01 23:59:59 (Asia/Shanghai)"), known["view"]
    answer = served.client.get("/v1/providers/TS-2/timeline", params={"recorded_from": "2025-06-02", "recorded_to": "2025-06-01"}, headers=auditor)
    assert answer.status_code == 422 and answer.json()["field"] == "recorded_to"
    answer = served.client.get("/v1/providers/TS-2/timeline", params={"recorded_from": "yesterday"}, headers=auditor)
    assert answer.status_code == 422 and "recorded_from" in answer.text


def test_every_request_is_counted_and_timed_by_its_route_and_status(served, monkeypatch):
    """The metrics middleware: by route template (``unmatched`` for no route), by the status the
    response started with, a request that failed inside the application as the 500 it got."""
    from prometheus_client import REGISTRY

    from ledger.views import Views

    timeline = "/v1/providers/{provider_id}/timeline"

    def count(route: str, status: str, method: str = "GET") -> float:
        return REGISTRY.get_sample_value("ledger_api_requests_total", {"method": method, "route": route, "status": status}) or 0.0

    def timed(route: str) -> float:
        return REGISTRY.get_sample_value("ledger_api_request_seconds_count", {"method": "GET", "route": route}) or 0.0

    before = {key: count(*key) for key in [(timeline, "200"), (timeline, "500"), ("unmatched", "404"), ("/health", "200")]}
    timed_before = timed(timeline)
    auditor = headers("auditor")
    assert served.client.get("/v1/providers/TS-2/timeline", headers=auditor).status_code == 200
    assert served.client.get("/v1/providers/TS-1/timeline", headers=auditor).status_code == 200
    assert served.client.get("/no/such/route").status_code == 404
    assert served.client.get("/health").status_code == 200

    def broken(*args, **kwargs):
        raise RuntimeError("the read model is gone")

    monkeypatch.setattr(Views, "timeline", broken)
    assert served.client.get("/v1/providers/TS-2/timeline", headers=auditor).status_code == 500
    after = {key: count(*key) for key in before}
    assert {key: after[key] - before[key] for key in before} == {(timeline, "200"): 2, (timeline, "500"): 1, ("unmatched", "404"): 1, ("/health", "200"): 1}
    assert timed(timeline) - timed_before == 3


def test_the_registry_as_of_a_window_shows_each_reader_what_the_registry_does(served):
    get = served.client.get
    window = {"known_at": "2025-06-01", "effective_at": "2025-05-01"}

    def standings(who: str, **params: str) -> dict[str, str]:
        answer = get("/v1/registry/as-of", params={**window, **params}, headers=headers(who))
        assert answer.status_code == 200, answer.text
        assert answer.json()["as_of"]["effective_at"] == "2025-05-01"
        return {e["provider_id"]: e["standing"] for e in answer.json()["items"]}

    assert standings("auditor") == {"TS-1": "blacklisted", "TS-2": "in_pool", "XX-1": "in_pool"}
    assert standings("regulator") == {"TS-1": "blacklisted", "TS-2": "in_pool"}  # its own jurisdiction, by default
    assert standings("public") == standings("provider") == {"TS-2": "in_pool", "XX-1": "in_pool"}  # the pool only
    assert standings("other_regulator", jurisdiction="tangshan") == {"TS-2": "in_pool"}
    assert standings("auditor", known_at="2025-02-27", effective_at="2025-05-01") == {}  # the seed was recorded on 2025-03-01
    answer = get("/v1/registry/as-of", headers=headers("auditor"))
    assert answer.status_code == 422 and answer.json()["field"] == "known_at"
    answer = get("/v1/registry/as-of", params={"effective_at": "2025-06-02"}, headers=headers("auditor"))
    assert answer.status_code == 422 and answer.json()["field"] == "effective_at"
