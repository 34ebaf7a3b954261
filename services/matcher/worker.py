"""Faust worker: a short loop that feeds each market's events to its book and emits outcomes.

Markets are Kafka keys, so one worker owns a market at a time (single writer). The book lives
in a Faust table co-partitioned with the orders topic; DurableBooks makes it crash-consistent.
Events are taken in small batches (at most BATCH_EVENTS, waiting at most BATCH_SECONDS) and
each partition's share of a batch is persisted as one unit: a table write is a changelog
message, and writing per batch instead of per event is most of the worker's speed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import uuid
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

import faust
from faust.stores.memory import Store as MemoryStore
from faust.types import EventT, ProducerT

from ketnoi.settings import Settings
from schemas.events import AnyEvent, MarketTick, derived_id, utcnow
from services.common.faust_app import fail_stop, make_app, raw_topic, run_worker
from services.common.intake import Intake
from services.common.shutdown import STOP
from services.common.topics import ensure_topics
from services.matcher.durable import DurableBooks, Output, continuing, dead_letter_output
from services.matcher.engine import FALLBACK_REASON, IMPLEMENTATION, MatchConfig
from services.matcher.round_clock import RoundClock

log = logging.getLogger("ketnoi.matcher")
_json = json.JSONEncoder(separators=(",", ":")).encode  # what Faust's "json" codec writes

BATCH_EVENTS = 500
"""Most events taken at once; a backlog is worked through in batches of this size."""
BATCH_SECONDS = 0.01
"""Longest wait for a batch to fill: the latency a quiet stream pays for batching."""
PRODUCER_TUNING = {"producer_linger": 0.005, "producer_max_batch_size": 256 * 1024}
"""Each produce request is a socket write the broker answers; with Faust's default linger of 0
the worker sent one for every few messages and spent a fifth of its CPU in those writes. A few
milliseconds of linger puts a batch's changelog writes and outputs in a few requests."""


def match_config(settings: Settings) -> MatchConfig:
    return MatchConfig(proposal_ttl=timedelta(hours=settings.match_proposal_ttl_hours))


def table_mapping(table: faust.Table) -> MutableMapping[str, Any]:
    """The table's contents as a plain dict where the store is Faust's in-memory one (ours,
    see make_app): read and written per record, the store's generic Mapping layers cost more
    than the dict lookups themselves."""
    store = table.data
    return store.data if isinstance(store, MemoryStore) else store


class TableWriter:
    """A batch's table writes: into the table's contents at once, to its changelog by ``flush``.

    ``table[key] = value`` would take the changelog partition from the stream's current event,
    which a batch taken with ``take_events`` does not set in the agent's task, and goes through
    Faust's per-message machinery; here each write is encoded as the table's JSON codec would
    (keys and values are plain JSON) and handed to the producer in order, to the partition of
    the events that made it.
    """

    def __init__(self, table: faust.Table, contents: MutableMapping[str, Any]) -> None:
        if not table.key_serializer == table.value_serializer == "json":
            raise ValueError(f"table {table.name}: TableWriter encodes JSON keys and values only")
        self.table, self.contents = table, contents
        self.pending: list[tuple[int, str, object]] = []

    def __call__(self, partition: int, key: str, value: object) -> None:
        self.contents[key] = value
        self.pending.append((partition, key, value))

    async def flush(self, producer: ProducerT) -> None:
        pending, self.pending = self.pending, []
        topic = self.table.changelog_topic.get_topic_name()
        for partition, key, value in pending:
            await producer.send(topic, _json(key).encode(), _json(value).encode(), partition,
                                None, None)  # fmt: skip


