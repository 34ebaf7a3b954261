"""Published contracts: a JSON Schema per event and an AsyncAPI 3 document for the topics.

Non-Python producers and consumers build against these files; ``ketnoi schemas export``
writes them and a test fails when the committed copies are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.events import (
    EVENT_TYPES,
    MATCHES,
    ORDERS,
    ORGANIZATIONS,
    SCHEMA_VERSION,
    SESSIONS,
    Envelope,
    event_type_name,
)

PUBLISHED_DIR = Path(__file__).resolve().parent / "published"
ASYNCAPI_FILE = "asyncapi.json"

_TOPICS: dict[str, dict[str, str]] = {
    ORDERS: {
        "key": "market key: the product category code (e.g. 'coffee')",
        "description": "Everything that changes a market's open book, in the order it was "
        "accepted: offers, demands, their updates and withdrawals, and the parties' decisions "
        "on proposals. Keyed by market, so one partition holds a market's whole history.",
    },
    MATCHES: {
        "key": "market key: the product category code",
        "description": "What the matcher decided: proposals, confirmations, expiries, and "
        "demands it holds open with the reason.",
    },
    SESSIONS: {
        "key": "session id",
        "description": "Trade-connection sessions created, opened and closed by organizers, "
        "and the organizations registered to take part.",
    },
    ORGANIZATIONS: {
        "key": "organization id",
        "description": "Suppliers, buyers and organizers as they register.",
    },
}


def event_schema(event_type: type[Envelope]) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) of one event, as consumers validate it."""
    schema = event_type.model_json_schema(mode="validation")
    name = event_type_name(event_type)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:ketnoi:event:{name}:v{SCHEMA_VERSION}",
        "x-kafka-topic": event_type.TOPIC,
        **schema,
    }


def asyncapi_document(partitions: int = 6) -> dict[str, Any]:
    """An AsyncAPI 3.0 document: channels (topics) with their key, partitions and messages."""
    _, top = models_json_schema(
        [(cls, "validation") for cls in EVENT_TYPES],
        ref_template="#/components/schemas/{model}",
    )
    schemas = top["$defs"]
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for topic, about in _TOPICS.items():
        channels[topic] = {
            "address": f"{{prefix}}{topic}",
            "description": about["description"],
            "parameters": {"prefix": {"description": "deployment prefix", "default": "ketnoi."}},
            "messages": {},
            "bindings": {"kafka": {"partitions": partitions, "replicas": 1,
                                   "bindingVersion": "0.5.0"}},
        }  # fmt: skip
    for cls in EVENT_TYPES:
        name = event_type_name(cls)
        message_id = name.replace(".", "-")
        messages[message_id] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or name).strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "bindings": {"kafka": {"key": {"type": "string",
                                           "description": _TOPICS[cls.TOPIC]["key"]},
                                   "bindingVersion": "0.5.0"}},
        }  # fmt: skip
        channels[cls.TOPIC]["messages"][message_id] = {
            "$ref": f"#/components/messages/{message_id}"
        }
    operations = {
        f"publish-{topic}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "summary": f"Produce to {topic} (gateway, connectors, matcher)",
        }
        for topic in _TOPICS
    } | {
        f"consume-{topic}": {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{topic}"},
            "summary": f"Consume {topic} (matcher, recorder, monitor)",
        }
        for topic in _TOPICS
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Ketnoi events",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": "Kafka events of Ketnoi (kết nối cung cầu). Within a major version "
            "changes are additive only; consumers are upgraded before producers. Every event "
            "carries an envelope whose event_id is its idempotency key.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "ketnoi infra up",
            },
            "compose": {"host": "kafka:9092", "protocol": "kafka", "description": "docker compose"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def rendered_files() -> dict[str, str]:
    """Relative path -> content of every published file."""
    files = {
        f"v{SCHEMA_VERSION}/{event_type_name(cls)}.schema.json": _dump(event_schema(cls))
        for cls in EVENT_TYPES
    }
    files[ASYNCAPI_FILE] = _dump(asyncapi_document())
    return files


def export(directory: Path = PUBLISHED_DIR) -> list[Path]:
    """Write every published file, removing stale ones; returns the paths written."""
    files = rendered_files()
    written = []
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    for old in directory.rglob("*.json"):
        if str(old.relative_to(directory)) not in files:
            old.unlink()
    return written
