"""Honest acknowledgements: with the broker killed mid-request the gateway cannot know whether
Kafka will still record the event (aiokafka resends a buffered batch when the broker returns),
so its 503 says the outcome is unknown and names the Idempotency-Key whose retry converges on
the same ids. An event Kafka would refuse on every retry is a 413, never a 503.

The broker killed here is a private one (its own home, ports and data): other tests keep the
shared broker. The store is the shared one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from ketnoi.infra.kafka import LocalKafka
from ketnoi.infra.processes import wait_until
from ketnoi.settings import Settings
from tests.conftest import free_port
from tests.e2e.conftest import InProcess
from tests.factories import offer_body

pytestmark = pytest.mark.infra
MARKET = "condiments"
LIMIT = 10_000  # bytes per event: a normal offer is about 1 kB


def _offer(supplier: str, price: int = 40_000, **overrides: Any) -> dict:
    return offer_body(
        "2",
        "tấn",
        category=MARKET,
        price=price,
        supplier_id=supplier,
        product={"name": "Nước mắm Cát Hải", "category": MARKET},
        **overrides,
    )


def _big_offer(supplier: str) -> dict:
    """Schema-valid (100 excluded buyers of 110 characters), but an event over ``LIMIT``."""
    return _offer(supplier, excluded_buyers=[f"st-{i:03d}-" + "x" * 103 for i in range(100)])


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[LocalKafka]:
    """A single-node broker of this test only, on free ports, started and stopped here."""
    kafka_port, controller_port = free_port(), free_port()
    assert kafka_port != controller_port
    kafka = LocalKafka(
        Settings(
            home=tmp_path,
            kafka_bootstrap=f"127.0.0.1:{kafka_port}",
            kafka_controller_port=controller_port,
            topic_partitions=1,
        )
    )
    kafka.ensure_jars()
    kafka.ensure_formatted()
    kafka.start()
    try:
        kafka.wait_ready(60)
        yield kafka
    finally:
        kafka.stop()


def _kill(kafka: LocalKafka) -> None:
    """kill -9 the broker (a crash: no controlled shutdown, no goodbye to clients)."""
    pid = kafka.process.pid()
    assert pid is not None, "the private broker is not running"
    os.killpg(pid, signal.SIGKILL)
    assert wait_until(lambda: kafka.process.pid() is None, 10), "the broker survived kill -9"


def _restart(kafka: LocalKafka) -> None:
    kafka.start()
    kafka.wait_ready(60)


async def _ready(client: httpx.AsyncClient, timeout: float = 30.0) -> None:
    """Poll /readyz until the gateway's producer is connected (deadline, no fixed wait)."""
    deadline = time.monotonic() + timeout
    while (await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "the gateway did not connect to the private broker"
        await asyncio.sleep(0.1)


async def _retry_until_accepted(
    client: httpx.AsyncClient, body: dict, headers: dict, failed: dict, timeout: float = 40.0
) -> httpx.Response:
    """Retry with the key the 503 named while the broker comes back; every 503 on the way must
    name the same ids as the first one."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.post("/v1/offers", json=body, headers=headers)
        if response.status_code == 202:
            return response
        assert response.status_code == 503, response.text
        again = response.json()
        assert (again["created"], again["event_ids"]) == (failed["created"], failed["event_ids"])
        assert time.monotonic() < deadline, f"no 202 within {timeout:.0f}s: {response.text}"
        await asyncio.sleep(0.2)


def _assert_unknown_outcome(response: httpx.Response, key: str | None = None) -> dict:
    """The 503 of a write whose outcome is unknown: the key, the ids, the hint."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    problem = response.json()
    assert problem["type"] == "urn:ketnoi:problem:event-log-unavailable"
    assert problem["outcome"] == "unknown"
    assert "outcome is unknown" in problem["detail"]
    assert "othing was recorded" not in problem["detail"]
    returned = response.headers["Idempotency-Key"]
    assert problem["idempotency_key"] == returned
    assert problem["idempotency_key_assigned"] is (key is None)
    if key is not None:
        assert returned == key
    (created,) = problem["created"]
    (event_id,) = problem["event_ids"]
    assert created["kind"] == "offer"
    assert problem["hint"] == (
        f"retry the same request with header Idempotency-Key: {returned}; the retry converges "
        f"on the same offer {created['id']} (event {event_id})"
    )
    return problem


async def _orders(bootstrap: str, topic: str, timeout: float = 30.0) -> list[dict]:
    """Every record of the (one-partition) orders topic, from the first offset to the end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        events: list[dict] = []
        deadline = time.monotonic() + timeout
        while await consumer.position(partition) < end:
            assert time.monotonic() < deadline, "could not read the orders topic to its end"
            for records in (await consumer.getmany(partition, timeout_ms=1000)).values():
                events.extend(json.loads(r.value) for r in records)
        return events
    finally:
        await consumer.stop()


async def test_a_write_503d_while_the_broker_is_down_converges_on_retry(
    infra: Settings, in_process: InProcess, issue_key, private_kafka: LocalKafka
):
    settings = private_kafka.settings
    supplier = f"htx-cat-hai-{uuid.uuid4().hex[:6]}"
    auth = {"Authorization": f"Bearer {issue_key(supplier, 'supplier')}"}
    own_key = str(uuid.uuid4())
    unkeyed_body, keyed_body = _offer(supplier, 41_000), _offer(supplier, 42_000)
    async with in_process(
        kafka_bootstrap=settings.kafka_bootstrap,
        topic_partitions=1,
        publish_timeout_seconds=2.0,
        max_event_bytes=LIMIT,
    ) as client:
        await _ready(client)
        first = await client.post("/v1/offers", json=_offer(supplier), headers=auth)
        assert first.status_code == 202, first.text

        await asyncio.to_thread(_kill, private_kafka)
        unkeyed = _assert_unknown_outcome(
            await client.post("/v1/offers", json=unkeyed_body, headers=auth)
        )
        keyed_headers = {**auth, "Idempotency-Key": own_key}
        keyed = _assert_unknown_outcome(
            await client.post("/v1/offers", json=keyed_body, headers=keyed_headers), own_key
        )
        # Too large for Kafka: refused at once, also while the broker is down.
        too_big = await client.post("/v1/offers", json=_big_offer(supplier), headers=auth)
        assert too_big.status_code == 413, too_big.text
        assert too_big.json()["limit_bytes"] == LIMIT

        await asyncio.to_thread(_restart, private_kafka)
        retried = {}
        for body, problem in ((unkeyed_body, unkeyed), (keyed_body, keyed)):
            headers = {**auth, "Idempotency-Key": problem["idempotency_key"]}
            accepted = await _retry_until_accepted(client, body, headers, problem)
            assert accepted.json()["id"] == problem["created"][0]["id"]
            assert accepted.json()["event_id"] == problem["event_ids"][0]
            retried[accepted.json()["id"]] = accepted.json()["event_id"]

    events = await _orders(settings.kafka_bootstrap, infra.topics.orders)
    published: dict[str, list[str]] = defaultdict(list)
    for event in events:
        if event["type"] == "offer.published":
            published[event["offer"]["offer_id"]].append(event["event_id"])
    # Each write is one offer id with one event id, however many copies Kafka kept (a ghost
    # of a 503'd attempt is the same event), and no write made a second offer.
    expected = {first.json()["id"]: first.json()["event_id"], **retried}
    assert set(published) == set(expected), published
    for offer_id, event_ids in published.items():
        assert set(event_ids) == {expected[offer_id]}, (offer_id, event_ids)


async def test_an_event_over_the_limit_is_413_not_503(in_process: InProcess, issue_key):
    supplier = f"htx-cat-hai-{uuid.uuid4().hex[:6]}"
    auth = {"Authorization": f"Bearer {issue_key(supplier, 'supplier')}"}
    async with in_process(max_event_bytes=LIMIT) as client:
        await _ready(client)
        refused = await client.post("/v1/offers", json=_big_offer(supplier), headers=auth)
        assert refused.status_code == 413, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "Retry-After" not in refused.headers
        problem = refused.json()
        assert problem["type"] == "urn:ketnoi:problem:event-too-large"
        assert problem["limit_bytes"] == LIMIT and problem["size_bytes"] > LIMIT
        assert problem["largest_field"] == "offer.excluded_buyers"
        assert f"{LIMIT:,}-byte limit" in problem["detail"]
        assert problem["errors"][0]["path"] == "offer.excluded_buyers"

        bulk = {"items": [_offer(supplier), _big_offer(supplier)]}
        refused_bulk = await client.post("/v1/offers:bulk", json=bulk, headers=auth)
        assert refused_bulk.status_code == 413, refused_bulk.text
        assert "(2 of 2 in this request)" in refused_bulk.json()["detail"]

        fine = await client.post("/v1/offers", json=_offer(supplier), headers=auth)
        assert fine.status_code == 202, fine.text
