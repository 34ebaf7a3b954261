"""Where a generated stream goes: stdout (JSON lines), the HTTP gateway, or Kafka directly.

Each sink counts what was accepted and what failed instead of stopping at the first refusal, so
a load test reports its error rate; only a sink that cannot work at all (gateway or broker
unreachable, or a key the gateway refuses: every further request would be refused too) raises
``SinkError``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import httpx

from connectors.simulator.pacing import Pacer
from connectors.simulator.scenario import Generated
from ketnoi.settings import Settings
from schemas.admission import replay_timestamp_ms
from schemas.events import OrganizationRegistered

GATEWAY_PATHS = {"offer": "/v1/offers", "demand": "/v1/demands"}
ORGANIZATIONS_PATH = "/v1/organizations"
ADMIN_KEY_HINT = (
    "create an admin key with `ketnoi keys create --org ketnoi-admin --role admin` and pass it "
    "with --api-key or KETNOI_API_KEY"
)
MAX_ERRORS_KEPT = 5


class SinkError(RuntimeError):
    """The sink cannot deliver anything (unreachable gateway or broker)."""


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)  # by event type
    errors: int = 0
    skipped: int = 0
    first_errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.first_errors) < MAX_ERRORS_KEPT:
            self.first_errors.append(message)


class Sink(Protocol):
    name: str
    tally: Tally

    async def start(self) -> None: ...

    async def send(self, item: Generated) -> None: ...

    async def close(self) -> None:
        """Flush: after this, ``tally`` is final."""


class StdoutSink:
    """One event per line, exactly as it would travel on Kafka (``model_dump_json``)."""

    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.tally = Tally()

    async def start(self) -> None:
        if self._stream is None:
            self._stream = sys.stdout

    async def send(self, item: Generated) -> None:
        assert self._stream is not None, "start() first"
        self._stream.write(item.event.model_dump_json() + "\n")
        self.tally.sent[item.event.type] += 1

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.flush()


class GatewaySink:
    """POSTs offers, demands and organization registrations in stream order, as a client of
    the public API would.

    One request at a time: the gateway publishes before it answers, so the order in which
    offers and demands reach a market is the stream's order (what the matcher then decides
    depends on it). ``accepted`` keeps the ids the gateway assigned. The first 401 or 403
    stops the run: the key is wrong for this stream, and every later request would say so.
    """

    name = "gateway"
    pace_limit = (
        "one request at a time, each answered once Kafka has the event, keeps the stream's order"
    )

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        api_key: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._client = client
        self._own_client = client is None
        self._timeout = timeout
        self.tally = Tally()
        self.accepted: list[tuple[str, str]] = []  # (kind, id assigned by the gateway)

    async def start(self) -> None:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout,
                                             headers=headers)  # fmt: skip

    async def send(self, item: Generated) -> None:
        assert self._client is not None, "start() first"
        if item.submission is not None:
            kind, body = item.submission["kind"], item.submission["body"]
            path = GATEWAY_PATHS[kind]
        elif isinstance(item.event, OrganizationRegistered):
            kind, path = "organization", ORGANIZATIONS_PATH
            body = item.event.organization.model_dump(mode="json", exclude_none=True)
        else:
            self.tally.skipped += 1
            return
        try:
            response = await self._client.post(path, json=body)
        except httpx.TransportError as exc:
            raise SinkError(
                f"cannot reach the gateway at {self.base_url} ({type(exc).__name__}); start it "
                "with `ketnoi gateway` (or `make demo`), or pass --gateway-url"
            ) from exc
        if response.status_code in (401, 403):
            raise SinkError(self._refused(path, response))
        if response.status_code != 202:
            self.tally.error(f"POST {path} -> {response.status_code}: {response.text[:300]}")
            return
        self.accepted.append((kind, response.json()["id"]))
        self.tally.sent[item.event.type] += 1

    def _refused(self, path: str, response: httpx.Response) -> str:
        """One sentence for a refused key, with what to do (the stream stops here)."""
        try:
            detail = str(response.json().get("detail") or "").rstrip(".")
        except ValueError:
            detail = ""
        done = sum(self.tally.sent.values())
        after = f" after {done} accepted event{'s' if done != 1 else ''}" if done else ""
        if response.status_code == 401:
            why = "no API key was sent" if not self._api_key else "it does not know this API key"
            return f"the gateway answered 401 to POST {path}{after}: {why}; {ADMIN_KEY_HINT}"
        because = f" ({detail})" if detail else ""
        return (
            f"the gateway answered 403 to POST {path}{after}: this key may not act for every "
            f"simulated party{because}; {ADMIN_KEY_HINT}"
        )

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()


class _Producer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self, topic: str, value: bytes, key: bytes, timestamp_ms: int | None = None
    ) -> Awaitable[Any]: ...


class KafkaSink:
    """Produces events as the gateway does: acks=all, idempotent, keyed as each event declares.

    Sends are pipelined (up to ``max_in_flight`` unacknowledged) for throughput; with
    idempotence the broker still keeps each partition in send order.
    """

    name = "kafka"

    def __init__(
        self,
        settings: Settings,
        *,
        producer: _Producer | None = None,
        create_topics: bool = True,
        max_in_flight: int = 1000,
    ) -> None:
        self.settings = settings
        self._producer = producer
        self._create_topics = create_topics
        self._max_in_flight = max_in_flight
        self._pending: deque[tuple[str, Awaitable[Any]]] = deque()
        self.tally = Tally()

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        bootstrap = self.settings.kafka_bootstrap
        try:
            if self._create_topics:  # the broker never auto-creates topics
                from services.common.topics import ensure_topics

                await ensure_topics(self.settings)
            if self._producer is None:
                self._producer = AIOKafkaProducer(
                    bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
                )
            await self._producer.start()
        except (KafkaError, OSError) as exc:
            raise SinkError(f"cannot reach Kafka at {bootstrap}: {exc!r}") from exc

    async def send(self, item: Generated) -> None:
        assert self._producer is not None, "start() first"
        event = item.event
        delivery = await self._producer.send(
            self.settings.topics.named(event.TOPIC),
            key=event.kafka_key.encode("utf-8"),
            value=event.model_dump_json().encode("utf-8"),
            timestamp_ms=replay_timestamp_ms(event),  # scenario time, as the clock check expects
        )
        self._pending.append((event.type, delivery))
        while self._pending and (
            len(self._pending) > self._max_in_flight or _done(self._pending[0][1])
        ):
            await self._settle(*self._pending.popleft())

    async def _settle(self, event_type: str, delivery: Awaitable[Any]) -> None:
        from aiokafka.errors import KafkaError

        try:
            await delivery
        except KafkaError as exc:
            self.tally.error(f"{event_type}: {exc!r}")
        else:
            self.tally.sent[event_type] += 1

    async def close(self) -> None:
        try:
            while self._pending:
                await self._settle(*self._pending.popleft())
        finally:
            if self._producer is not None:
                await self._producer.stop()


def _done(delivery: Awaitable[Any]) -> bool:
    return isinstance(delivery, asyncio.Future) and delivery.done()


@dataclass(frozen=True)
class Report:
    sink: str
    sent: Counter[str]
    errors: int
    skipped: int
    seconds: float
    first_errors: list[str]
    asked_rate: float = 0.0
    pace_limit: str = ""

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def summary(self) -> str:
        rate = self.total / self.seconds if self.seconds > 0 else float("inf")
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(self.sent.items()))
        line = (
            f"simulate: sent {self.total} events to {self.sink} in {self.seconds:.2f} s "
            f"({rate:,.0f} events/s); {self.errors} errors"
        )
        if self.skipped:
            line += f", {self.skipped} skipped"
        line = f"{line} [{kinds}]" if kinds else line
        return line + self.pace_note()

    def pace_note(self) -> str:
        """Says so when the asked rate was not reached (below 90% of it), and why."""
        attempts = self.total + self.errors
        if not self.asked_rate or self.seconds <= 0 or attempts < 2:
            return ""
        achieved = attempts / self.seconds
        if achieved >= 0.9 * self.asked_rate:
            return ""
        why = f" ({self.pace_limit})" if self.pace_limit else ""
        return (f"; asked for {self.asked_rate:g} events/s, achieved {achieved:.1f}/s: "
                f"{1000 * self.seconds / attempts:.0f} ms per event{why}")  # fmt: skip


async def pump(
    items: Iterable[Generated],
    sink: Sink,
    rate: float = 0.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Report:
    """Send every item through ``sink``, paced at ``rate`` events/s (0: as fast as possible)."""
    pacer = Pacer(rate, clock, sleep)
    started = clock()
    await sink.start()
    try:
        for index, item in enumerate(items):
            await pacer.wait(index)
            await sink.send(item)
    finally:
        await sink.close()
    tally = sink.tally
    return Report(
        sink.name, tally.sent, tally.errors, tally.skipped, clock() - started,
        tally.first_errors, rate, getattr(sink, "pace_limit", ""),
    )  # fmt: skip
