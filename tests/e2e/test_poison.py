"""One bad event never stops a market (issue 11), on the real broker, workers and store.

Every class of poison that once halted a market is refused at the gateway (422, naming the
field) and, written straight to Kafka past the gateway, dead-lettered by both the matcher and
the recorder with its reason, while valid events before and after it are matched exactly as in
a run without it and no worker exits.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import MongoClient

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from schemas import events as ev
from services.matcher.durable import DurableBooks
from services.matcher.worker import match_config
from tests.factories import demand_body, offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra
MARKET = "honey"  # no other test trades honey: this market's outputs are this test's alone
RUN = uuid.uuid4().hex[:8]
PRODUCT = {
    "name": "Mật ong bạc hà Mèo Vạc",
    "category": MARKET,
    "ocop_stars": 4,
    "ocop_rated_on": "2025-03-15",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _offer(n: int, **overrides) -> dict:
    body = offer_body(
        amount="5",
        unit="tấn",
        category=MARKET,
        product=PRODUCT,
        supplier_id=f"htx-ong-{RUN}-{n}",
        **overrides,
    )
    return {
        "type": "offer.published",
        "event_id": str(uuid.uuid4()),
        "source": "test",
        "occurred_at": _now().isoformat(),
        "offer": {**body, "offer_id": f"o-{RUN}-{n}"},
    }


def _demand(n: int, **overrides) -> dict:
    body = demand_body(
        amount="3", unit="tấn", category=MARKET, buyer_id=f"st-{RUN}-{n}", **overrides
    )
    return {
        "type": "demand.posted",
        "event_id": str(uuid.uuid4()),
        "source": "test",
        "occurred_at": _now().isoformat(),
        "demand": {**body, "demand_id": f"d-{RUN}-{n}"},
    }


def _poisons() -> dict[str, tuple[bytes | None, bytes, str]]:
    """class -> (Kafka key, raw value, words the dead-letter reason must contain)."""
    key = MARKET.encode()
    far_rating = _offer(10)
    far_rating["offer"]["product"] = {**PRODUCT, "ocop_rated_on": "9998-01-01"}
    forged = {
        "type": "match.proposed",
        "event_id": str(uuid.uuid4()),
        "source": "test",
        "occurred_at": _now().isoformat(),
        "match": {
            "match_id": f"m-forged-{RUN}",
            "offer_id": f"o-{RUN}-1",
            "demand_id": f"d-{RUN}-1",
            "supplier_id": f"htx-ong-{RUN}-1",
            "buyer_id": f"st-{RUN}-1",
            "category": MARKET,
            "quantity_kg": "3000",
            "unit_price_vnd": 1,
        },
    }
    tick = {
        "type": "market.tick",
        "event_id": str(uuid.uuid4()),
        "source": "test",
        "category": MARKET,
        "occurred_at": "9999-12-31T00:00:00+00:00",
    }
    future, past = _offer(11), _offer(12)
    future["occurred_at"] = (_now() + timedelta(days=3)).isoformat()
    past["occurred_at"] = (_now() - timedelta(days=3)).isoformat()
    oversized = json.dumps({**_offer(13), "padding": "x" * 900_000})
    cases = {
        "rating in year 9998": (key, far_rating, "ocop_rated_on"),
        "window past 2100": (
            key,
            _offer(14, available={"start": "2026-12-01", "end": "9999-12-31"}, lead_time_days=365),
            "available.end",
        ),
        "unknown province object": (
            key,
            _demand(15, delivery_province={"code": "atlantis", "name": "X"}),
            "atlantis",
        ),
        "boolean price": (key, _offer(16, unit_price_vnd=True), "unit_price_vnd"),
        "ships_to over the cap": (key, _offer(17, ships_to=["Hà Nội"] * 150), "ships_to"),
        "tick in year 9999": (key, tick, "occurred_at"),
        "occurred_at 3 days ahead": (key, future, "broker's timestamp"),
        "occurred_at 3 days behind": (key, past, "broker's timestamp"),
        "offer under another market's key": (b"coffee", _offer(18), "Kafka key"),
        "offer without a key": (None, _offer(19), "Kafka key"),
        "forged match.proposed on orders": (key, forged, "belongs on 'matches'"),
    }
    raw = {name: (k, json.dumps(v).encode(), words) for name, (k, v, words) in cases.items()}
    raw["900 KB invalid event"] = (key, oversized.encode(), "padding")
    return raw


async def _produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


async def _read_until(bootstrap: str, topic: str, done, timeout: float) -> list:
    """Records of ``topic`` from the start until ``done(records)`` or the deadline."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=2 << 20,
    )
    await consumer.start()
    records: list = []
    try:
        deadline = time.monotonic() + timeout
        while not done(records) and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records += batch
    finally:
        await consumer.stop()
    return records


def _market_outputs(records: list) -> list[bytes]:
    return [r.value for r in records if r.key == MARKET.encode()]


@pytest.fixture(scope="module")
def private_workers(infra: Settings) -> Iterator[ServiceGroup]:
    """A matcher and a recorder of their own (topics and database): no other test's orders
    can reach this market, whatever categories they trade."""
    settings = infra.model_copy(
        update={"topic_prefix": f"{infra.topic_prefix}poison.", "mongo_db": f"{infra.mongo_db}_p"}
    )
    group = ServiceGroup(settings, infra.home / "test-logs" / f"poison-{RUN}")
    group.start("matcher", "recorder")
    try:
        yield group
    finally:
        group.stop()


