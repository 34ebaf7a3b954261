"""Safe retries from flaky venue Wi-Fi: an Idempotency-Key makes a repeated write return the
first answer and produce one event; a failed produce leaves no idempotency record, and its 503
names the key whose retry reuses the same ids."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from schemas.events import Envelope
from services.gateway.publisher import PublishUnavailable
from tests.conftest import free_port
from tests.factories import offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra
MARKET = "condiments"


def _offer(supplier: str, price: int = 40_000) -> dict:
    return offer_body(
        "2",
        "tấn",
        category=MARKET,
        price=price,
        supplier_id=supplier,
        product={"name": "Nước mắm Cát Hải", "category": MARKET},
    )


async def _read_orders(settings: Settings) -> list[dict]:
    """Every event on the orders topic now (earliest offset up to the end offsets)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(settings.topics.orders, p) for p in range(settings.topic_partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        events = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for records in (await consumer.getmany(*partitions, timeout_ms=1000)).values():
                events.extend(json.loads(r.value) for r in records)
        return events
    finally:
        await consumer.stop()


def _offer_events(settings: Settings, supplier: str) -> list[dict]:
    events = asyncio.run(asyncio.wait_for(_read_orders(settings), 60))
    return [e for e in events if (e.get("offer") or {}).get("supplier_id") == supplier]


def test_same_key_same_body_returns_the_first_answer_and_one_event(api, services, mongo):
    supplier, key = f"htx-cat-hai-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    first = api.post("/v1/offers", json=_offer(supplier), headers={"Idempotency-Key": key})
    again = api.post("/v1/offers", json=_offer(supplier), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"]

    events = _offer_events(services.settings, supplier)
    assert [e["event_id"] for e in events] == [first.json()["event_id"]]
    offer_id = first.json()["id"]
    eventually(lambda: mongo.offers.find_one({"_id": offer_id}), what="the offer recorded")
    assert mongo.offers.count_documents({"supplier_id": supplier}) == 1


def test_same_key_with_a_different_body_is_a_conflict(api, services):
    supplier, key = f"htx-cat-hai-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    first = api.post("/v1/offers", json=_offer(supplier), headers={"Idempotency-Key": key})
    assert first.status_code == 202
    other = api.post(
        "/v1/offers", json=_offer(supplier, price=41_000), headers={"Idempotency-Key": key}
    )
    assert other.status_code == 409
    problem = other.json()
    assert problem["type"] == "urn:ketnoi:problem:idempotency-key-reused"
    assert key in problem["detail"]
    assert [e["offer"]["unit_price_vnd"] for e in _offer_events(services.settings, supplier)] == [
        40_000
    ]


def test_concurrent_duplicates_produce_one_event(services, admin_key):
    supplier, key = f"htx-cat-hai-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {admin_key}", "Idempotency-Key": key}
        async with httpx.AsyncClient(
            base_url=services.settings.gateway_url, timeout=10, headers=headers
        ) as client:
            return await asyncio.gather(
                *[client.post("/v1/offers", json=_offer(supplier)) for _ in range(6)]
            )

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 409} and 202 in statuses, statuses
    assert len({r.text for r in responses if r.status_code == 202}) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["type"] == "urn:ketnoi:problem:idempotency-in-progress"
        assert refused.headers["Retry-After"] == "1"
    assert len(_offer_events(services.settings, supplier)) == 1


