"""Faust worker: one agent per partition feeds offers and demands of a market to its book."""

from __future__ import annotations

import logging

import faust
from faust.types import EventT

from ketnoi.settings import Settings
from schemas.events import ORDERS, AnyEvent
from services.common.faust_app import fail_stop, make_app, raw_topic, run_worker
from services.common.intake import parse_or_dead_letter
from services.common.topics import ensure_topics
from services.matcher.core import MarketBook
from services.matcher.events import apply, outcome_event

log = logging.getLogger("ketnoi.matcher")


def belongs_on_orders(parsed: AnyEvent, event: EventT) -> None:
    """Only orders-topic events, keyed by their market, may change the book."""
    if parsed.TOPIC != ORDERS:
        raise ValueError(f"event type {parsed.type!r} does not belong on {event.message.topic}")
    if event.key is None or event.key.decode() != parsed.market_key:
        raise ValueError(f"Kafka key {event.key!r} is not the market key {parsed.market_key!r}")


def build(settings: Settings) -> faust.App:
    app = make_app("matcher", settings)
    names = settings.topics
    orders = raw_topic(app, names.orders)
    matches = raw_topic(app, names.matches)
    dead_letter = raw_topic(app, names.dead_letter)
    # Keyed by market (the Kafka key of offers and demands), so a table partition is
    # co-located with the stream partition that changes it: one writer per market.
    books = app.Table("books", default=None, partitions=settings.topic_partitions)

    @app.task
    async def declare_topics() -> None:
        await ensure_topics(settings)

    @app.agent(orders)
    async def match(stream: faust.StreamT) -> None:
        async for event in stream.events():
            parsed = await parse_or_dead_letter(event, dead_letter, "matcher", log,
                                                check=belongs_on_orders)  # fmt: skip
            if parsed is None:
                continue
            try:
                market = parsed.market_key
                book = MarketBook.from_state(books.get(market))
                outcomes = apply(book, parsed)
                books[market] = book.to_state()
                for outcome in outcomes:
                    out = outcome_event(outcome, parsed)
                    await matches.send(key=market.encode(), value=out.model_dump_json().encode())
            except Exception as exc:
                fail_stop(log, "matcher", exc)
            if outcomes:
                log.info("%s %s -> %d outcome(s)", parsed.type, market, len(outcomes))

    return app


def run(settings: Settings) -> None:
    run_worker(build(settings), settings)
