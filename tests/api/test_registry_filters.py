"""/v1/registry's filters are enums in the OpenAPI schema, from the one list the ledger enforces
(``ledger.aggregates.provider.STANDINGS``); a grade outside the schemes is refused, not an empty
page; /v1/registry/as-of pages like /v1/registry."""
from __future__ import annotations

from ledger.aggregates.provider import STANDINGS
from tests.api.conftest import headers


def _param(schema: dict, path: str, name: str) -> dict:
    [found] = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
    return found["schema"]


def _enum(param: dict) -> list[str]:
    return next(option["enum"] for option in param.get("anyOf", [param]) if "enum" in option)


def test_standing_and_grade_are_enums_in_the_schema(served):
    schema = served.client.get("/openapi.json").json()
    assert _enum(_param(schema, "/v1/registry", "standing")) == list(STANDINGS)
    assert "in_notice" not in _enum(_param(schema, "/v1/registry", "standing"))
    assert set(_enum(_param(schema, "/v1/registry", "grade"))) == {"A", "B", "C", "D", "0", "1", "2", "3", "qualified", "unqualified"}


def test_an_unknown_standing_or_grade_is_refused_naming_it(served):
    for name, value in (("standing", "in_notice"), ("grade", "Z")):
        answer = served.client.get("/v1/registry", params={name: value}, headers=headers("auditor"))
        assert answer.status_code == 422 and answer.json()["field"] == name, answer.text
    assert served.client.get("/v1/registry", params={"grade": "A"}, headers=headers("auditor")).status_code == 200


def test_the_registry_as_of_pages(served):
    window = {"effective_at": "2025-05-31"}
    whole = served.client.get("/v1/registry/as-of", params={**window, "limit": 500}, headers=headers("auditor")).json()
    assert whole["total"] == len(whole["items"]) == 3 and whole["next_offset"] is None
    first = served.client.get("/v1/registry/as-of", params={**window, "limit": 2}, headers=headers("auditor")).json()
    second = served.client.get("/v1/registry/as-of", params={**window, "limit": 2, "offset": first["next_offset"]}, headers=headers("auditor")).json()
    assert (first["total"], first["next_offset"], second["next_offset"]) == (3, 2, None)
    assert first["items"] + second["items"] == whole["items"]
    assert first["view"] == whole["view"]
