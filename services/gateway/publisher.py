"""Produce events to Kafka with acks=all and idempotence; a failure is a 503, never a half-write."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.events import Envelope


class PublishUnavailable(RuntimeError):
    """Kafka did not acknowledge the event in time; the client should retry later."""


class EventPublisher:
    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=int(timeout_s * 1000),
        )
        self._timeout_s = timeout_s

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: str, event: Envelope) -> None:
        """Return once Kafka has acknowledged the event (keyed as the event declares)."""
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(
                    topic,
                    key=event.kafka_key.encode("utf-8"),
                    value=event.model_dump_json().encode("utf-8"),
                ),
                self._timeout_s,
            )
        except (KafkaError, TimeoutError) as exc:
            raise PublishUnavailable(f"Kafka did not acknowledge the event: {exc!r}") from exc