def test_keys_are_scoped_to_the_organization(services, issue_key, client_for):
    key = str(uuid.uuid4())
    ids = []
    for _ in range(2):
        supplier = f"htx-cat-hai-{uuid.uuid4().hex[:6]}"
        client = client_for(issue_key(supplier, "supplier"))
        response = client.post(
            "/v1/offers", json=_offer(supplier), headers={"Idempotency-Key": key}
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    assert ids[0] != ids[1]


class FlakyPublisher:
    """Fails the first ``failures`` publishes (as a Kafka timeout would), then acknowledges."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[list[Envelope]] = []
        self.published: list[Envelope] = []

    @property
    def connected(self) -> bool:
        return True

    async def publish_many(self, items: Sequence[tuple[str, Envelope]]) -> None:
        events = [event for _, event in items]
        self.attempts.append(events)
        if len(self.attempts) <= self.failures:
            raise PublishUnavailable("Kafka did not acknowledge the event(s): timeout.")
        self.published.extend(events)


async def test_a_failed_produce_frees_the_key_and_the_retry_reuses_the_ids(
    in_process, issue_key, mongo
):
    publisher = FlakyPublisher(failures=1)
    supplier, key = f"htx-cat-hai-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {issue_key(supplier, 'supplier')}", "Idempotency-Key": key}
    async with in_process(publisher) as client:
        failed = await client.post("/v1/offers", json=_offer(supplier), headers=headers)
        assert failed.status_code == 503
        assert failed.headers["content-type"] == "application/problem+json"
        assert int(failed.headers["Retry-After"]) > 0
        assert failed.json()["type"] == "urn:ketnoi:problem:event-log-unavailable"
        assert failed.json()["outcome"] == "unknown" and failed.headers["Idempotency-Key"] == key
        assert mongo.idempotency.count_documents({"key": key}) == 0  # nothing half-written

        retried = await client.post("/v1/offers", json=_offer(supplier), headers=headers)
        assert retried.status_code == 202, retried.text
        replayed = await client.post("/v1/offers", json=_offer(supplier), headers=headers)
        assert replayed.json() == retried.json()

    assert [str(e.event_id) for e in publisher.published] == [retried.json()["event_id"]]
    # The failed attempt carried the same ids: had Kafka kept it, consumers apply it once.
    (lost,) = publisher.attempts[0]
    assert str(lost.event_id) == retried.json()["event_id"]
    assert lost.offer.offer_id == retried.json()["id"]
    assert failed.json()["event_ids"] == [retried.json()["event_id"]]
    assert failed.json()["created"] == [{"kind": "offer", "id": retried.json()["id"]}]
    record = mongo.idempotency.find_one({"key": key})
    assert record["state"] == "done" and record["status"] == 202


def test_unreachable_kafka_is_503_with_retry_after_and_reads_still_work(infra, admin_key, mongo):
    """A gateway whose broker address answers nothing: it starts, says it is not ready,
    answers writes 503 with Retry-After and keeps no trace of them."""
    settings = Settings(
        **{
            **infra.model_dump(),
            "kafka_bootstrap": f"127.0.0.1:{free_port()}",
            "gateway_port": free_port(),
        }
    )
    group = ServiceGroup(settings, infra.home / "test-logs" / "gateway-no-kafka")
    group.start("gateway")
    try:
        with httpx.Client(
            base_url=settings.gateway_url,
            timeout=20,
            headers={"Authorization": f"Bearer {admin_key}"},
        ) as client:

            def alive() -> bool:
                group.raise_if_exited()
                try:
                    return client.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            eventually(alive, what="the gateway without Kafka to start")
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["store"] == "ok"
            assert ready.json()["checks"]["kafka"] != "ok"

            key = str(uuid.uuid4())
            supplier = f"htx-cat-hai-{uuid.uuid4().hex[:6]}"
            response = client.post(
                "/v1/offers", json=_offer(supplier), headers={"Idempotency-Key": key}
            )
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            assert "Kafka" in response.json()["detail"]
            assert response.json()["outcome"] == "not-sent"  # never connected: truly nothing
            assert response.headers["Idempotency-Key"] == key
            assert mongo.idempotency.count_documents({"key": key}) == 0
            assert client.get("/v1/offers", params={"supplier_id": supplier}).status_code == 200
    finally:
        group.stop()


def test_a_bulk_answer_replays_whole_from_its_compact_record(api, mongo):
    """The record keeps accepted items as runs of indexes; the replay is the same answer."""
    key = f"catalogue-{uuid.uuid4().hex}"
    supplier = f"htx-bulk-{uuid.uuid4().hex[:6]}"
    items = [_offer(supplier, price=40_000 + i) for i in range(40)]
    items[5]["quantity"] = {"amount": "1", "unit": "hôpp"}  # refused: kept as it was
    first = api.post("/v1/offers:bulk", json={"items": items}, headers={"Idempotency-Key": key})
    again = api.post("/v1/offers:bulk", json={"items": items}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["accepted"] == 39
    [record] = list(mongo["idempotency"].find({"key": key}))
    assert len(json.dumps(record["body"], default=str)) < 1500  # not 39 full results
