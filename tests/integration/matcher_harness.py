"""Drive the real matcher worker on the real broker and compare with an in-process reference.

The reference runs the same engine through DurableBooks on a dict; the engine is deterministic
and markets are independent, so a correct worker must emit exactly the reference's outputs
(possibly some twice, byte-identical), whatever crashes and rebalances happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.simulator import events as scenario_events
from ketnoi.settings import Settings
from schemas import events as ev
from schemas.admission import replay_timestamp_ms
from services.matcher.durable import DurableBooks
from services.matcher.worker import match_config


def reference(settings: Settings, stream: list[ev.AnyEvent]) -> dict[str, bytes]:
    """event_id -> value of every output the uninterrupted matcher emits."""
    return by_id(outputs_per_event(settings, stream))


def by_id(per_event: list[list[bytes]]) -> dict[str, bytes]:
    """``outputs_per_event``'s values by event id, in the order they were emitted."""
    return {str(ev.parse_event(value).event_id): value for values in per_event for value in values}


class Stream(list[ev.AnyEvent]):
    """A stream made by ``stream_with_decisions``, with the outputs its reference run emitted
    on the way (of the same matcher settings): computing them again would cost the test as
    much CPU as the worker it checks (about 1 ms an event)."""

    def __init__(self, events: list[ev.AnyEvent], settings: Settings, per_event: list) -> None:
        super().__init__(events)
        self.config = match_config(settings)
        # Kept apart from the list: a caller editing its lists edits no kept output, and an
        # edited stream (no longer these events) is run afresh.
        self.per_event = tuple(tuple(values) for values in per_event)
        self.events = tuple(events)

    def kept(self) -> list[list[bytes]] | None:
        """The kept outputs, or None once the stream no longer holds the events they are of."""
        if len(self) != len(self.events) or not all(map(operator.is_, self, self.events)):
            return None
        return [list(values) for values in self.per_event]


def outputs_per_event(settings: Settings, stream: list[ev.AnyEvent]) -> list[list[bytes]]:
    """Per event of ``stream``, the values of the outputs the uninterrupted matcher emits."""
    if isinstance(stream, Stream) and stream.config == match_config(settings):
        kept = stream.kept()
        if kept is not None:
            return kept
    return _Reference(settings).run(stream)


class _Reference:
    """The uninterrupted matcher in this process, fed one event at a time, and resumable."""

    def __init__(self, settings: Settings) -> None:
        self.books = DurableBooks({}, match_config(settings))
        self.offset = 0

    def run(self, events: list[ev.AnyEvent]) -> list[list[bytes]]:
        """The outputs of each of ``events``, taken after everything run before."""
        out = []
        for event in events:
            out.append([output.value for output in self.books.process(0, self.offset, event)])
            self.offset += 1
        for market in self.books.markets():
            self.books.book(market).check_invariants()
        return out


def stream_with_decisions(
    settings: Settings, count: int, seed: int = 7, rounds: bool = False
) -> Stream:
    """Scenario orders, then both sides accept some proposals and decline others, then a tick
    a day later lets the rest expire (so releases, re-matching and expiry are all exercised).
    ``rounds``: most orders are cleared in rounds (``in_rounds``), and the last ticks close a
    round too, so what declines and expiries gave back is allocated again."""
    base = list(scenario_events(seed=seed, count=count))
    if rounds:
        base = in_rounds(base, seed)
    run = _Reference(settings)
    per_event = run.run(base)
    proposals = [
        ev.parse_event(value) for value in by_id(per_event).values() if b'"match.proposed"' in value
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
            closes_round=rounds,
        )
        for m in markets
    ]
    rest = decisions + ticks
    return Stream(base + rest, settings, per_event + run.run(rest))


ROUND_EVERY = 40
"""A market's orders between two of its round ticks in ``in_rounds``."""


