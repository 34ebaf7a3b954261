"""Drive the real matcher worker on the real broker and compare with an in-process reference.

The reference runs the same engine through DurableBooks on a dict; the engine is deterministic
and markets are independent, so a correct worker must emit exactly the reference's outputs
(possibly some twice, byte-identical), whatever crashes and rebalances happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.simulator import events as scenario_events
from ketnoi.settings import Settings
from schemas import events as ev
from schemas.admission import replay_timestamp_ms
from services.matcher.durable import DurableBooks
from services.matcher.worker import match_config


def reference(settings: Settings, stream: list[ev.AnyEvent]) -> dict[str, bytes]:
    """event_id -> value of every output the uninterrupted matcher emits."""
    books = DurableBooks({}, match_config(settings))
    out: dict[str, bytes] = {}
    for offset, event in enumerate(stream):
        for output in books.process(0, offset, event):
            out[str(ev.parse_event(output.value).event_id)] = output.value
    for market in books.markets():
        books.book(market).check_invariants()
    return out


def stream_with_decisions(settings: Settings, count: int, seed: int = 7) -> list[ev.AnyEvent]:
    """Scenario orders, then both sides accept some proposals and decline others, then a tick
    a day later lets the rest expire (so releases, re-matching and expiry are all exercised)."""
    base = list(scenario_events(seed=seed, count=count))
    proposals = [
        ev.parse_event(value)
        for value in reference(settings, base).values()
        if b'"match.proposed"' in value
    ]
    proposals.sort(key=lambda e: e.match.match_id)
    last = max(e.occurred_at for e in base)
    decisions: list[ev.AnyEvent] = []
    for i, proposal in enumerate(proposals):
        m = proposal.match
        env = {"occurred_at": last + timedelta(minutes=1 + i % 30), "source": "test"}
        if i % 3 == 0:
            for party, org in (("buyer", m.buyer_id), ("supplier", m.supplier_id)):
                decisions.append(ev.MatchAccepted(
                    event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{m.match_id}/{party}/accept"),
                    match_id=m.match_id, category=m.category, party=party, org_id=org, **env,
                ))  # fmt: skip
        elif i % 5 == 0:
            decisions.append(ev.MatchDeclined(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{m.match_id}/decline"),
                match_id=m.match_id, category=m.category, party="buyer", org_id=m.buyer_id,
                reason="giá chưa phù hợp", **env,
            ))  # fmt: skip
    decisions.sort(key=lambda e: e.occurred_at)
    markets = sorted({e.market_key for e in base})
    ticks = [
        ev.MarketTick(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tick/{m}"),
            category=m,
            occurred_at=last + timedelta(days=2),
            source="test",
        )
        for m in markets
    ]
    return base + decisions + ticks


async def produce(settings: Settings, stream: list[ev.AnyEvent]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
        linger_ms=5,
    )  # fmt: skip
    await producer.start()
    try:
        for event in stream:
            await producer.send(settings.topics.orders, key=event.kafka_key.encode(),
                                value=event.model_dump_json().encode(),
                                timestamp_ms=replay_timestamp_ms(event))  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()


async def read_outputs(settings: Settings, idle_ms: int = 1500) -> list[bytes]:
    """Every message on the matches topic so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        tps = _partitions(settings)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        values: list[bytes] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            for records in batch.values():
                values += [r.value for r in records]
        return values
    finally:
        await _stop(consumer)


def _partitions(settings: Settings) -> list[TopicPartition]:
    # The project creates the topic with this count (metadata lookups of unsubscribed topics
    # are not reliable in aiokafka).
    return [TopicPartition(settings.topics.matches, p) for p in range(settings.topic_partitions)]


async def _stop(consumer: AIOKafkaConsumer) -> None:
    # aiokafka 0.14 may raise CancelledError from its own cancelled task when a group-less
    # consumer stops right after starting; the consumer is closed either way.
    with contextlib.suppress(asyncio.CancelledError):
        await consumer.stop()


def output_count(settings: Settings) -> int:
    async def count() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        await consumer.start()
        try:
            return sum((await consumer.end_offsets(_partitions(settings))).values())
        finally:
            await _stop(consumer)

    return asyncio.run(count())


def all_emitted(settings: Settings, expected: dict[str, bytes]) -> bool:
    """True once every expected output id is on the matches topic (duplicates do not count)."""
    if output_count(settings) < len(expected):
        return False
    values = asyncio.run(read_outputs(settings))
    return expected.keys() <= {str(ev.parse_event(v).event_id) for v in values}


def compare(expected: dict[str, bytes], values: list[bytes]) -> Counter:
    """Assert the worker's outputs equal the reference; returns how often each id was seen."""
    seen: Counter = Counter()
    for value in values:
        event_id = str(ev.parse_event(value).event_id)
        assert expected.get(event_id) == value, f"output {event_id} differs from the reference"
        seen[event_id] += 1
    missing = expected.keys() - seen.keys()
    assert not missing, f"{len(missing)} outputs never emitted, e.g. {sorted(missing)[:3]}"
    proposals = [ev.parse_event(v) for v in expected.values() if b'"match.proposed"' in v]
    assert len({p.match.match_id for p in proposals}) == len(proposals), "a match id twice"
    return seen
