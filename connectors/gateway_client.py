"""The gateway's API as a connector uses it: acting for one organization (its API key), so
every authorization, validation and idempotency rule of the API applies to what it sends.

Writes carry an Idempotency-Key derived from what they send, and are retried with it on 429,
503, timeouts and dropped connections (exponential backoff with full jitter, honouring
Retry-After): a retry of an answered write returns the first answer, never a second item.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
ATTEMPTS = 6
BASE_DELAY_S = 0.5
MAX_DELAY_S = 20.0
BUSY_WAIT_S = 300.0
"""How long a busy gateway (it answers, asking to retry later) is waited for, per request."""
PAGE = 200  # the API's largest page
KINDS = {
    "offers": ("offer_id", "supplier_id", "withdraw"),
    "demands": ("demand_id", "buyer_id", "cancel"),
}


class GatewayError(RuntimeError):
    """The gateway refused the connector itself (bad key, unreachable): one sentence."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


def backoff(
    attempt: int, retry_after: str | None = None, *, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): full jitter over an exponential
    ceiling, at least what Retry-After asks."""
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))
    wait = ceiling * rng()
    if retry_after and retry_after.isdigit():
        wait = max(wait, float(retry_after))
    return wait


def idempotency_key(*parts: object) -> str:
    digest = hashlib.sha256(
        json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    return f"ketnoi-connector-{digest[:48]}"


class GatewayClient:
    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 60.0) -> None:
        if not api_key:
            raise GatewayError(
                "no API key: give --key or set KETNOI_API_KEY (an admin issues keys with "
                "`ketnoi keys create`)"
            )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "ketnoi-connector"},
        )
        self.base_url = base_url
        self.api_key = api_key
        self.busy_answers = 0  # 429/503 answers waited out: the gateway was busy

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, json_body: Any = None, key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:  # fmt: skip
        """One call, retried while the answer is a retryable status or a transport error. A
        busy gateway (429, or 503 with Retry-After) is alive: it is waited for up to
        ``BUSY_WAIT_S`` in all; anything else gets ``ATTEMPTS`` tries."""
        headers = {"Idempotency-Key": key} if key else {}
        last: str = ""
        failures = 0
        busy_until = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                response = await self._http.request(
                    method, path, json=json_body, headers=headers, params=params
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                retry_after, busy = None, False
            else:
                if response.status_code == 401:
                    raise GatewayError(
                        "the gateway refused the API key (401): check --key / KETNOI_API_KEY"
                    )
                if response.status_code not in RETRY_STATUSES:
                    body = response.json() if response.content else None
                    return Answer(response.status_code, body)
                last = f"{response.status_code} {_problem_detail(response)}"
                retry_after = response.headers.get("retry-after")
                busy = response.status_code == 429 or (
                    response.status_code == 503 and retry_after is not None
                )
            if busy and time.monotonic() < busy_until:
                self.busy_answers += 1
                await asyncio.sleep(backoff(1, retry_after))
                continue
            failures += 1
            if failures >= ATTEMPTS or busy:
                raise GatewayError(
                    f"{method} {path}: no answer after {failures} attempts ({last}); "
                    f"is the gateway at {self.base_url} up? (`ketnoi infra status`)"
                )
            await asyncio.sleep(backoff(failures, retry_after))

    async def existing(self, kind: str, source: str) -> list[dict[str, Any]]:
        """Every open item of ``source`` this organization may see."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        status = "open"
        while True:
            params = {"ref_source": source, "status": status, "limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            answer = await self.request("GET", f"/v1/{kind}", params=params)
            if answer.status != 200:
                raise GatewayError(f"listing {kind} of source {source!r}: {detail(answer)}")
            items.extend(answer.body["items"])
            cursor = answer.body.get("next_cursor")
            if not cursor:
                return items

    async def create(self, kind: str, bodies: list[dict[str, Any]]) -> list[Answer]:
        """A bulk create; one Answer per body, in order."""
        key = idempotency_key("create", kind, bodies)
        answer = await self.request("POST", f"/v1/{kind}:bulk", json_body={"items": bodies},
                                    key=key)  # fmt: skip
        return _per_item(answer, len(bodies))

    async def update_many(self, kind: str, changes: list[tuple[str, dict[str, Any]]]
                          ) -> list[Answer]:  # fmt: skip
        """A bulk update of (id, body) pairs; one Answer per pair, in order."""
        key = idempotency_key("update", kind, changes)
        singular = KINDS[kind][0].removesuffix("_id")
        items = [{KINDS[kind][0]: item_id, singular: body} for item_id, body in changes]
        answer = await self.request("POST", f"/v1/{kind}:bulk-update", json_body={"items": items},
                                    key=key)  # fmt: skip
        return _per_item(answer, len(changes))

    async def withdraw(self, kind: str, item_id: str, reason: str) -> Answer:
        action = KINDS[kind][2]
        key = idempotency_key(action, kind, item_id)
        return await self.request("POST", f"/v1/{kind}/{item_id}/{action}",
                                  json_body={"reason": reason}, key=key)  # fmt: skip


def _per_item(answer: Answer, count: int) -> list[Answer]:
    """A bulk answer split into one Answer per item (the whole answer for each when the
    request as a whole was refused)."""
    if (
        answer.status in (202, 207, 422)
        and isinstance(answer.body, dict)
        and "results" in (answer.body)
    ):
        by_index = {r["index"]: r for r in answer.body["results"]}
        return [Answer(by_index[i]["status"], by_index[i]) for i in range(count)]
    return [answer] * count


def detail(answer: Answer) -> str:
    """The API's one-sentence reason, with field problems (as the row's problem cell)."""
    body = answer.body if isinstance(answer.body, dict) else {}
    errors = body.get("errors") or []
    if errors:
        return "; ".join(
            f"{e.get('path')}: {e.get('problem')}"
            + (f" (did you mean {e['suggestion']!r}?)" if e.get("suggestion") else "")
            for e in errors[:5]
        )
    return str(body.get("detail") or body.get("title") or f"HTTP {answer.status}")


def _problem_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or "")[:200]
    except ValueError:
        return response.text[:200]
