"""Entrypoint: serve the gateway with uvicorn on the configured host and port, JSON logs.

Process concerns live here, not in the app (tests run the app in-process): a busy port is
named before anything starts; SIGTERM and Ctrl-C stop it within STOP_SECONDS with exit 0 (open
monitor streams get GRACE_SECONDS, then are closed); Kafka and the store are watched, so an
outage is one log line per retry interval, not aiokafka's dozens a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from ketnoi.settings import Settings
from services.common.outages import ClientNoise, Dependency, kafka_dependency, watch_kafka
from services.common.shutdown import STOP, STOP_SECONDS, STOP_SECONDS_OFFLINE
from services.common.store import connect
from services.gateway.app import create_app
from services.gateway.logs import JsonFormatter, configure, log

GRACE_SECONDS = 3.0
"""How long requests in flight and open monitor streams get once a stop is requested."""
GC_YOUNG_THRESHOLD = 20_000
"""Allocations between collections of the youngest generation (CPython's default: 700). With
the default, the objects of requests still in flight (waiting a few ms for Kafka) survive two
young collections and are promoted to the oldest generation, which then fills by a quarter
every second or two under load and is collected in full: 60 to 120 ms with the loop stopped
(measured under overload), the worst of a quiet key's latency. With 20,000 none ran in the
overloaded phase; a young collection only walks the young objects still alive."""


class PortInUse(RuntimeError):
    """The gateway's port is taken; the message names the process holding it, with a hint."""


def run(settings: Settings) -> None:
    """Serve until SIGTERM or Ctrl-C; PortInUse before anything starts when the port is taken
    (a gateway of an earlier run, typically), instead of uvicorn's bind error after start-up."""
    from ketnoi.running import busy_port_message, port_in_use

    if port_in_use(settings.gateway_host, settings.gateway_port):
        raise PortInUse(busy_port_message(settings.gateway_host, settings.gateway_port))
    kafka = kafka_dependency(settings.kafka_bootstrap, log)
    store = Dependency("the store", settings.mongo_url, log)
    app = create_app(settings)
    _watch_while_serving(app, settings, kafka, store)
    config = uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level,
        log_config=configure(settings.log_level),
        access_log=False,  # our middleware logs each request once, with its ids
        timeout_graceful_shutdown=int(GRACE_SECONDS),
    )
    _client_logs_as_json(ClientNoise(kafka))
    server = _Server(config, kafka)
    with _signals_end_cleanly():
        server.run()
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits


class _Server(uvicorn.Server):
    """uvicorn's server, with our stop deadline armed by the first SIGTERM or Ctrl-C."""

    def __init__(self, config: uvicorn.Config, kafka: Dependency) -> None:
        super().__init__(config)
        self.kafka = kafka

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        deadline = STOP_SECONDS_OFFLINE if self.kafka.down else STOP_SECONDS
        STOP.request("gateway", sig, log, deadline)
        super().handle_exit(sig, frame)


@contextlib.contextmanager
def _signals_end_cleanly() -> Iterator[None]:
    """uvicorn re-raises the signal that stopped it once it is done, which would end the process
    by that signal (exit -15); with these as the handlers it restores, a requested stop that
    completed exits 0."""
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """The stop is already done when uvicorn re-raises the signal: nothing left to do."""


def _client_logs_as_json(noise: ClientNoise) -> None:
    """Client libraries (aiokafka, pymongo) log to the root logger, which had no handler: their
    warnings came out as plain text among the JSON lines, one per retry."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(noise)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def _tune_gc() -> None:
    """Once started: the modules, schemas and reference data loaded so far live as long as the
    process, so they are frozen out of every later collection (a full one walked them all,
    40 ms here); young collections run less often (``GC_YOUNG_THRESHOLD``)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _watch_while_serving(
    app: FastAPI, settings: Settings, kafka: Dependency, store: Dependency
) -> None:
    """Run the Kafka and store watchers around the app's own lifespan."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        client = connect(settings)

        async def ping() -> None:
            await client.admin.command("ping")

        tasks = [
            asyncio.create_task(watch_kafka(kafka), name="watch-kafka"),
            asyncio.create_task(store.watch(ping, timeout=6.0), name="watch-store"),
        ]
        try:
            async with inner(app) as state:
                _tune_gc()
                yield state
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await client.close()

    app.router.lifespan_context = lifespan
