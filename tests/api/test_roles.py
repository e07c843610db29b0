"""Every endpoint, walked by every role: allowed ones get past authorization, the others are
refused (401 for the public, 403 for a role or scope that may not) and nothing is written."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.conftest import ROLES, headers
from tests.integration.scenario import credit_code_for

READERS_OF_TS1 = {"auditor", "regulator", "provider"}
EVERYONE = set(ROLES)
REG = {"regulator"}


@dataclass
class Case:
    method: str
    route: str  # the route's template, as FastAPI lists it
    allowed: set[str]
    path: str = ""  # filled in; default: the template itself
    body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def cases(seeded) -> list[Case]:
    rating = seeded.ratings[0]
    p = seeded.project
    get = [
        Case("GET", "/health", EVERYONE),
        Case("GET", "/ready", EVERYONE),
        Case("GET", "/metrics", EVERYONE),
        Case("GET", "/v1/registry", EVERYONE, params={"jurisdiction": "tangshan"}),
        Case("GET", "/v1/registry/as-of", EVERYONE, params={"effective_at": "2025-03-01"}),
        Case("GET", "/v1/lists", EVERYONE),
        Case("GET", "/v1/providers/{provider_id}", READERS_OF_TS1, "/v1/providers/TS-1"),
        Case("GET", "/v1/providers/{provider_id}/grades", READERS_OF_TS1, "/v1/providers/TS-1/grades"),
        Case("GET", "/v1/providers/{provider_id}/counters", READERS_OF_TS1, "/v1/providers/TS-1/counters"),
        Case("GET", "/v1/providers/{provider_id}/sanctions", READERS_OF_TS1, "/v1/providers/TS-1/sanctions"),
        Case("GET", "/v1/providers/{provider_id}/timeline", READERS_OF_TS1, "/v1/providers/TS-1/timeline"),
        Case("GET", "/v1/providers/{provider_id}/history", READERS_OF_TS1, "/v1/providers/TS-1/history", params={"effective_at": "2025-03-01"}),
        Case("GET", "/v1/providers/{provider_id}/explain", READERS_OF_TS1, "/v1/providers/TS-1/explain"),
        Case("GET", "/v1/providers/{provider_id}/whatif", READERS_OF_TS1, "/v1/providers/TS-1/whatif", params={"void": rating.fact}),
        Case("GET", "/v1/projects/{project_id}", {"auditor", "regulator", "enterprise"}, f"/v1/projects/{p}"),
        Case("GET", "/v1/verify", {"auditor"}),
        Case("GET", "/v1/reports/{jurisdiction}", {"auditor", "regulator"}, "/v1/reports/tangshan", params={"effective_from": "2025-01-01", "effective_to": "2025-12-31"}),
        Case("GET", "/v1/reports/{jurisdiction}/announcements", EVERYONE, "/v1/reports/tangshan/announcements", params={"effective_from": "2025-01-01", "effective_to": "2025-12-31"}),
        Case("GET", "/v1/events", EVERYONE, params={"after": 0, "follow": False}),
        Case("GET", "/v1/complaints/{complaint_id}/complainant", REG, f"/v1/complaints/{seeded.complaint}/complainant"),
    ]
    post: list[tuple[str, set[str], str | None, dict[str, Any]]] = [
        ("/v1/providers", REG, None, {"provider_id": "TS-9", "jurisdiction": "tangshan", "name": "新", "credit_code": credit_code_for("TS-9"), "kind": "数字化服务商"}),
        ("/v1/providers/{provider_id}/public-notice", REG, "TS-2", {}),
        ("/v1/providers/{provider_id}/public-notice/closure", REG, "TS-2", {"last_day": "2025-05-01"}),
        ("/v1/providers/{provider_id}/objections", REG, "TS-2", {"objection_id": "O-1", "raised_by": "x", "grounds": "g"}),
        ("/v1/providers/{provider_id}/objections/{objection_id}/resolution", REG, "TS-2/objections/O-1", {"stands": False}),
        ("/v1/providers/{provider_id}/admission", REG, "TS-2", {}),
        ("/v1/providers/{provider_id}/refusal", REG, "TS-2", {"reason": "r"}),
        ("/v1/providers/{provider_id}/lapse", REG, "TS-2", {"reason": "r"}),
        ("/v1/providers/{provider_id}/profile-changes", REG, "TS-2", {"field": "address", "new_value": "唐山", "changed_on": "2025-05-01", "reported_on": "2025-05-02"}),
        ("/v1/providers/{provider_id}/scores", REG, "TS-2", {"year": 2025, "score": 80}),
        ("/v1/providers/{provider_id}/evaluations", REG, "TS-2", {"year": 2025, "qualified": True}),
        ("/v1/providers/{provider_id}/star-ratings", REG, "TS-2", {"rating_round": "2025", "stars": 2}),
        ("/v1/providers/{provider_id}/findings", REG, "TS-2", {"article": "第十二条（一）", "summary": "s", "deadline_days": 10}),
        ("/v1/providers/{provider_id}/rectifications/completion", REG, "TS-1", {"sanction_ref": seeded.blacklisting}),
        ("/v1/providers/{provider_id}/rectifications/period", REG, "TS-1", {"sanction_ref": seeded.blacklisting, "deadline_days": 10}),
        ("/v1/providers/{provider_id}/rectifications/refusal", REG, "TS-1", {"sanction_ref": seeded.blacklisting}),
        ("/v1/providers/{provider_id}/withdrawal", REG, "TS-2", {"reason": "r"}),
        ("/v1/providers/{provider_id}/withheld-fees", REG, "TS-2", {"amount": "100", "reason": "r", "article": "第十四条"}),
        ("/v1/projects", REG, None, {"project_id": "P-new", "jurisdiction": "tangshan", "enterprise_id": "E-1", "enterprise_name": "E", "integrated_provider_id": "TS-2"}),
        ("/v1/projects/{project_id}/diagnosis", REG, p, {"level_before": 1}),
        ("/v1/projects/{project_id}/filing", REG, p, {"content": "c", "cost": "1"}),
        ("/v1/projects/{project_id}/filing/decision", REG, p, {"approved": True}),
        ("/v1/projects/{project_id}/major-changes", REG, p, {"description": "d"}),
        ("/v1/projects/{project_id}/implementation", REG, p, {}),
        ("/v1/projects/{project_id}/acceptance", REG, p, {"passed": True}),
        ("/v1/projects/{project_id}/payments", REG, p, {"kind": "fee_paid", "amount": "10"}),
        ("/v1/projects/{project_id}/ratings", {"enterprise"}, p, {"provider_id": "TS-2", "rating": "满意"}),
        ("/v1/complaints", {"enterprise", "regulator"}, None, {"complaint_id": "C-new", "provider_id": "TS-2", "complainant_kind": "enterprise", "enterprise_id": "E-1", "subject": "s"}),
        ("/v1/complaints/{complaint_id}/answer-request", REG, seeded.complaint, {"answer_days": 15}),
        ("/v1/complaints/{complaint_id}/answer", REG, seeded.complaint, {"summary": "s"}),
        ("/v1/complaints/{complaint_id}/verification", REG, seeded.complaint, {"verdict": "unfounded"}),
        ("/v1/appeals", {"provider"}, None, {"appeal_id": "A-new", "provider_id": "TS-1", "ground": "第十六条（二）", "evidence_refs": [seeded.ratings[1].source], "matter": "m", "reasons": "r", "purpose": "p"}),
        ("/v1/appeals/{appeal_id}/decision", REG, seeded.appeal, {"upheld": False}),
        ("/v1/rulebooks/{jurisdiction}/validity", REG, "tangshan", {"valid_from": "2025-01-01", "reference": "r"}),
        ("/v1/rulebooks/{jurisdiction}/parameters", REG, "tangshan", {"params": {"unsatisfied_ratings": 2}, "reference": "r"}),
        ("/v1/complaints/{complaint_id}/complainant/erasure", REG, seeded.complaint, {"reason": "retention period ended"}),
    ]
    out = list(get)
    for route, allowed, ids, body in post:
        path = route
        if ids is not None:
            path = route.split("{")[0] + ids + route.split("}", route.count("}"))[-1] if route.count("{") == 1 else route.replace("{provider_id}/objections/{objection_id}", ids)
        out.append(Case("POST", route, allowed, path, body))
    for case in out:
        case.path = case.path or case.route
    return out


def test_the_matrix_names_every_endpoint(served):
    paths = served.client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    assert routes == {(c.method, c.route) for c in cases(served.seeded)}


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_with_every_role(served, role):
    keys = itertools.count()
    for case in cases(served.seeded):
        before = served.events()
        extra = {"Idempotency-Key": f"{role}-{next(keys)}"} if case.method == "POST" else {}
        answer = served.client.request(case.method, case.path, json=case.body, params=case.params, headers={**headers(role), **extra})
        where = f"{role} {case.method} {case.path}: {answer.status_code} {answer.text[:300]}"
        assert answer.status_code < 500, where
        if role in case.allowed:
            assert answer.status_code not in (401, 403), where
        else:
            assert answer.status_code == (401 if role == "public" else 403), where
            assert served.events() == before, where