class ShortFullCollections:
    """Keep the garbage collector's full collections short as the books grow.

    A full (generation 2) collection walks every tracked object: with tens of thousands of
    orders in the books and the table, each took 100-480 ms and came every few seconds,
    freeing nothing (measured at 1,000 events/s), a pause every event in flight waits for.
    After each one, ``gc.freeze()`` moves the survivors out of the collector's sight, so the
    next walks only what was allocated since. Frozen objects are still freed when their
    reference count drops; only a reference cycle among them would stay until ``reset``,
    called when a rebalance drops the cached books: it collects everything once (the table
    was just recovered, we are not processing yet) and freezes what is left.
    """

    def __init__(self) -> None:
        self.collected = False
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            self.collected = True

    def after_batch(self) -> None:
        if self.collected:
            self.collected = False
            gc.freeze()

    def reset(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.collected = False


def build(settings: Settings) -> faust.App:
    app = make_app("matcher", settings, **PRODUCER_TUNING)
    names = settings.topics
    orders = raw_topic(app, names.orders)
    matches_name, dead_letter_name = names.matches, names.dead_letter
    dead_letter = raw_topic(app, names.dead_letter)
    intake = Intake("matcher", settings, dead_letter, log)
    table = app.Table("book", default=None, partitions=settings.topic_partitions)
    contents = table_mapping(table)
    writer = TableWriter(table, contents)
    raw_of: dict[tuple[int, int], EventT] = {}  # the batch's events by (partition, offset)

    def poisoned(partition: int, offset: int, parsed: AnyEvent, error: Exception) -> Output:
        """The engine raised on an event: its dead-letter record, with the raw bytes."""
        event = raw_of[partition, offset]
        return dead_letter_output(partition, offset, parsed, error, topic=names.orders,
                                  key=event.key, raw=event.value)  # fmt: skip

    books = DurableBooks(contents, match_config(settings), write=writer, poisoned=poisoned)
    collections = ShortFullCollections()
    expected: dict[int, int] = {}
    """Per partition, the next offset this worker owes its book: the marker's successor after
    each rebalance, then one past the last event taken (admitted or dead-lettered)."""

    @app.task
    async def declare_topics() -> None:
        if FALLBACK_REASON:
            log.warning("matching engine runs from Python source: %s", FALLBACK_REASON)
        else:
            log.info("matching engine: %s build (KETNOI_ENGINE chooses)", IMPLEMENTATION)
        await ensure_topics(settings)

    @app.on_rebalance_complete.connect
    async def forget_books(app: faust.App, *args: object, **kwargs: object) -> None:
        # Table recovery is done: rebuild books from the table. DurableBooks also detects a
        # rewound table on its own (see _check_fresh), so this is a second line of defence.
        log.info("rebalance complete: cached books dropped")
        books.invalidate()
        expected.clear()
        collections.reset()

    @app.agent(orders)
    async def match(stream: faust.StreamT) -> None:
        # take_events acks a batch's events when this loop's body is done with them, and also
        # when the body is left by an exception (its generator's ``finally``): every way out of
        # a batch but the end exits the process before anything is acked. On SIGTERM Faust
        # first waits for the batch in hand to be acked (it finishes), then cancels us between
        # batches; a cancellation mid-batch (Kafka away, the stop's deadline) abandons it.
        async for events in stream.take_events(BATCH_EVENTS, BATCH_SECONDS):
            try:
                await process(events)
            except asyncio.CancelledError as exc:
                if STOP.requested:
                    STOP.abandon(log, "matcher", f"a batch of {len(events)} events")
                fail_stop(log, "matcher", exc)
            except BaseException as exc:  # redeliver the batch after a restart
                fail_stop(log, "matcher", exc)
            collections.after_batch()

    def set_aside(event: EventT) -> None:
        """Leave an event unprocessed and out of the offsets Faust commits: it comes again.
        (take_events acks it after the batch; marked acked, that ack does nothing.)"""
        event.message.acked = True
        app.consumer.unacked.discard(event.message)

    async def in_order(events: list[EventT]) -> list[EventT]:
        """The batch's events that continue their partitions (``durable.continuing``).

        A partition whose events skip offsets lost some on the way to this worker, which Faust
        can do around a rebalance (a fetch it discards or a queue it clears while the consumer
        has moved on): its events from the gap on are set aside and it is read again from the
        first missing offset. Unless the log no longer has them (retention): then it goes on."""
        by_partition: dict[int, list[EventT]] = {}
        for event in events:
            by_partition.setdefault(event.message.partition, []).append(event)
        waiting: set[int] = set()  # ids of the events set aside
        for partition, taken in by_partition.items():
            offsets = [event.message.offset for event in taken]
            owed = expected.get(partition)
            if owed is None:
                owed = books.applied_offset(partition) + 1
            count, after = continuing(offsets, owed)
            if count < len(taken):
                tp = taken[0].message.tp
                start = (await app.consumer.earliest_offsets(tp))[tp]
                if start > owed:
                    log.warning("orders[%s]: events %s..%s were deleted before they were "
                                "applied", partition, owed, start - 1)  # fmt: skip
                    count, after = continuing(offsets, start)
            if count < len(taken):
                log.warning("orders[%s]: events %s..%s did not arrive; %d later ones set aside, "
                            "reading again from %s", partition, after, offsets[count] - 1,
                            len(taken) - count, after)  # fmt: skip
                for event in taken[count:]:
                    set_aside(event)
                    waiting.add(id(event))
                await app.consumer.seek_wait({tp: after})
            expected[partition] = after
        return [event for event in events if id(event) not in waiting] if waiting else events

    async def process(events: list[EventT]) -> None:
        events = await in_order(events)
        by_partition: dict[int, list[tuple[int, AnyEvent]]] = {}
        raw_of.clear()
        for event in events:
            parsed = await intake.admit(event)
            if parsed is not None:
                message = event.message
                raw_of[message.partition, message.offset] = event
                by_partition.setdefault(message.partition, []).append((message.offset, parsed))
        outputs = [
            output
            for partition, items in by_partition.items()
            for outs in books.process_batch(partition, items)
            for output in outs
        ]
        await writer.flush(app.producer)
        for output in outputs:
            topic = dead_letter_name if output.dead_letter else matches_name
            await app.producer.send(topic, output.key or None, output.value, None, None, None)

    rounds = RoundClock(settings.round_seconds)

    @app.timer(interval=settings.match_tick_seconds)
    async def tick() -> None:
        """Let time pass in every market this worker holds, so proposals can expire, and close
        its clearing rounds at each boundary of the round interval (round_clock.py)."""
        now = utcnow()
        for market in books.markets():
            event = MarketTick(
                event_id=uuid.UUID(derived_id("market.tick", market, now.isoformat())),
                occurred_at=now, source="ketnoi-matcher-ticker", category=market,
                closes_round=rounds.closes_round(market, now),
            )  # fmt: skip
            await orders.send(key=market.encode(), value=event.model_dump_json().encode())

    return app


def run(settings: Settings) -> None:
    run_worker(build(settings), settings, "matcher")
