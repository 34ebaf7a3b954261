"""Read the platform's topics from the beginning into the monitor's projection.

The monitor is fed by Kafka, not by polling the store: one consumer per gateway process, with no
consumer group (every process needs every partition) and no committed offsets (the projection
lives in memory and is rebuilt by replay at start). Events that do not parse are skipped and
counted, as are events out of place by the rule the matcher and the recorder apply
(``schemas.admission``), so the monitor never shows what they refused; the services that own
those topics dead-letter them with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

from ketnoi.settings import Settings
from schemas.admission import check_placement, kafka_time
from schemas.events import parse_event
from services.common.topics import ensure_topics, max_skew
from services.gateway.publisher import OwnEvents
from services.monitor.projection import Projection

log = logging.getLogger("ketnoi.monitor")

FETCH_WAIT_MS = 50
"""How long the broker may hold a fetch for more data: bounds the latency the feed adds."""


SLICE_S = 0.002
"""The feed hands the event loop its turn after about this much CPU: a fetch holds up to 5,000
events (a catalogue import's), and folding them in one go stalled every request meanwhile."""


class KafkaFeed:
    def __init__(
        self, settings: Settings, projection: Projection, own: OwnEvents | None = None
    ) -> None:
        self.settings = settings
        self.projection = projection
        self.own = own  # what this process published: taken, not parsed again
        if own is not None:
            own.watched = True
        self.skipped = 0
        self.caught_up = asyncio.Event()
        self._start_ends: dict | None = None
        self._max_skew = max_skew(settings)

    def topics(self) -> list[str]:
        names = self.settings.topics
        return [names.organizations, names.sessions, names.orders, names.matches]

    async def run(self) -> None:
        """Consume forever; after a broker failure, start again from the first offset."""
        while True:
            try:
                await self._consume()
            except (KafkaError, OSError) as exc:
                log.warning("monitor feed lost Kafka, retrying: %r", exc)
            except Exception:  # a bug must not leave the monitor silently frozen
                log.exception("monitor feed failed, restarting it")
            await asyncio.sleep(2.0)

    async def _consume(self) -> None:
        await ensure_topics(self.settings)
        consumer = AIOKafkaConsumer(
            *self.topics(),
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_WAIT_MS,
            client_id="ketnoi-monitor",
        )
        await consumer.start()
        try:
            # A new consumer starts from the first offset again; the projection is idempotent,
            # so replaying what it already holds changes nothing.
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                sliced = time.perf_counter()
                for records in batches.values():
                    for record in records:
                        self._apply(record)
                        if time.perf_counter() - sliced >= SLICE_S:
                            await asyncio.sleep(0)  # requests go ahead between slices
                            sliced = time.perf_counter()
                if not self.caught_up.is_set():
                    await self._check_caught_up(consumer)
        finally:
            with contextlib.suppress(KafkaError, asyncio.CancelledError):
                await consumer.stop()

    def _apply(self, record: ConsumerRecord) -> None:
        if record.value is None:
            return
        try:
            own = self.own.take(record.topic, record.value) if self.own is not None else None
            event = own if own is not None else parse_event(record.value)
            check_placement(event, self.settings.topics.logical(record.topic), record.key,
                            kafka_time(record.timestamp), self._max_skew)  # fmt: skip
        except Exception:  # whatever refuses it, the event's owners dead-letter it
            self.skipped += 1
            return
        self.projection.apply(event)

    async def _check_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        """Set once every partition has been read up to where it ended when we started."""
        assignment = consumer.assignment()
        if not assignment:
            return
        if self._start_ends is None:
            self._start_ends = await consumer.end_offsets(list(assignment))
        for tp, end in self._start_ends.items():
            if await consumer.position(tp) < end:
                return
        self.caught_up.set()
        log.info("monitor feed caught up: %d events", self.projection.applied)
