"""The published contract as an AsyncAPI 3 document, generated from the code.

``contracts/asyncapi.yaml`` is what a subscriber reads; this module writes it
from the same definitions the relay publishes with: the topic name
(:func:`ledger.relay.topic_name`), the envelope (:class:`ledger.cloudevent.CloudEvent`),
the key of each aggregate's events, and a JSON Schema of every event type's
``data`` generated from the event classes (:func:`ledger.cloudevent.data_schema`).
A test fails when the file and the code disagree; ``ledger contract --write``
regenerates it.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ledger import wire
from ledger.cloudevent import CONTENT_TYPE, CloudEvent, data_schema

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DOCUMENT = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.yaml"

#: aggregate -> what the message key is for its events
KEYS = {
    "provider": "The provider's id (provider_id of provider.applied.v1).",
    "project": "The project's integrated provider (integrated_provider_id of project.registered.v1), else its first product provider.",
    "complaint": "The provider the complaint is about (provider_id of complaint.filed.v1).",
    "appeal": "The provider that appeals (provider_id of appeal.filed.v1).",
    "rulebook": "rulebook:<jurisdiction>.",
    "entity": "entity:<jurisdiction>:<credit code> (of entity.credit-code-reserved.v1): every provider id the entity applied under.",
}

CHANNEL = "ledgerEvents"

# -- a typed contract --------------------------------------------------------------------------
# The event classes annotate ``citation: dict``, ``evidence: list``, ``sanction: str``: their schemas
# (ledger.cloudevent.data_schema) leave those open. What the ledger writes there is narrower, and the
# code defines each set once: those definitions give the enums and the nested objects below. Names and
# shapes of the events are unchanged; the schema says more precisely what a consumer may receive.

#: consequence names recorded by earlier readings and no longer written (新乡 第十六条 "视情况不予支付或扣除
#: 部分服务费用": disqualifications recorded before 2026-12 list it, NOTES.md): events on record keep them
RETIRED_CONSEQUENCES = ("fees_withheld_or_deducted",)


def _enum(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "string", "enum": sorted(set(values))}


def _strings() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}}


def _scalar_map(key_names: Iterable[str] | None = None) -> dict[str, Any]:
    """An object of JSON scalars (numbers, texts, yes/no), with ``key_names`` its only keys where given."""
    schema: dict[str, Any] = {"type": "object", "additionalProperties": {"type": ["string", "integer", "number", "boolean", "null"]}}
    if key_names is not None:
        schema["propertyNames"] = _enum(key_names)
    return schema


def _refinements() -> dict[str, dict[str, Any]]:
    """Field name -> its typed schema, for every event type that has the field (see :data:`_ONLY_IN`)."""
    import dataclasses
    import typing

    from ledger.aggregates.complaint import COMPLAINANT_KINDS, NATURES
    from ledger.aggregates.project import PAYMENT_KINDS, RATINGS
    from ledger.aggregates.provider import PROFILE_FIELDS
    from ledger.commands import models as m
    from ledger.rules import PACKS, base

    citation_fields = dataclasses.fields(base.Citation)
    citation = {
        "type": "object",
        "description": "The article applied: document short name, article, its text in the original Chinese, document title.",
        "properties": {f.name: {"type": "string"} for f in citation_fields},
        "required": [f.name for f in citation_fields if f.default is dataclasses.MISSING],
        "additionalProperties": False,
    }
    consequences = {c for pack in PACKS.values() for r in pack.rules for c in r.consequences}
    consequences |= {c for pack in PACKS.values() for f in pack.findings.values() for c in f.consequences}
    parameters = {name for pack in PACKS.values() for name in type(pack.params).model_fields}
    # the kinds of facts a provider's record holds: the string constants ledger.rules.base declares,
    # other than the sanctions and the voluntary exit (which is not a sanction)
    not_facts = {*base.SANCTIONS, base.VOLUNTARY_EXIT}
    fact_kinds = {
        value for name, value in vars(base).items() if name.isupper() and isinstance(value, str) and value not in not_facts
    }
    strings = _strings()
    return {
        "jurisdiction": _enum(PACKS),
        "complainant_kind": _enum(COMPLAINANT_KINDS),
        "nature": _enum(NATURES),
        "verdict": _enum(typing.get_args(m.VerifyComplaint.model_fields["verdict"].annotation)),
        "rating": _enum(RATINGS),
        "sanction": _enum(base.SANCTIONS),
        "consequences": {"type": "array", "items": _enum((*consequences, *RETIRED_CONSEQUENCES))},
        "citation": citation,
        "evidence": strings,
        "evidence_refs": strings,
        "supporting_evidence": strings,
        "refs": strings,
        "rescinded": strings,
        "problems": strings,
        "scenarios": strings,
        "product_provider_ids": strings,
        "profile": {"type": "object", "additionalProperties": {"type": "string"}},
        "eligibility": {"type": "object", "additionalProperties": {"type": ["boolean", "integer"]}},
        "basis": _scalar_map(),
        "params": _scalar_map(),
        "plan": _scalar_map(),
        "provider.fact-noted.v1:kind": _enum(fact_kinds),
        "project.payment-recorded.v1:kind": _enum(PAYMENT_KINDS),
        "provider.profile-changed.v1:field": _enum(PROFILE_FIELDS),
        "rulebook.parameters-set.v1:params": _scalar_map(parameters),
    }


#: field names refined only in the event types their key names (``type:field``)
_ONLY_IN = ("kind", "field")


def typed_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of an event type's ``data``, with the closed sets and nested objects typed."""
    schema = data_schema(event_type)
    refinements = _refinements()
    for name, field in schema.get("properties", {}).items():
        typed = refinements.get(f"{event_type}:{name}") or (None if name in _ONLY_IN else refinements.get(name))
        if typed is None:
            continue
        if "anyOf" in field:  # optional: keep the null branch
            field["anyOf"] = [typed if branch.get("type") != "null" else branch for branch in field["anyOf"]]
        else:
            title = field.get("title")
            field.clear()
            field.update(typed, **({"title": title} if title else {}))
    return schema


