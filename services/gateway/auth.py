"""Authentication (who is calling) and the per-key rate limit, as one FastAPI dependency.

``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). Lookups are cached for
``api_key_cache_seconds``, so a revoked key stops working within that time without a store
round trip on every request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.store import API_KEYS
from services.gateway.context import Gateway, GatewayDep
from services.gateway.keys import Caller, caller_from, hash_key
from services.gateway.problems import ApiProblem

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `ketnoi keys create --org ... --role ...`, sent as "
    "`Authorization: Bearer <key>` (or `X-API-Key: <key>`).",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ketnoi"'}
_CACHE_MAX = 10_000


class CallerCache:
    """digest -> (caller or None, expiry): bounded, short-lived, per process."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Caller | None, float]] = {}

    async def get(
        self, digest: str, fetch: Callable[[], Awaitable[Caller | None]]
    ) -> Caller | None:
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        caller = await fetch()
        if len(self._entries) >= _CACHE_MAX:
            self._entries.clear()
        self._entries[digest] = (caller, now + self.ttl_s)
        return caller

    def forget(self, digest: str) -> None:
        self._entries.pop(digest, None)


class KeyCache(CallerCache):
    """API keys by their hash: a revoked key stops working within ``ttl_s``."""

    async def lookup(self, gateway: Gateway, key: str) -> Caller | None:
        digest = hash_key(key)

        async def fetch() -> Caller | None:
            doc = await gateway.db[API_KEYS].find_one({"_id": digest})
            return caller_from(doc) if doc else None

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
