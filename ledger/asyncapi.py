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
        schemas[event_type] = data_schema(event_type)
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