def in_rounds(base: list[ev.AnyEvent], seed: int) -> list[ev.AnyEvent]:
    """``base`` with two orders in three cleared in rounds, a third of those in the pool of a
    session of their market (``session_pool``), and after every ROUND_EVERY orders of a market
    a tick closing its rounds: each third tick only the session's pool, the others every lane
    of the market (the session's too)."""
    rng = random.Random(seed)
    out: list[ev.AnyEvent] = []
    orders: Counter[str] = Counter()
    for event in base:
        if isinstance(event, ev.OfferPublished | ev.DemandPosted) and rng.random() < 2 / 3:
            market = event.market_key
            pool = session_pool(market) if rng.random() < 1 / 3 else None
            field = "offer" if isinstance(event, ev.OfferPublished) else "demand"
            order = getattr(event, field).model_copy(update={"clearing": "rounds", "pool": pool})
            event = event.model_copy(update={field: order})
        out.append(event)
        market = event.market_key
        orders[market] += 1
        if orders[market] % ROUND_EVERY == 0:
            n = orders[market] // ROUND_EVERY
            out.append(ev.MarketTick(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"round/{market}/{n}"), category=market,
                occurred_at=event.occurred_at, source="test", closes_round=True,
                round_pool=session_pool(market) if n % 3 == 0 else None,
            ))  # fmt: skip
    return out


def session_pool(market: str) -> str:
    """The pool of ``in_rounds``' session-scoped session of ``market``."""
    return f"phien-{market}"


def round_proposals(stream: list[ev.AnyEvent], per_event: list[list[bytes]]) -> Counter[str]:
    """Proposals made by ticks closing a round, counted by the lane cleared ("market" or
    "session")."""
    made: Counter[str] = Counter()
    for event, values in zip(stream, per_event, strict=True):
        if isinstance(event, ev.MarketTick) and event.closes_round:
            proposed = sum(b'"match.proposed"' in value for value in values)
            made["session" if event.round_pool else "market"] += proposed
    return made


def round_bursts(stream: list[ev.AnyEvent], per_event: list[list[bytes]]) -> list[range]:
    """Where the outputs of each tick closing a round lie among all outputs (``by_id``'s
    order), for the ticks that emitted any."""
    bursts, at = [], 0
    for event, values in zip(stream, per_event, strict=True):
        if isinstance(event, ev.MarketTick) and event.closes_round and values:
            bursts.append(range(at, at + len(values)))
        at += len(values)
    return bursts


def assert_never_over_promised(stream: list[ev.AnyEvent], per_event: list[list[bytes]]) -> None:
    """After every event, each offer's pending and confirmed kilograms are at most what it
    offers (its latest revision's quantity)."""
    offered: dict[str, tuple[int, Decimal]] = {}  # offer id -> (revision, kg)
    live: dict[str, tuple[str, Decimal]] = {}  # match id -> (offer id, kg): pending, confirmed
    promised: dict[str, Decimal] = {}  # offer id -> kg
    for offset, (event, values) in enumerate(zip(stream, per_event, strict=True)):
        touched: set[str] = set()
        if isinstance(event, ev.OfferPublished | ev.OfferUpdated):
            o = event.offer
            if o.revision > offered.get(o.offer_id, (0, Decimal(0)))[0]:
                offered[o.offer_id] = (o.revision, o.quantity_kg)
                touched.add(o.offer_id)
        for value in values:
            out = ev.parse_event(value)
            if isinstance(out, ev.MatchProposed):
                m = out.match
                live[m.match_id] = (m.offer_id, m.quantity_kg)
                promised[m.offer_id] = promised.get(m.offer_id, Decimal(0)) + m.quantity_kg
                touched.add(m.offer_id)
            elif isinstance(out, ev.MatchReleased | ev.MatchExpired):
                offer_id, kg = live.pop(out.match_id)
                promised[offer_id] -= kg
        for offer_id in touched:
            kg = promised.get(offer_id, Decimal(0))
            assert kg <= offered[offer_id][1], f"{offer_id}: {kg} kg promised at event {offset}"


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
    async with _matches_from_start(settings) as (consumer, tps):
        end = await consumer.end_offsets(tps)
        values: list[bytes] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            for records in batch.values():
                values += [r.value for r in records]
        return values


def await_output(settings: Settings, value: bytes, what: str, timeout: float = 120) -> None:
    """Follow the matches topic from its start until ``value`` is on it."""

    async def follow() -> None:
        async with _matches_from_start(settings) as (consumer, _):
            deadline = asyncio.get_running_loop().time() + timeout
            while asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=100)
                if any(r.value == value for records in batch.values() for r in records):
                    return
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    asyncio.run(follow())


@contextlib.asynccontextmanager
async def _matches_from_start(
    settings: Settings,
) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A consumer (of no group) of every partition of the matches topic, at its start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        tps = _partitions(settings)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        yield consumer, tps
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
