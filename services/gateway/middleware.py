"""ASGI middleware (plain ASGI, no per-request task): admission, request ids, logs and metrics;
body limit.

Admission (load shedding) runs first, around everything else: it decides from the headers
alone, with no key lookup and no body read, so a refusal costs next to nothing while the
gateway is full or an address floods it with bad keys (decision 11).

The body limit counts bytes as they arrive, so a client that omits Content-Length (chunked)
cannot make the gateway buffer more than ``max_body_bytes`` either.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ketnoi.settings import Settings
from services.gateway.keys import hash_key
from services.gateway.logs import log, reset_request_id, set_request_id
from services.gateway.metrics import GatewayMetrics
from services.gateway.problems import PROBLEM_JSON, problem_body, problem_response
from services.gateway.ratelimit import InFlight, RateLimiter

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Gives every request an id (the client's ``X-Request-ID`` if sane), echoes it, and logs
    and measures the request once it is answered."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _header(scope, b"x-request-id")
        request_id = sent if sent and _SAFE_ID.match(sent) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route, status, elapsed)
            caller = (scope.get("state") or {}).get("caller")
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "org_id": getattr(caller, "org_id", None),
                },
            )
            reset_request_id(token)


class BodyLimit:
    """413 for a body over ``max_bytes``: by Content-Length up front, or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(
                413, self._detail(), instance=scope["path"], kind="body-too-large"
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPException from body reading; our handler makes it
                    # problem+json like every other error.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counted, send)

    def _detail(self) -> str:
        return (
            f"the body is larger than {self.max_bytes:,} bytes; send fewer items per "
            "request (bulk requests take up to the configured number of items)"
        )


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


# -- admission: the in-flight limit and the auth-failure throttle ------------------------------

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
"""Never counted nor refused: a supervisor must see a busy gateway as alive and ready."""
STREAM_PATHS = re.compile(r"^/monitor/sessions/[^/]+/events$")
"""The monitor's server-sent events: not counted in the in-flight limit (the monitor caps open
streams per key and per process), so the browsers of a venue reconnecting together after a
restart are not refused; an address failing to authenticate is still throttled."""
UNIT_BYTES = 2048
"""A request holds one unit of the in-flight limit per started 2 KiB of body: a usual single
offer (under 2 KB, about 2 ms of gateway CPU) holds 1, a 25-offer bulk request (~7 KB, about
8 ms: validation costs CPU in proportion to the body) holds 4."""
SHED_LOG_EVERY_S = 1.0
"""Refusals are counted in metrics and logged as one summary line per second at most: a flood
must not turn into a flood of log lines."""
HEAVY_SHARE = 0.25
"""Share of the in-flight limit that clients found heavy may hold together (at least one
request at a time): under overload the gateway's CPU then goes mostly to light clients and
refusals, so a quiet key's request is not queued behind catalogue validation. Measured under
overload with 200 catalogue pushers, two runs each: a quiet key's p50 went from 8-9 ms alone to
31-48 ms without the slice, 13-19 ms with it (decision 13)."""
LOGIN_COOKIE = b"ketnoi_monitor"
"""``services.monitor.logins.COOKIE`` (not imported: the monitor imports the gateway)."""


class _Attempt:
    """Per request: whether a key or login lookup missed (set by the caches in auth.py)."""

    __slots__ = ("missed",)

    def __init__(self) -> None:
        self.missed = False


_attempt: ContextVar[_Attempt | None] = ContextVar("ketnoi_auth_attempt", default=None)


def note_unknown_credential() -> None:
    """Record that this request presented an unknown or revoked key (or login): it counts as an
    auth failure of its address even when answered otherwise than 401 (a login form redirects)."""
    attempt = _attempt.get()
    if attempt is not None:
        attempt.missed = True


class Admission:
    """Load shedding before any costly step, from the request's headers alone.

    1. ``/healthz`` and ``/readyz`` pass untouched.
    2. A request whose key (or monitor login) this gateway has not seen valid spends a token of
       its address's auth-failure budget, given back once it authenticates (or when step 3
       refuses it, unless the address spent half its budget); with none left it gets 429 with
       Retry-After. A flood of bad keys never reaches the store, while a key in use behind the
       same address (NAT) still goes through.
    3. ``InFlight`` admits the request or it gets 503 with Retry-After. Clients are told apart
       by their key when it is known valid, else by their address; heavy ones hold at most
       ``HEAVY_SHARE`` of the limit together. The monitor's event streams
       are not counted (the monitor caps them itself), and any other server-sent-events answer
       gives its units back once it starts.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        in_flight: InFlight,
        failures: RateLimiter,
        metrics: GatewayMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.in_flight = in_flight
        self.failures = failures
        self.metrics = metrics
        self._clock = clock
        self._shed = {"in-flight": 0, "auth-failures": 0}
        self._counters = {reason: metrics.shed.labels(reason) for reason in self._shed}
        self._logged_at = clock()
        self._rendered: dict[tuple[int, int, str], tuple[list[tuple[bytes, bytes]], bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        credential, length, chunked = _parse(scope)
        client = _known(scope, credential)
        charged = client is None
        if charged:  # not proven valid yet: spend the address's budget, refunded on success
            wait = self.failures.take(address)
            if wait > 0:
                await self._refuse_throttled(scope, receive, send, wait)
                return
            client = f"address:{address}"
        units = math.inf if chunked else 1 + max(0, length - 1) // UNIT_BYTES
        units = int(min(units, self.in_flight.limit))
        counted = not STREAM_PATHS.match(scope["path"])
        admitted = self.in_flight.enter(client, units) if counted else None
        if counted and admitted is None:
            if charged and self.failures.spent(address) <= self.failures.burst / 2:
                # Not a failure: a new key's first request may meet a full gateway. An address
                # that spent half its budget keeps the charge, so its flood turns into 429s.
                self.failures.give(address)
            await self._refuse_full(scope, receive, send)
            return
        self.metrics.in_flight.set(self.in_flight.held)
        attempt = _Attempt()
        token = _attempt.set(attempt)
        status = 500
        unsettled = True

        def release() -> None:
            nonlocal admitted
            if admitted is not None:
                self.in_flight.leave(client, admitted)
                admitted = None
                self.metrics.in_flight.set(self.in_flight.held)

        def settle() -> None:
            """Once the answer starts, whether the key failed is known: a success gives the
            token back (a stream does not keep it for its lifetime), a failure keeps it."""
            nonlocal unsettled
            if unsettled:
                unsettled = False
                failed = status == 401 or attempt.missed
                if charged and not failed:
                    self.failures.give(address)
                elif failed and not charged:
                    self.failures.take(address)  # a key seen valid before, revoked since

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                settle()
                if _event_stream(message):
                    release()  # any other stream: long-lived, it gives its place back
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            _attempt.reset(token)
            release()
            settle()

    async def _refuse_full(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"the gateway is serving as much as it can at once ({self.in_flight.limit} "
            "requests); retry in 1 s, and spread out bursts of requests"
        )
        await self._refuse(scope, receive, send, 503, detail, 1, "in-flight", "overloaded")

    async def _refuse_throttled(
        self, scope: Scope, receive: Receive, send: Send, wait: float
    ) -> None:
        seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 60
        detail = (
            "too many requests without a valid API key from this address; retry in "
            f"{seconds} s with a valid key (the platform admin issues them: `ketnoi keys create`)"
        )
        await self._refuse(scope, receive, send, 429, detail, seconds, "auth-failures",
                           "auth-failures")  # fmt: skip

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        retry_after: int,
        reason: str,
        kind: str,
    ) -> None:
        self._counters[reason].inc()
        self._shed[reason] += 1
        now = self._clock()
        if now - self._logged_at >= SHED_LOG_EVERY_S:
            self._log_shed(now)
        path = scope["path"]
        rendered = self._rendered.get((status, retry_after, path))
        if rendered is None:  # rendered once per answer and path: a refusal must stay cheap
            if len(self._rendered) >= RENDERED_MAX:
                self._rendered.clear()
            rendered = self._rendered[(status, retry_after, path)] = _render(
                status, detail, retry_after, path, kind
            )
        headers, body = rendered
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    def _log_shed(self, now: float) -> None:
        log.warning(
            "load shed",
            extra={
                "refused": dict(self._shed),
                "seconds": round(now - self._logged_at, 1),
                "in_flight": self.in_flight.held,
                "limit": self.in_flight.limit,
                "light_below_per_s": round(min(self.in_flight.share, 1e9), 2),
            },
        )
        self._shed = dict.fromkeys(self._shed, 0)
        self._logged_at = now


RENDERED_MAX = 256


def _render(
    status: int, detail: str, retry_after: int, path: str, kind: str
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A refusal as problem+json: the same body as every other error, without a request id
    (refusals are counted and summarised, not logged one by one)."""
    body = json.dumps(
        problem_body(status, detail, instance=path, kind=kind),
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    return headers, body


def install_admission(app: FastAPI, settings: Settings, metrics: GatewayMetrics) -> None:
    """Put ``Admission`` around the app's whole middleware stack (built lazily by Starlette), so
    a refusal skips the error, request-context and body middleware. Call it before
    ``security.install``: the security headers then wrap the refusals too. The limits are on
    ``app.state.in_flight`` and ``app.state.auth_failures``."""
    app.state.in_flight = InFlight(
        settings.max_in_flight, heavy=heavy_units(settings.max_in_flight)
    )
    app.state.auth_failures = RateLimiter(
        settings.auth_failures_per_second, settings.auth_failure_burst
    )
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_admission() -> ASGIApp:
        return Admission(
            build(),
            in_flight=app.state.in_flight,
            failures=app.state.auth_failures,
            metrics=metrics,
        )

    app.build_middleware_stack = build_with_admission  # type: ignore[method-assign]


def heavy_units(limit: int) -> int:
    """Units of an in-flight limit of ``limit`` that heavy clients may hold together."""
    return max(1, int(limit * HEAVY_SHARE))


def _parse(scope: Scope) -> tuple[tuple[str, str] | None, int, bool]:
    """(credential, Content-Length, chunked) from the raw headers, in one pass. The credential
    is ("key", key) from ``Authorization: Bearer`` or ``X-API-Key``, else ("login", token)
    from the monitor's cookie: the order in which the gateway itself looks."""
    bearer = api_key = token = None
    length, chunked = 0, False
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            if value[:7].lower() == b"bearer ":
                bearer = value[7:].strip().decode("latin-1") or None
        elif name == b"x-api-key":
            api_key = value.strip().decode("latin-1") or None
        elif name == b"cookie":
            for part in value.split(b";"):
                cookie, _, content = part.strip().partition(b"=")
                if cookie == LOGIN_COOKIE:
                    token = content.strip().decode("latin-1") or None
        elif name == b"content-length":
            length = int(value) if value.isdigit() else 0
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if bearer or api_key:
        return ("key", bearer or api_key or ""), length, chunked
    return (("login", token) if token else None), length, chunked


def _known(scope: Scope, credential: tuple[str, str] | None) -> str | None:
    """The client name of a credential this gateway has seen valid (its key or login cache
    says so, no store lookup), else None."""
    if credential is None:
        return None
    kind, secret = credential
    state = getattr(scope.get("app"), "state", None)
    if kind == "key":
        cache = getattr(state, "key_cache", None)
    else:
        cache = getattr(getattr(state, "monitor", None), "logins", None)
    if cache is None:
        return None
    digest = hash_key(secret)
    return f"{kind}:{digest}" if cache.known(digest) else None


def _event_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return value.startswith(b"text/event-stream")
    return False
