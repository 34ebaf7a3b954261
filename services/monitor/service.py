"""The monitor inside a gateway process: its projection, feed, hub and the tasks that run them."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge

from ketnoi.settings import Settings
from services.gateway.auth import KeyCache
from services.gateway.context import Gateway
from services.monitor.feed import KafkaFeed
from services.monitor.hub import Hub
from services.monitor.logins import LoginCache
from services.monitor.projection import Projection
from services.monitor.streams import Streams


@dataclass
class Monitor:
    gateway: Gateway
    key_cache: KeyCache
    projection: Projection = field(default_factory=Projection)
    hub: Hub = field(init=False)
    feed: KafkaFeed = field(init=False)
    logins: LoginCache = field(init=False)
    streams: Streams = field(init=False)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hub = Hub(self.projection)
        own = getattr(self.gateway.publisher, "own_events", None)  # a test's stand-in has none
        self.feed = KafkaFeed(self.settings, self.projection, own)
        self.logins = LoginCache(self.settings.api_key_cache_seconds)
        self.streams = Streams(
            self.settings.monitor_max_streams_per_key,
            self.settings.monitor_max_streams,
            recheck_s=self.settings.api_key_cache_seconds,
        )
        self._expose(self.gateway.metrics.registry)

    def _expose(self, registry: CollectorRegistry) -> None:
        """Read at scrape time from the live objects: nothing to keep in step."""
        for name, doc, read in (
            ("viewers", "Open event streams of monitor pages", self.hub.viewers),
            ("sessions", "Sessions the monitor holds a board for",
             lambda: len(self.projection.boards)),
            ("events_applied", "Events folded into the boards since start",
             lambda: self.projection.applied),
            ("events_unreadable", "Events the monitor could not parse (skipped)",
             lambda: self.feed.skipped),
            ("updates_sent", "Updates queued to viewers since start",
             lambda: self.hub.frames_sent),
            ("caught_up", "1 once the feed has read every topic to where it ended at start",
             lambda: int(self.feed.caught_up.is_set())),
            ("streams_refused", "Event streams refused since start: a key's or the total cap",
             lambda: self.streams.refused),
            ("streams_revoked", "Event streams ended since start: key revoked or logged out",
             lambda: self.streams.revoked),
        ):  # fmt: skip
            Gauge(f"ketnoi_monitor_{name}", doc, registry=registry).set_function(read)

    @property
    def settings(self) -> Settings:
        return self.gateway.settings

    def start(self) -> None:
        interval = self.settings.monitor_flush_ms / 1000
        self._tasks = [
            asyncio.create_task(self.feed.run(), name="monitor-feed"),
            asyncio.create_task(self.hub.run(interval), name="monitor-hub"),
            asyncio.create_task(self.streams.run(), name="monitor-streams"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
