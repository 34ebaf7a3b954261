"""``ketnoi simulate`` against the real stack: through the gateway into MongoDB, and into Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.simulator import cli
from connectors.simulator.fit import coverage
from connectors.simulator.scenario import events, generate, submission_bodies
from ketnoi.runner import settings_env
from ketnoi.settings import Settings
from schemas.events import (
    DemandCancelled,
    DemandPosted,
    OfferPublished,
    OfferWithdrawn,
    OrganizationRegistered,
)
from tests.support import eventually

pytestmark = pytest.mark.infra


def _servable(**options) -> int:
    """Demands of the stream that one of its offers can serve whole, under every constraint."""
    stream = list(events(**options))
    offers = [e.offer for e in stream if isinstance(e, OfferPublished)]
    demands = [e.demand for e in stream if isinstance(e, DemandPosted)]
    return coverage(offers, demands).whole


def test_simulated_stream_through_the_gateway_is_recorded_and_matched(
    services, mongo, capsys, admin_key
):
    options = {"seed": 20261201, "count": 40, "legacy_share": 0.4}
    bodies = list(submission_bodies(**options))
    suppliers = sorted({b["body"]["supplier_id"] for b in bodies if b["kind"] == "offer"})
    buyers = sorted({b["body"]["buyer_id"] for b in bodies if b["kind"] == "demand"})
    offers = sum(b["kind"] == "offer" for b in bodies)
    demands = len(bodies) - offers
    assert offers and demands and _servable(**options) >= 1  # the stream can match

    argv = ["--to", "gateway", "--gateway-url", services.settings.gateway_url,
            "--seed", str(options["seed"]), "--count", str(options["count"]),
            "--legacy-share", str(options["legacy_share"]),
            "--api-key", admin_key]  # fmt: skip
    try:
        assert cli.main(argv) == 0
        assert f"sent {len(bodies)} events to gateway" in capsys.readouterr().err

        eventually(
            lambda: mongo.offers.count_documents({"supplier_id": {"$in": suppliers}}) == offers,
            what=f"{offers} simulated offers in MongoDB",
        )
        # Every demand gets a decision (matched, or open with a reason) once the matcher saw it.
        eventually(
            lambda: (
                mongo.demands.count_documents(
                    {"buyer_id": {"$in": buyers}, "match_status": {"$exists": True}}
                )
                == demands
            ),
            what=f"a matcher decision on each of {demands} simulated demands",
        )
        demand_ids = [d["_id"] for d in mongo.demands.find({"buyer_id": {"$in": buyers}})]
        assert len(demand_ids) == demands  # each demand recorded once
        eventually(
            lambda: mongo.matches.count_documents({"demand_id": {"$in": demand_ids}}) >= 1,
            what="a match for a simulated demand",
        )
        # Legacy names typed by the simulator were normalised, keeping the old name.
        legacy = mongo.offers.find_one(
            {"supplier_id": {"$in": suppliers}, "origin_province.legacy_name": {"$ne": None}}
        )
        assert legacy is not None, "no offer kept a legacy province name"
        current = {"Quảng Ngãi", "Lâm Đồng", "Bắc Ninh", "Hải Phòng"}
        assert legacy["origin_province"]["name"] in current
    finally:
        asyncio.run(_clear_from_books(services.settings, mongo, suppliers, buyers))


def test_simulated_parties_are_registered_through_the_gateway(services, mongo, capsys, admin_key):
    """``--with-organizations --to gateway`` registers each party (POST /v1/organizations)
    before its first order, instead of refusing as if the endpoint did not exist."""
    options = {"seed": 20261207, "count": 8, "with_organizations": True}
    stream = list(generate(**options))
    orgs = [i.event.organization.org_id for i in stream
            if isinstance(i.event, OrganizationRegistered)]  # fmt: skip
    orders = [i.submission for i in stream if i.submission]
    suppliers = sorted({o["body"]["supplier_id"] for o in orders if o["kind"] == "offer"})
    buyers = sorted({o["body"]["buyer_id"] for o in orders if o["kind"] == "demand"})
    offers = sum(o["kind"] == "offer" for o in orders)
    assert orgs and offers
    argv = ["--to", "gateway", "--gateway-url", services.settings.gateway_url,
            "--seed", str(options["seed"]), "--count", str(options["count"]),
            "--with-organizations", "--api-key", admin_key]  # fmt: skip
    try:
        assert cli.main(argv) == 0
        err = capsys.readouterr().err
        assert f"sent {len(stream)} events to gateway" in err and "skipped" not in err
        assert f"{len(orgs)} organization.registered" in err
        eventually(
            lambda: mongo.organizations.count_documents({"_id": {"$in": orgs}}) == len(orgs),
            what=f"{len(orgs)} simulated organizations recorded",
        )
        eventually(
            lambda: mongo.offers.count_documents({"supplier_id": {"$in": suppliers}}) == offers,
            what=f"{offers} simulated offers in MongoDB",
        )
    finally:
        asyncio.run(_clear_from_books(services.settings, mongo, suppliers, buyers))


async def _clear_from_books(settings: Settings, mongo, suppliers: list, buyers: list) -> None:
    """Withdraw this test's offers and cancel its demands, so the session's shared books are
    as other tests expect them (they assert on what a market holds). Same market keys, so the
    matcher applies these before any later event of those markets."""
    clear: list[OfferWithdrawn | DemandCancelled] = []
    envelope = {"occurred_at": datetime.now(UTC), "source": "test"}
    for doc in mongo.offers.find({"supplier_id": {"$in": suppliers}}):
        category = doc["product"]["category"]
        clear.append(
            OfferWithdrawn(
                event_id=uuid.uuid4(), offer_id=doc["_id"], category=category, **envelope
            )
        )
    for doc in mongo.demands.find({"buyer_id": {"$in": buyers}}):
        category = doc["criteria"]["category"]
        clear.append(
            DemandCancelled(
                event_id=uuid.uuid4(), demand_id=doc["_id"], category=category, **envelope
            )
        )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for event in clear:
            await producer.send_and_wait(settings.topics.orders, key=event.kafka_key.encode(),
                                         value=event.model_dump_json().encode())  # fmt: skip
    finally:
        await producer.stop()


async def _read_topic(settings: Settings, topic: str) -> list:
    """Every record of ``topic`` now, from the earliest offset up to the end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        # The broker's own view: no partition of the topic is left unread.
        assert consumer.partitions_for_topic(topic) == {tp.partition for tp in partitions}
        records = []
        while await _behind(consumer, end):
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return True
    return False


