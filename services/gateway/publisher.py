"""Produce events to Kafka with acks=all and idempotence; say honestly what a failure means.

The gateway starts (and serves reads, health and docs) even when Kafka is down: the producer
connects in the background and keeps trying. Until it is connected a write raises
``PublishUnavailable`` with ``sent=False``: nothing left the gateway.

Once connected, a write that Kafka does not acknowledge within ``timeout_s`` has an *unknown*
outcome, not a dropped one. aiokafka keeps an undelivered batch in its buffer and sends it
again when the broker answers, however late; it expires a batch only when the partition has no
known leader. Measured with the one broker killed: an offer answered 503 went live when the
broker came back, and a plain retry (new ids) recorded it twice. So the 503 says the event may
still be recorded and names the Idempotency-Key to retry with (the gateway assigns one when the
request had none, see ``idempotency.py``): the retry carries the same event and entity ids, and
consumers apply an event id once (decision 9 in docs/decisions.md).

An event whose key and value exceed ``max_event_bytes`` raises ``EventTooLarge`` (413) before
anything of the request is sent: Kafka would refuse it on every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.events import Envelope
from services.gateway.logs import log
from services.gateway.metrics import GatewayMetrics

DEFAULT_MAX_EVENT_BYTES = 900_000
"""Below Kafka's default 1 MiB message and request limits (broker and aiokafka alike)."""


@dataclass(frozen=True)
class WriteAttempt:
    """What a write handed out before publishing failed: the key and ids its retry reuses."""

    idempotency_key: str
    generated: bool  # True: the request had no Idempotency-Key, the gateway assigned this one
    created: tuple[tuple[str, str], ...]  # (kind, id) of each entity the write creates
    event_ids: tuple[str, ...]


