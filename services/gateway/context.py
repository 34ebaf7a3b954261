"""What every route needs, built once per app: settings, store, publisher, limits, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase

from ketnoi.settings import Settings
from schemas.events import Envelope
from services.gateway.metrics import GatewayMetrics
from services.gateway.publisher import Publisher
from services.gateway.ratelimit import RateLimiter


@dataclass
class Gateway:
    settings: Settings
    db: AsyncDatabase
    publisher: Publisher
    metrics: GatewayMetrics
    limiter: RateLimiter

    async def publish(self, *events: Envelope) -> None:
        """Return once Kafka acknowledged every event: ``PublishUnavailable`` (503, outcome
        unknown) otherwise, ``EventTooLarge`` (413, nothing sent) for an event over the limit."""
        topics = self.settings.topics
        await self.publisher.publish_many([(topics.named(e.TOPIC), e) for e in events])


async def _gateway(request: Request) -> Gateway:
    """Async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, and that
    hop on every request (the GIL handed to a thread and back) added milliseconds under load."""
    return request.app.state.gateway


GatewayDep = Annotated[Gateway, Depends(_gateway)]
