"""A malformed event on a topic goes to the dead-letter topic with its reason and raw bytes."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

pytestmark = pytest.mark.infra


async def _produce_then_read_dead_letters(settings, raw: bytes, timeout: float) -> list[dict]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.orders, key=b"coffee", value=raw)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        settings.topics.dead_letter,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        # Both workers read the orders topic, so each must dead-letter the event once.
        while time.monotonic() < deadline and {r["service"] for r in found} != {
            "matcher",
            "recorder",
        }:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    body = json.loads(record.value)
                    if base64.b64decode(body["raw_base64"]) == raw:
                        found.append(body)
    finally:
        await consumer.stop()
    return found


def test_malformed_offer_reaches_the_dead_letter_topic_with_reason(services):
    raw = json.dumps({"type": "offer.published", "event_id": "not-a-uuid"}).encode()
    found = asyncio.run(_produce_then_read_dead_letters(services.settings, raw, timeout=60))
    assert {r["service"] for r in found} == {"matcher", "recorder"}
    for record in found:
        assert record["topic"] == services.settings.topics.orders
        assert "event_id" in record["reason"] and "occurred_at" in record["reason"]
    # The workers carried on after the bad event.
    services.raise_if_exited()