def test_simulated_stream_to_kafka_lands_once_per_event_keyed_by_market(infra, monkeypatch, capsys):
    # Private topics: this is about the Kafka sink, and the session's matcher must not see
    # these orders (other tests assert on the exact state of the shared books).
    # (Built anew: model_copy would keep the cached ``topics`` of the old prefix.)
    settings = Settings(**{**infra.model_dump(), "topic_prefix": f"{infra.topic_prefix}sim."})
    for name, value in settings_env(settings).items():
        if name.startswith("KETNOI_"):
            monkeypatch.setenv(name, value)
    options = {"seed": 1207, "count": 30}
    sent = list(events(**options))
    argv = ["--to", "kafka", "--rate", "100", "--seed", "1207", "--count", "30"]
    assert cli.main(argv) == 0
    assert "sent 30 events to kafka" in capsys.readouterr().err

    records = asyncio.run(asyncio.wait_for(_read_topic(settings, settings.topics.orders), 60))
    expected = {str(e.event_id): e for e in sent}
    ours = [r for r in records if _event_id(r.value) in expected]
    assert Counter(_event_id(r.value) for r in ours) == dict.fromkeys(expected, 1)
    order = {event_id: i for i, event_id in enumerate(expected)}
    by_partition: dict[int, list[int]] = defaultdict(list)
    for record in ours:
        event = expected[_event_id(record.value)]
        assert record.key == event.market_key.encode()
        assert record.value == event.model_dump_json().encode()
        by_partition[record.partition].append(order[str(event.event_id)])
    # One market, one partition, in the order the simulator produced them.
    assert all(seq == sorted(seq) for seq in by_partition.values())


def _event_id(value: bytes) -> str | None:
    try:
        return json.loads(value)["event_id"]
    except (ValueError, KeyError, TypeError):
        return None