def test_poison_events_are_dead_lettered_and_the_market_goes_on(private_workers):
    services = private_workers
    settings = services.settings
    topics = settings.topics
    warm_up, before, after = _demand(0, max_unit_price_vnd=1), _offer(1), _demand(1)
    poisons = _poisons()
    valid = [ev.parse_event(json.dumps(e)) for e in (warm_up, before, after)]
    expected_books = DurableBooks({}, match_config(settings))
    expected = [o.value for i, e in enumerate(valid) for o in expected_books.process(0, i, e)]
    assert any(b'"match.proposed"' in v for v in expected), "the valid pair must match"

    # Both workers are up once the warm-up demand is answered and stored.
    asyncio.run(_produce(settings.kafka_bootstrap, topics.orders,
                         [(MARKET.encode(), json.dumps(warm_up).encode())]))  # fmt: skip
    asyncio.run(_read_until(settings.kafka_bootstrap, topics.matches,
                            lambda rs: len(_market_outputs(rs)) >= 1, timeout=90))  # fmt: skip
    with MongoClient(settings.mongo_url) as client:
        eventually(lambda: client[settings.mongo_db]["demands"].find_one(
            {"_id": f"d-{RUN}-0"}), what="the recorder to store the warm-up demand")  # fmt: skip

    asyncio.run(
        _produce(
            settings.kafka_bootstrap,
            topics.orders,
            [(MARKET.encode(), json.dumps(before).encode())]
            + [(k, v) for k, v, _ in poisons.values()],
        )
    )
    poisoned_at = time.monotonic()
    asyncio.run(
        _produce(
            settings.kafka_bootstrap, topics.orders, [(MARKET.encode(), json.dumps(after).encode())]
        )
    )

    outputs = asyncio.run(
        _read_until(
            settings.kafka_bootstrap,
            topics.matches,
            lambda rs: len(_market_outputs(rs)) >= len(expected),
            timeout=60,
        )
    )
    next_match_s = time.monotonic() - poisoned_at
    assert _market_outputs(outputs) == expected, "the market decided otherwise than without poison"

    wanted = {hashlib.sha256(v).hexdigest(): name for name, (_, v, _) in poisons.items()}

    def all_dead_lettered(records: list) -> bool:
        seen = {
            (json.loads(r.value)["raw_sha256"], json.loads(r.value)["service"]) for r in records
        }
        return all((h, s) in seen for h in wanted for s in ("matcher", "recorder"))

    dead = asyncio.run(
        _read_until(settings.kafka_bootstrap, topics.dead_letter, all_dead_lettered, timeout=60)
    )
    found: dict[tuple[str, str], dict] = {}
    for record in dead:
        body = json.loads(record.value)
        if body["raw_sha256"] in wanted:
            found[wanted[body["raw_sha256"]], body["service"]] = body
    missing = [(n, s) for n in poisons for s in ("matcher", "recorder") if (n, s) not in found]
    assert not missing, f"not dead-lettered: {missing}"
    for (name, service), body in found.items():
        words = poisons[name][2]
        assert words in body["reason"], f"{name} ({service}): {body['reason']!r}"
        assert body["stage"] in ("parse", "placement") and body["topic"] == topics.orders
        assert len(json.dumps(body)) < 512 * 1024  # fits a Kafka message, whatever the event
    big = found["900 KB invalid event", "matcher"]
    assert big["raw_truncated"] and big["raw_size"] > 900_000
    assert len(base64.b64decode(big["raw_base64"])) < big["raw_size"]

    # The forged outcome is not stored (so the API, which reads the store, cannot show it).
    with MongoClient(settings.mongo_url) as client:
        assert client[settings.mongo_db]["matches"].find_one({"_id": f"m-forged-{RUN}"}) is None
        assert client[settings.mongo_db]["offers"].find_one({"_id": f"o-{RUN}-1"}) is not None
    services.raise_if_exited()  # no worker stopped (the test harness restarts none)

    figures = {
        "poison_classes": len(poisons),
        "halted_markets": 0,
        "poison_to_next_match_s": round(next_match_s, 3),
    }
    artifacts = settings.home / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    Path(artifacts / "poison.json").write_text(json.dumps(figures))
    print(f"poison figures: {figures}")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (offer_body(product={**PRODUCT, "ocop_rated_on": "9998-01-01"}), "product.ocop_rated_on"),
        (offer_body(available={"start": "2026-12-01", "end": "9999-12-31"}), "available.end"),
        (offer_body(origin_province={"code": "atlantis", "name": "X"}), "origin_province"),
        (offer_body(unit_price_vnd=True), "unit_price_vnd"),
        (offer_body(ships_to=["Hà Nội"] * 20_000), "ships_to"),
    ],
    ids=["rating-9998", "window-9999", "atlantis", "bool-price", "ships-to-20000"],
)
def test_the_gateway_refuses_what_the_core_cannot_take(api, body, field):
    response = api.post("/v1/offers", json=body)
    assert response.status_code == 422, response.text
    assert field in {e["path"] for e in response.json()["errors"]}


def test_the_gateway_refuses_an_unknown_province_object_in_a_demand(api):
    body = demand_body(delivery_province={"code": "atlantis", "name": "<b>X</b>"})
    response = api.post("/v1/demands", json=body)
    assert response.status_code == 422
    assert "delivery_province" in {e["path"] for e in response.json()["errors"]}