def _message_name(event_type: str) -> str:
    return event_type


def document() -> dict[str, Any]:
    """The AsyncAPI document as plain data (what ``contracts/asyncapi.yaml`` holds)."""
    from ledger.relay import PARTITIONS, topic_name

    types = sorted(wire.EVENT_TYPES)
    envelope = CloudEvent.model_json_schema()
    envelope["title"] = "CloudEvent"
    envelope["description"] = (
        "CloudEvents 1.0, structured mode: the whole message value is this JSON object. "
        "id = <aggregate uuid>/<version> (the same on every re-publication: drop duplicates by id); "
        "time = recorded; effectiveon = the date it takes effect; logposition = position in the ledger's log; "
        "causationid = the command id; citation = the article applied (e.g. 唐山 第十三条（二）) where the event cites one; "
        "derived = true for a sanction the rule engine derived from counted facts; partitionkey = the message key."
    )
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEvent": envelope}
    for event_type in types:
        aggregate = event_type.split(".", 1)[0]
        schemas[event_type] = typed_schema(event_type)
        messages[_message_name(event_type)] = {
            "name": event_type,
            "title": event_type,
            "contentType": CONTENT_TYPE,
            "headers": {
                "type": "object",
                "properties": {"content-type": {"type": "string", "const": CONTENT_TYPE}},
                "required": ["content-type"],
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "data": {"$ref": f"#/components/schemas/{event_type}"},
                        },
                    },
                ]
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": KEYS[aggregate]}, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
    refs = [{"$ref": f"#/channels/{CHANNEL}/messages/{_message_name(t)}"} for t in types]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Compliance ledger events",
            "version": f"{wire.FORMAT_VERSION}.0.0",
            "description": (
                "Every event the ledger records, in log order per provider. One topic per contract version; "
                "a message's key is the provider whose standing the event bears on, so each provider's events "
                "(with those of its projects, complaints and appeals) are ordered in one partition. "
                "At least once: after a relay crash a message may come again with the same id; never a gap."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "scripts/kafka-start.sh"}},
        "channels": {
            CHANNEL: {
                "address": topic_name(),
                "description": f"All ledger events, contract version {wire.FORMAT_VERSION}.",
                "messages": {_message_name(t): {"$ref": f"#/components/messages/{_message_name(t)}"} for t in types},
                "bindings": {"kafka": {"topic": topic_name(), "partitions": PARTITIONS, "replicas": 1, "bindingVersion": KAFKA_BINDING_VERSION}},
            }
        },
        "operations": {
            "publishLedgerEvents": {
                "action": "send",
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "summary": "ledger relay: publishes the log, idempotent producer, acks=all.",
                "messages": refs,
            }
        },
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    header = "# Generated by `ledger contract --write` from the event classes (ledger/asyncapi.py): do not edit.\n"
    return header + yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=120)


def write(path: Path = DOCUMENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path
