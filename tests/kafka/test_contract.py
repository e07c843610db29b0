"""The published contract: the AsyncAPI document matches the code, every envelope matches the document, old versions upcast."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from ledger import asyncapi, cloudevent, wire
from tests.kafka.support import ROOT, demo_ledger, run_plan

DOCUMENT_URI = "urn:ledger:asyncapi"


def test_the_document_in_the_repository_is_the_one_the_code_generates() -> None:
    assert asyncapi.DOCUMENT.read_text(encoding="utf-8") == asyncapi.render(), "run `ledger contract --write`"
    check = subprocess.run([sys.executable, "-m", "ledger", "contract", "--check"], cwd=ROOT, capture_output=True, text=True, check=False,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_the_document_describes_every_event_type_with_its_key() -> None:
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    assert document["asyncapi"].startswith("3.")
    channel = document["channels"]["ledgerEvents"]
    assert channel["address"] == "ledger.events.v1"
    messages = document["components"]["messages"]
    assert set(messages) == set(wire.EVENT_TYPES)
    for name, message in messages.items():
        assert message["contentType"] == "application/cloudevents+json"
        assert message["bindings"]["kafka"]["key"]["description"]
        assert name in document["components"]["schemas"]


def validator_for(event_type: str, document: dict) -> Draft202012Validator:
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/components/messages/{event_type}/payload"}, registry=registry)


def test_every_envelope_of_a_realistic_ledger_matches_the_document_and_reads_back_exactly(tmp_path) -> None:
    ledger, plan = demo_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    run_plan(ledger, plan)
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    validators: dict[str, Draft202012Validator] = {}
    subjects: dict = {}
    seen_types = set()
    for event in ledger.store.read_all():
        if event.originator_version == 1:
            subjects[event.originator_id] = cloudevent.subject_of_first(wire.event_type(event), wire.decode_state(event))
        message = cloudevent.envelope(event, subjects[event.originator_id])
        body = json.loads(message.to_json())
        validator = validators.setdefault(message.type, validator_for(message.type, document))
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (message.type, errors)
        back = cloudevent.to_recorded(cloudevent.CloudEvent.from_json(message.to_json()))
        assert (back.topic, wire.decode_state(back)) == (wire.event_type(event), wire.decode_state(event))
        seen_types.add(message.type)
    assert len(seen_types) > 30
    ledger.close()


def test_a_message_that_breaks_the_schema_is_refused() -> None:
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    validator = validator_for("provider.admitted.v1", document)
    body = {
        "specversion": "1.0", "id": "x/2", "type": "provider.admitted.v1", "source": "/ledger/tianjin", "subject": "provider/TJ-1",
        "time": "2025-01-01T00:00:00Z", "datacontenttype": "application/json", "partitionkey": "TJ-1", "effectiveon": "2025-01-01",
        "logposition": 2, "aggregateid": "0b8f6c1e-55d5-5d38-9d4b-53f1b8f8f1aa", "aggregateversion": 2, "causationid": "c",
        "recordedby": "r", "eventhash": "h", "data": {"citation": None, "effective_on": "2025-01-01"},
    }  # fmt: skip
    assert not list(validator.iter_errors(body))
    for broken in ({**body, "type": "provider.applied.v1"}, {**body, "data": {"effective_on": "2025-01-01"}}, {**body, "logposition": "2"}):
        assert list(validator.iter_errors(broken))


def test_an_old_version_of_a_type_is_upcast_on_read(monkeypatch) -> None:
    """A v0 of provider.admitted (its citation under another name) reads as v1."""

    def admitted_v0(data: dict) -> tuple[str, dict]:
        data = dict(data)
        data["citation"] = data.pop("rule_citation")
        return "provider.admitted.v1", data

    monkeypatch.setitem(cloudevent.UPCASTERS, "provider.admitted.v0", admitted_v0)
    old = cloudevent.CloudEvent(
        id="0b8f6c1e-55d5-5d38-9d4b-53f1b8f8f1aa/5", type="provider.admitted.v0", source="/ledger/tianjin", subject="provider/TJ-1",
        time="2025-01-01T00:00:00Z", partitionkey="TJ-1", effectiveon="2025-01-01", logposition=9,
        aggregateid="0b8f6c1e-55d5-5d38-9d4b-53f1b8f8f1aa", aggregateversion=5, causationid="c", recordedby="r", eventhash="h",
        data={"rule_citation": {"short": "天津", "article": "第八条"}, "effective_on": "2025-01-01"},
    )  # fmt: skip
    recorded = cloudevent.to_recorded(old)
    assert recorded.topic == "provider.admitted.v1"
    assert wire.decode_state(recorded)["citation"] == {"short": "天津", "article": "第八条"}
    with pytest.raises(wire.UnknownEventType):
        cloudevent.to_recorded(old.model_copy(update={"type": "provider.admitted.v9"}))


# --- a typed contract: closed value sets as enums, nested objects typed ---------------------------


def _data_schema(document: dict, event_type: str) -> dict:
    return document["components"]["schemas"][event_type]


def _non_null(schema: dict) -> dict:
    """The schema of a field, without the null branch of an optional one."""
    branches = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    assert len(branches) == 1, schema
    return branches[0]


def test_closed_value_sets_are_enums_taken_from_the_code() -> None:
    from ledger.aggregates.complaint import COMPLAINANT_KINDS, NATURES
    from ledger.aggregates.project import PAYMENT_KINDS, RATINGS
    from ledger.aggregates.provider import PROFILE_FIELDS
    from ledger.rules import PACKS
    from ledger.rules.base import COMPLAINT_VERIFIED, FINDING, SANCTIONS, UNSATISFIED_RATING

    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    imposed = _data_schema(document, "provider.sanction-imposed.v1")["properties"]
    assert set(imposed["sanction"]["enum"]) == set(SANCTIONS)
    consequences = set(imposed["consequences"]["items"]["enum"])
    named = {c for pack in PACKS.values() for r in pack.rules for c in r.consequences}
    named |= {c for pack in PACKS.values() for f in pack.findings.values() for c in f.consequences}
    assert named <= consequences and "fees_withheld_or_deducted" in consequences  # recorded before 2026-12: still valid
    assert _non_null(imposed["citation"])["properties"].keys() == {"short", "article", "text", "document"}
    assert imposed["evidence"]["items"] == {"type": "string"}
    for event_type in ("provider.applied.v1", "complaint.filed.v2", "project.registered.v1", "rulebook.opened.v1", "appeal.filed.v1"):
        assert set(_data_schema(document, event_type)["properties"]["jurisdiction"]["enum"]) == set(PACKS)
    filed = _data_schema(document, "complaint.filed.v2")["properties"]
    assert (set(filed["complainant_kind"]["enum"]), set(filed["nature"]["enum"])) == (set(COMPLAINANT_KINDS), set(NATURES))
    assert set(_data_schema(document, "project.satisfaction-rated.v1")["properties"]["rating"]["enum"]) == set(RATINGS)
    assert set(_data_schema(document, "project.payment-recorded.v1")["properties"]["kind"]["enum"]) == set(PAYMENT_KINDS)
    assert set(_data_schema(document, "provider.profile-changed.v1")["properties"]["field"]["enum"]) == set(PROFILE_FIELDS)
    assert set(_data_schema(document, "complaint.verified.v1")["properties"]["verdict"]["enum"]) == {"true", "unfounded"}
    kinds = set(_data_schema(document, "provider.fact-noted.v1")["properties"]["kind"]["enum"])
    assert {COMPLAINT_VERIFIED, UNSATISFIED_RATING, FINDING} <= kinds and not kinds & set(SANCTIONS)


def test_no_field_is_left_an_untyped_array_or_citation() -> None:
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    untyped = []
    for event_type in wire.EVENT_TYPES:
        for name, schema in _data_schema(document, event_type)["properties"].items():
            schema = _non_null(schema) if "anyOf" in schema else schema
            if schema.get("type") == "array" and not schema["items"]:
                untyped.append(f"{event_type}.{name}")
            if name == "citation" and "properties" not in schema:
                untyped.append(f"{event_type}.{name}")
    assert untyped == []


def test_a_value_outside_a_closed_set_is_refused() -> None:
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/schemas/provider.sanction-imposed.v1"},
        registry=Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document)),
    )
    data = {
        "sanction": "blacklisting", "rule_id": "tangshan.13.2", "key": "tangshan.13.2",
        "citation": {"short": "唐山", "article": "第十三条（二）", "text": "…", "document": "…"}, "pack_version": "tangshan-trial.1",
        "params": {"unsatisfied_ratings": 2}, "evidence": ["0b8f6c1e-55d5-5d38-9d4b-53f1b8f8f1aa/7"], "condition_on": "2025-01-01",
        "deadline": None, "consequences": ["disqualified", "blacklisted"], "derived": True, "effective_on": "2025-01-01",
    }  # fmt: skip
    assert not list(validator.iter_errors(data))
    for broken in (
        {**data, "sanction": "banishment"}, {**data, "consequences": ["exile"]}, {**data, "evidence": [{"ref": 1}]},
        {**data, "citation": {"short": "唐山"}}, {**data, "params": {"unsatisfied_ratings": {"n": 2}}},
    ):  # fmt: skip
        assert list(validator.iter_errors(broken)), broken
