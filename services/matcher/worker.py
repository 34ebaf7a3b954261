"""Faust worker: a short loop that feeds each market's events to its book and emits outcomes.

Markets are Kafka keys, so one worker owns a market at a time (single writer). The book lives
in a Faust table co-partitioned with the orders topic; DurableBooks makes it crash-consistent.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import faust
from faust.types import EventT

from ketnoi.settings import Settings
from schemas.events import ORDERS, AnyEvent, MarketTick, derived_id, utcnow
from services.common.faust_app import fail_stop, make_app, raw_topic, run_worker
from services.common.intake import parse_or_dead_letter
from services.common.topics import ensure_topics
from services.matcher.durable import DurableBooks
from services.matcher.engine import MatchConfig

log = logging.getLogger("ketnoi.matcher")


def belongs_on_orders(parsed: AnyEvent, event: EventT) -> None:
    """Only orders-topic events, keyed by their market, may change the book."""
    if parsed.TOPIC != ORDERS:
        raise ValueError(f"event type {parsed.type!r} does not belong on {event.message.topic}")
    if event.key is None or event.key.decode() != parsed.market_key:
        raise ValueError(f"Kafka key {event.key!r} is not the market key {parsed.market_key!r}")


def match_config(settings: Settings) -> MatchConfig:
    return MatchConfig(proposal_ttl=timedelta(hours=settings.match_proposal_ttl_hours))


def build(settings: Settings) -> faust.App:
    app = make_app("matcher", settings)
    names = settings.topics
    orders = raw_topic(app, names.orders)
    matches = raw_topic(app, names.matches)
    dead_letter = raw_topic(app, names.dead_letter)
    table = app.Table("book", default=None, partitions=settings.topic_partitions)
    books = DurableBooks(table, match_config(settings))

    @app.task
    async def declare_topics() -> None:
        await ensure_topics(settings)

    @app.on_rebalance_complete.connect
    async def forget_books(app: faust.App, *args: object, **kwargs: object) -> None:
        # Table recovery is done: rebuild books from the table. DurableBooks also detects a
        # rewound table on its own (see _check_fresh), so this is a second line of defence.
        log.info("rebalance complete: cached books dropped")
        books.invalidate()

    @app.agent(orders)
    async def match(stream: faust.StreamT) -> None:
        async for event in stream.events():
            parsed = await parse_or_dead_letter(event, dead_letter, "matcher", log,
                                                check=belongs_on_orders)  # fmt: skip
            if parsed is None:
                continue
            try:
                message = event.message
                outputs = books.process(message.partition, message.offset, parsed)
                for output in outputs:
                    await matches.send(key=output.key, value=output.value)
            except Exception as exc:  # fail-stop keeps the event for redelivery
                fail_stop(log, "matcher", exc)

    @app.timer(interval=settings.match_tick_seconds)
    async def tick() -> None:
        """Let time pass in every market this worker holds, so proposals can expire."""
        now = utcnow()
        for market in books.markets():
            event = MarketTick(
                event_id=uuid.UUID(derived_id("market.tick", market, now.isoformat())),
                occurred_at=now, source="ketnoi-matcher-ticker", category=market,
            )  # fmt: skip
            await orders.send(key=market.encode(), value=event.model_dump_json().encode())

    return app


def run(settings: Settings) -> None:
    run_worker(build(settings), settings)
