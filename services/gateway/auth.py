"""Authentication (who is calling) and the per-key rate limit, as one FastAPI dependency.

``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). Lookups are cached for
``api_key_cache_seconds``, so a revoked key stops working within that time without a store
round trip on every request. Unknown keys are cached too (negative entries, as short-lived and
bounded on their own), and concurrent lookups of one key share one store query, so a flood
repeating a bad key costs one query per interval, and a flood of new bad keys cannot evict the
good ones (the address throttle in ``middleware.Admission`` stops it before the store).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.store import API_KEYS
from services.gateway.context import Gateway, GatewayDep
from services.gateway.keys import Caller, caller_from, hash_key
from services.gateway.middleware import note_unknown_credential
from services.gateway.problems import ApiProblem

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `ketnoi keys create --org ... --role ...`, sent as "
    "`Authorization: Bearer <key>` (or `X-API-Key: <key>`).",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ketnoi"'}
_CACHE_MAX = 10_000
_UNKNOWN_MAX = 10_000


class CallerCache:
    """digest -> caller: bounded, short-lived, per process, with a negative cache of its own.

    Valid entries stay after they expire (until evicted), so that ``known`` can vouch for a
    digest without a store lookup: Admission lets a known key through an address's throttle.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Caller, float]] = {}
        self._unknown: dict[str, float] = {}  # digest -> expiry; insertion order = expiry order
        self._pending: dict[str, asyncio.Task[Caller | None]] = {}

    async def get(
        self, digest: str, fetch: Callable[[], Awaitable[Caller | None]]
    ) -> Caller | None:
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        miss = self._unknown.get(digest)
        if miss is not None and miss > now:
            note_unknown_credential()
            return None
        task = self._pending.get(digest)
        if task is None:  # one store query per digest, however many requests wait for it
            task = asyncio.ensure_future(fetch())
            self._pending[digest] = task
            task.add_done_callback(lambda done: self._settle(digest, done))
        caller = await asyncio.shield(task)
        if caller is None:
            note_unknown_credential()
        return caller

    def known(self, digest: str) -> bool:
        """Whether this digest was valid at its last lookup (however long ago)."""
        return digest in self._entries

    def forget(self, digest: str) -> None:
        """The next lookup asks the store. A valid entry stays known until then: a re-check
        every few seconds (the monitor's streams) must not make a key in use look new."""
        hit = self._entries.get(digest)
        if hit is not None:
            self._entries[digest] = (hit[0], 0.0)
        self._unknown.pop(digest, None)

    def _settle(self, digest: str, task: asyncio.Task[Caller | None]) -> None:
        self._pending.pop(digest, None)
        if task.cancelled() or task.exception() is not None:
            return  # not cached: the next request asks the store again
        caller, expiry = task.result(), time.monotonic() + self.ttl_s
        self._unknown.pop(digest, None)
        if caller is None:
            self._entries.pop(digest, None)
            if len(self._unknown) >= _UNKNOWN_MAX:
                del self._unknown[next(iter(self._unknown))]  # the soonest to expire
            self._unknown[digest] = expiry
            return
        if digest not in self._entries and len(self._entries) >= _CACHE_MAX:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (caller, expiry)


class KeyCache(CallerCache):
    """API keys by their hash: a revoked key stops working within ``ttl_s``."""

    async def lookup(self, gateway: Gateway, key: str) -> Caller | None:
        digest = hash_key(key)

        async def fetch() -> Caller | None:
            doc = await gateway.db[API_KEYS].find_one({"_id": digest})
            caller = caller_from(doc) if doc else None
            gateway.metrics.key_lookups.labels("yes" if caller else "no").inc()
            return caller

        return await self.get(digest, fetch)


async def authenticate(
    request: Request,
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)] = None,
) -> Caller:
    key = credentials.credentials if credentials is not None else x_api_key
    if not key:
        raise ApiProblem(
            401, "send your API key as `Authorization: Bearer <key>`", headers=_CHALLENGE
        )
    caller = await request.app.state.key_cache.lookup(gateway, key)
    if caller is None:
        raise ApiProblem(
            401,
            "this API key is unknown or revoked; ask the platform admin "
            "for a new one (`ketnoi keys create`)",
            headers=_CHALLENGE,
        )
    request.state.caller = caller
    wait = gateway.limiter.take(caller.key_id)
    if wait > 0:
        gateway.metrics.rate_limited.inc()
        seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 60
        raise ApiProblem(
            429,
            f"more than {gateway.limiter.burst} requests at once or "
            f"{gateway.limiter.rate:g}/s sustained for this key; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]
