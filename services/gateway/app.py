"""The HTTP gateway: authenticate, validate, publish to Kafka, answer 202; read from MongoDB.

Writes go to Kafka (the log of record) and nowhere else; reads come from the read model the
recorder keeps. The gateway's own state (idempotency records, revision counters) lives in
collections of its own; API keys are written by ``ketnoi keys``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pymongo.errors import PyMongoError

from ketnoi.settings import Settings
from services.common.store import connect, database, ensure_gateway_indexes
from services.common.topics import ensure_topics
from services.gateway import docs, openapi, problems, security
from services.gateway.auth import KeyCache
from services.gateway.context import Gateway
from services.gateway.idempotency import forget_old
from services.gateway.logs import log
from services.gateway.metrics import GatewayMetrics
from services.gateway.middleware import BodyLimit, RequestContext, install_admission
from services.gateway.publisher import EventPublisher, Publisher
from services.gateway.ratelimit import RateLimiter
from services.gateway.routers import agendas as agenda_routes
from services.gateway.routers import demands, matches, offers, operations, organizations, sessions
from services.gateway.routers import meetings as meeting_routes
from services.gateway.routers import outcomes as outcome_routes
from services.gateway.routers import reports as report_routes
from services.monitor import routes as monitor_routes
from services.monitor.logins import forget_expired
from services.monitor.service import Monitor

SWEEP_EVERY_S = 3600.0


def create_app(settings: Settings | None = None, *, publisher: Publisher | None = None) -> FastAPI:
    """The app; ``publisher`` replaces Kafka (tests inject failing or recording ones)."""
    settings = settings or Settings()
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(settings)
        db = database(client, settings)
        own = publisher is None
        events = publisher or EventPublisher(
            settings.kafka_bootstrap,
            settings.publish_timeout_seconds,
            prepare=lambda: ensure_topics(settings),
            metrics=metrics,
            max_event_bytes=settings.max_event_bytes,
        )
        if isinstance(events, EventPublisher) and own:
            await events.start()
        app.state.gateway = Gateway(
            settings,
            db,
            events,
            metrics,
            RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        )
        app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
        app.state.monitor = Monitor(app.state.gateway, app.state.key_cache)
        app.state.monitor.start()
        sweeper = asyncio.create_task(_maintain(app.state.gateway), name="gateway-maintenance")
        try:
            yield
        finally:
            await app.state.monitor.stop()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if isinstance(events, EventPublisher) and own:
                await events.stop()
            await client.close()

    app = FastAPI(
        title="Ketnoi gateway",
        version="1.0.0",
        description=openapi.DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # docs.install serves them without a CDN
        redoc_url=None,
    )
    problems.install(app)
    openapi.install(app)
    docs.install(app)
    for module in (offers, demands, matches, sessions, organizations, operations):
        app.include_router(module.router)
    app.include_router(meeting_routes.router)  # B2B meetings, their agendas and outcomes
    app.include_router(outcome_routes.router)
    app.include_router(agenda_routes.router)
    app.include_router(report_routes.router)
    app.include_router(monitor_routes.router)
    static = StaticFiles(directory=monitor_routes.STATIC)
    app.mount("/monitor/static", static, name="monitor-static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=metrics)  # ids and logs for all admitted
    install_admission(app, settings, metrics)  # around the stack: refusals cost next to nothing
    security.install(app)  # around everything, the error middleware too
    return app


async def _maintain(gateway: Gateway) -> None:
    """Indexes of the gateway's collections, then an hourly sweep of old idempotency records
    and expired monitor logins.
    Failures are logged, not fatal: the gateway serves what it can while the store is down."""
    while True:
        try:
            await ensure_gateway_indexes(gateway.db)
            removed = await forget_old(gateway)
            if removed:
                log.info("idempotency records expired", extra={"removed": removed})
            logins = await forget_expired(gateway.db)
            if logins:
                log.info("monitor logins expired", extra={"removed": logins})
        except PyMongoError as exc:
            log.warning("gateway maintenance failed", extra={"error": repr(exc)})
            await asyncio.sleep(10)
            continue
        await asyncio.sleep(SWEEP_EVERY_S)
