"""Kafka or the store away: one clear log line per retry interval, and one when it is back.

Measured before (issue 13): with the local Kafka and store stopped under running services, the
gateway logged 39 and the matcher 73-113 error lines a second, all from aiokafka's retries
("Unable connect to node ...", "Failed fetch messages ...", "Group Coordinator Request failed
..."), which say neither what is down nor what the service does about it. Now a ``Dependency``
watcher probes each one every RETRY_SECONDS and says it, and ``ClientNoise`` hides the client
library's retry lines while the watcher reports the outage (and otherwise lets through at most
one line per message template and interval, counting the rest). The clients keep retrying on
their own; recovery needs nothing from us but this report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable

RETRY_SECONDS = 5.0
"""How often a service retries (and says so) while Kafka or the store is away."""
NOISY_LOGGERS = ("aiokafka", "kafka")
"""Client libraries whose connection retries log an error line each (several a second)."""


def brief(error: BaseException | str) -> str:
    """An error in one short line (pymongo's carry a whole topology description)."""
    if isinstance(error, str):
        return error
    text = str(error).splitlines()[0] if str(error) else ""
    text = text.removeprefix(f"{type(error).__name__}: ")  # aiokafka repeats its class name
    text = re.sub(r" \(configured timeouts: [^)]*\)|, Timeout: .*", "", text)
    text = text if len(text) <= 140 else text[:137] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Dependency:
    """Something a service needs (Kafka, the store), as seen by the service's own attempts or by
    ``watch``: one line when it goes away, one per interval while it stays away, one when back.
    Thread-safe: aiokafka logs from Faust's consumer thread."""

    def __init__(
        self, name: str, address: str, log: logging.Logger, interval: float = RETRY_SECONDS
    ) -> None:
        self.name, self.address, self.log, self.interval = name, address, log, interval
        self.down_since: float | None = None
        self.hidden = 0
        self._last_line = 0.0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException | str, doing: str = "") -> None:
        """An attempt failed: log at most one line per interval. ``doing``: what the service
        does meanwhile (e.g. which event it holds)."""
        now = time.monotonic()
        with self._lock:
            first = self.down_since is None
            if first:
                self.down_since = now
            elif now - self._last_line < self.interval:
                return
            self._last_line = now
            away, hidden, self.hidden = now - self.down_since, self.hidden, 0  # type: ignore[operator]
        what = f"{self.name} at {self.address}"
        more = f"; {hidden} client retry lines hidden" if hidden else ""
        meanwhile = f"; {doing}" if doing else ""
        if first:
            self.log.warning("%s is unreachable (%s)%s; retrying every %.0f s",
                             what, brief(error), meanwhile, self.interval)  # fmt: skip
        else:
            self.log.warning("%s still unreachable after %.0f s (%s)%s%s; retrying every %.0f s",
                             what, away, brief(error), meanwhile, more, self.interval)  # fmt: skip

    def ok(self) -> None:
        """An attempt succeeded: say so once if it had been away."""
        with self._lock:
            if self.down_since is None:
                return
            away, hidden = time.monotonic() - self.down_since, self.hidden
            self.down_since, self.hidden = None, 0
        more = f" ({hidden} client retry lines hidden)" if hidden else ""
        self.log.info("%s at %s is reachable again after %.0f s%s",
                         self.name, self.address, away, more)  # fmt: skip

    def hide(self) -> None:
        with self._lock:
            self.hidden += 1

    def suspect(self) -> None:
        """A client library reported trouble: probe now rather than at the next interval."""
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: the process is stopping
                self._loop.call_soon_threadsafe(self._wake.set)

    async def watch(self, probe: Callable[[], Awaitable[object]], timeout: float = 3.0) -> None:
        """Probe every interval (sooner when ``suspect``ed) and report what changed."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while True:
            try:
                await asyncio.wait_for(probe(), timeout)
            except Exception as exc:  # any failure to reach it is the outage being reported
                self.failed(exc)
            else:
                self.ok()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)


def kafka_addresses(bootstrap: str) -> list[tuple[str, int]]:
    addresses = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        addresses.append((host.strip("[]") or "127.0.0.1", int(port or 9092)))
    return addresses


def tcp_probe(addresses: list[tuple[str, int]]) -> Callable[[], Awaitable[None]]:
    """A probe that succeeds when any of ``addresses`` accepts a TCP connection."""

    async def probe() -> None:
        errors: list[BaseException] = []
        for host, port in addresses:
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                errors.append(exc)
                continue
            writer.close()
            return
        raise errors[0] if errors else OSError("no address to probe")

    return probe


def kafka_dependency(bootstrap: str, log: logging.Logger) -> Dependency:
    return Dependency("Kafka", bootstrap, log)


async def watch_kafka(kafka: Dependency) -> None:
    await kafka.watch(tcp_probe(kafka_addresses(kafka.address)))


class ClientNoise(logging.Filter):
    """On a handler: hide the Kafka client's retry lines while ``kafka`` is known to be down;
    otherwise let at most one line per logger and message template through per interval, and
    say on it how many were held back."""

    def __init__(self, kafka: Dependency | None, interval: float = RETRY_SECONDS) -> None:
        super().__init__()
        self.kafka, self.interval = kafka, interval
        self._last: dict[tuple[str, object], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(NOISY_LOGGERS):
            return True
        if self.kafka is not None:
            if self.kafka.down:
                self.kafka.hide()
                return False
            self.kafka.suspect()
        key, now = (record.name, record.msg), time.monotonic()
        with self._lock:
            last, held = self._last.get(key, (float("-inf"), 0))
            if now - last < self.interval:
                self._last[key] = (last, held + 1)
                return False
            self._last[key] = (now, 0)
        if held and isinstance(record.msg, str):
            record.msg = f"{record.msg} [and {held} more like it in the last {now - last:.0f} s]"
        return True


def install(noise: ClientNoise, *loggers: logging.Logger) -> None:
    """Put ``noise`` on the handlers of ``loggers`` (default: the root logger's)."""
    for logger in loggers or (logging.getLogger(),):
        for handler in logger.handlers:
            if noise not in handler.filters:
                handler.addFilter(noise)