class PublishUnavailable(RuntimeError):
    """Kafka did not acknowledge the event(s) in time (``sent``: the outcome is unknown), or
    the gateway is not connected to Kafka (not ``sent``: nothing left the gateway)."""

    def __init__(
        self, message: str, retry_after: int = 5, acknowledged: int = 0, *, sent: bool = True
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.acknowledged = acknowledged  # of a batch, how many Kafka did take
        self.sent = sent
        self.attempt: WriteAttempt | None = None  # set by the idempotency layer


class EventTooLarge(ValueError):
    """An event is larger than Kafka takes: no retry can succeed, so nothing is sent."""

    def __init__(self, event: Envelope, size: int, limit: int, position: tuple[int, int]) -> None:
        self.event_type = event.type
        self.event_id = str(event.event_id)
        self.size = size
        self.limit = limit
        self.position = position  # (index, count) among the request's events
        self.field, self.field_size = largest_field(event)
        where = f" ({position[0] + 1} of {position[1]} in this request)" if position[1] > 1 else ""
        super().__init__(
            f"the {event.type} event{where} would be {size:,} bytes, above the {limit:,}-byte "
            f"limit of one Kafka event; its largest field is {self.field} "
            f"({self.field_size:,} bytes): shorten it or split the write"
        )


def largest_field(event: Envelope) -> tuple[str, int]:
    """The dotted path of the event's largest field (descending into objects) and its size."""
    node: Any = json.loads(event.model_dump_json())
    path: list[str] = []
    size = 0
    while isinstance(node, dict) and node:
        sizes = {name: _json_size(value) for name, value in node.items()}
        name = max(sizes, key=sizes.__getitem__)
        path.append(name)
        node, size = node[name], sizes[name]
    return ".".join(path) or "(event)", size


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


Record = tuple[str, bytes, bytes]  # topic, key, value


def encode(items: Sequence[tuple[str, Envelope]], max_event_bytes: int) -> list[Record]:
    """Every event as Kafka will carry it; ``EventTooLarge`` names the first one over the limit."""
    records = []
    for index, (topic, event) in enumerate(items):
        key = event.kafka_key.encode("utf-8")
        value = event.model_dump_json().encode("utf-8")
        size = len(key) + len(value)
        if size > max_event_bytes:
            raise EventTooLarge(event, size, max_event_bytes, (index, len(items)))
        records.append((topic, key, value))
    return records


class OwnEvents:
    """The events this process published lately, by the bytes Kafka carries them as.

    The gateway's monitor feed reads every event back from Kafka, its own included, and in a
    catalogue import parsing them again took a fifth of the gateway's CPU. An event read back
    with exactly the bytes encoded here is the event validated here, so the feed takes the
    object instead of parsing. Bounded: an event read back after ``capacity`` later ones is
    parsed like any other."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._events: OrderedDict[tuple[str, bytes], Envelope] = OrderedDict()
        self.watched = False  # nothing is kept until a feed reads the events back

    def remember(self, topic: str, value: bytes, event: Envelope) -> None:
        if not self.watched:
            return
        self._events[(topic, value)] = event
        while len(self._events) > self._capacity:
            self._events.popitem(last=False)

    def take(self, topic: str, value: bytes) -> Envelope | None:
        return self._events.pop((topic, value), None)

    def __len__(self) -> int:
        return len(self._events)


class Publisher(Protocol):
    """What routes need: publish events and return once Kafka holds every one of them.

    Raises ``PublishUnavailable`` (503) or, for an event Kafka would refuse, ``EventTooLarge``.
    """

    @property
    def connected(self) -> bool: ...

    async def publish_many(self, items: Sequence[tuple[str, Envelope]]) -> None: ...


class EventPublisher:
    def __init__(
        self,
        bootstrap: str,
        timeout_s: float = 5.0,
        *,
        prepare: Callable[[], Any] | None = None,
        metrics: GatewayMetrics | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._bootstrap = bootstrap
        self._timeout_s = timeout_s
        self._max_event_bytes = max_event_bytes
        self._prepare = prepare  # e.g. create the topics, once Kafka answers
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task | None = None
        self.own_events = OwnEvents()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=int(self._timeout_s * 1000),
            max_batch_size=1 << 20,
        )

    async def start(self) -> None:
        """Connect in the background: the app may start before (or without) Kafka."""
        self._connector = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            producer = self._new_producer()
            try:
                if self._prepare is not None:
                    await self._prepare()
                await producer.start()
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning(
                    "kafka not reachable, retrying",
                    extra={"bootstrap": self._bootstrap, "error": repr(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            log.info("connected to kafka", extra={"bootstrap": self._bootstrap})
            return

    async def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.connected

    async def stop(self) -> None:
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, topic: str, event: Envelope) -> None:
        await self.publish_many([(topic, event)])

    async def publish_many(self, items: Sequence[tuple[str, Envelope]]) -> None:
        """Return once Kafka has acknowledged every event (each keyed as it declares).

        Sizes are checked before anything is sent, so a 413 leaves nothing behind. The sends
        are pipelined; with idempotence each partition keeps their order. A failure after a send
        does not withdraw it (aiokafka may still deliver it): ``PublishUnavailable`` says so.
        """
        records = encode(items, self._max_event_bytes)
        producer = self._producer
        if producer is None:
            self._failed()
            raise PublishUnavailable(f"not connected to Kafka at {self._bootstrap}.", sent=False)
        for (topic, _, value), (_, event) in zip(records, items, strict=True):
            self.own_events.remember(topic, value, event)  # before: it may be read back first
        started = time.perf_counter()
        try:
            # A little longer than aiokafka's request timeout, so its own error is the one seen.
            async with asyncio.timeout(self._timeout_s + 1.0):
                deliveries = [
                    await producer.send(topic, key=key, value=value)
                    for topic, key, value in records
                ]
                results = await asyncio.gather(*deliveries, return_exceptions=True)
        except (KafkaError, TimeoutError) as exc:
            self._failed()
            raise PublishUnavailable(
                f"Kafka did not acknowledge the event(s) within {self._timeout_s:g} s ({exc!r})."
            ) from exc
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self._failed()
            acknowledged = len(results) - len(failures)
            raise PublishUnavailable(
                f"Kafka acknowledged {acknowledged} of {len(results)} event(s) ({failures[0]!r}).",
                acknowledged=acknowledged,
            )
        if self._metrics is not None:
            self._metrics.publish_latency.observe(time.perf_counter() - started)
            for _, event in items:
                self._metrics.produced.labels(event.type).inc()
        log.info(
            "published",
            extra={
                "event_ids": [str(e.event_id) for _, e in items],
                "types": sorted({e.type for _, e in items}),
            },
        )

    def _failed(self) -> None:
        if self._metrics is not None:
            self._metrics.publish_failures.inc()
