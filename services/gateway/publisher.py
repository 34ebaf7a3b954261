"""Produce events to Kafka with acks=all and idempotence; a failure is a 503, never a half-write.

The gateway starts (and serves reads, health and docs) even when Kafka is down: the producer
connects in the background and keeps trying. Until it is connected, and whenever Kafka does not
acknowledge within ``timeout_s``, a write raises ``PublishUnavailable`` (503 + Retry-After).

aiokafka expires a batch still waiting in its buffer after ``request_timeout_ms``; we wait one
second longer than that, so an event we answer 503 for has been dropped by the client, not left
to be delivered later. A request already on the wire when the broker stops answering has an
unknown outcome (true of any client): with an Idempotency-Key the retry reuses the same event
and entity ids, so consumers apply it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.events import Envelope
from services.gateway.logs import log
from services.gateway.metrics import GatewayMetrics


class PublishUnavailable(RuntimeError):
    """Kafka did not acknowledge the event in time; the client should retry later."""

    def __init__(self, message: str, retry_after: int = 5, acknowledged: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.acknowledged = acknowledged  # of a batch, how many Kafka did take


class Publisher(Protocol):
    """What routes need: publish events and return once Kafka holds every one of them."""

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
    ) -> None:
        self._bootstrap = bootstrap
        self._timeout_s = timeout_s
        self._prepare = prepare  # e.g. create the topics, once Kafka answers
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task | None = None

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

        The sends are pipelined; with idempotence each partition keeps their order.
        """
        producer = self._producer
        if producer is None:
            self._failed()
            raise PublishUnavailable(f"not connected to Kafka at {self._bootstrap}.")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s + 1.0):
                deliveries = [
                    await producer.send(
                        topic,
                        key=event.kafka_key.encode("utf-8"),
                        value=event.model_dump_json().encode("utf-8"),
                    )
                    for topic, event in items
                ]
                results = await asyncio.gather(*deliveries, return_exceptions=True)
        except (KafkaError, TimeoutError) as exc:
            self._failed()
            raise PublishUnavailable(f"Kafka did not acknowledge the event(s): {exc!r}.") from exc
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
