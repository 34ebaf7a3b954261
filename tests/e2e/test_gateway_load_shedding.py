"""Load shedding on the real gateway app, run in this process with the session's store and a
stand-in publisher (so a test can hold writes in flight): a flood of unknown keys is answered
401, then 429 without reaching the store, while a key in use is still served; a full gateway
answers 503 with Retry-After at once, health checks still answer, and it recovers.

Each test has a private app, so its throttled address and in-flight count touch no other test.
Performance (how cheap a refusal is, p99 under overload) is measured by ``python -m
bench.gateway``, not asserted here.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from schemas.events import Envelope
from tests.e2e.conftest import InProcess
from tests.factories import offer_body

pytestmark = pytest.mark.infra


class HeldPublisher:
    """Acknowledges every publish, but only once ``release`` is set when ``hold`` is."""

    def __init__(self, hold: bool = False) -> None:
        self.release = asyncio.Event()
        if not hold:
            self.release.set()
        self.holding = 0
        self.published: list[Envelope] = []

    @property
    def connected(self) -> bool:
        return True

    async def publish_many(self, items: Sequence[tuple[str, Envelope]]) -> None:
        self.holding += 1
        try:
            await self.release.wait()
        finally:
            self.holding -= 1
        self.published.extend(event for _, event in items)


async def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _offer(supplier: str) -> dict[str, Any]:
    return offer_body("2", "tấn", category="coffee", supplier_id=supplier)


def _lookups(metrics: str, found: str) -> float:
    prefix = f'ketnoi_gateway_key_lookups_total{{found="{found}"}} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


async def test_an_unknown_key_flood_gets_401_then_429_and_another_key_is_served_meanwhile(
    in_process: InProcess, issue_key: Callable[..., str]
) -> None:
    supplier = f"htx-flood-{uuid.uuid4().hex[:6]}"
    good = {"Authorization": f"Bearer {issue_key(supplier, 'supplier')}"}
    burst = 5
    async with in_process(
        HeldPublisher(),
        auth_failure_burst=burst,
        auth_failures_per_second=0.001,  # no token comes back during the test
        metrics_access="open",
    ) as client:
        first = await client.post("/v1/offers", json=_offer(supplier), headers=good)
        assert first.status_code == 202, first.text  # the key is in use
        statuses: Counter[int] = Counter()
        answers: list[httpx.Response] = []

        async def flood(count: int, at_once: int = 10) -> None:
            async def one() -> None:
                key = f"knk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
                headers = {"Authorization": f"Bearer {key}"}
                answer = await client.post("/v1/offers", json=_offer(supplier), headers=headers)
                statuses[answer.status_code] += 1
                answers.append(answer)

            for _ in range(count // at_once):
                await asyncio.gather(*[one() for _ in range(at_once)])

        flooding = asyncio.create_task(flood(2000))
        await _until(lambda: statuses[429] > 0)
        during = await client.post("/v1/offers", json=_offer(supplier), headers=good)
        assert during.status_code == 202, during.text
        assert not flooding.done(), "the key in use was answered only after the flood"
        await flooding

        assert statuses == {401: burst, 429: 2000 - burst}
        throttled = next(a for a in answers if a.status_code == 429)
        assert throttled.headers["content-type"] == "application/problem+json"
        assert int(throttled.headers["Retry-After"]) >= 1
        assert throttled.json()["type"] == "urn:ketnoi:problem:auth-failures"
        assert "ketnoi keys create" in throttled.json()["detail"]
        anonymous = await client.post("/v1/offers", json=_offer(supplier))
        assert anonymous.status_code == 429  # a missing key is an auth failure too
        metrics = (await client.get("/metrics", headers=good)).text
        assert _lookups(metrics, "no") == burst  # only the burst ever reached the store
        assert 'ketnoi_gateway_shed_total{reason="auth-failures"} 1996.0' in metrics


async def test_a_full_gateway_answers_503_with_retry_after_at_once_and_recovers(
    in_process: InProcess, issue_key: Callable[..., str]
) -> None:
    supplier = f"htx-full-{uuid.uuid4().hex[:6]}"
    good = {"Authorization": f"Bearer {issue_key(supplier, 'supplier')}"}
    publisher = HeldPublisher(hold=True)
    async with in_process(publisher, max_in_flight=2) as client:
        try:
            await _fill_then_refuse(client, publisher, good, supplier)
        finally:
            publisher.release.set()  # a failed assertion must fail the test, not hang its exit


async def _fill_then_refuse(
    client: httpx.AsyncClient, publisher: HeldPublisher, good: dict[str, str], supplier: str
) -> None:
    assert (await client.get("/v1/offers", headers=good)).status_code == 200
    held = [
        asyncio.create_task(client.post("/v1/offers", json=_offer(supplier), headers=good))
        for _ in range(2)
    ]
    await _until(lambda: publisher.holding == 2)

    async with asyncio.timeout(30):  # without the limit it would wait for the release
        refused = await client.post("/v1/offers", json=_offer(supplier), headers=good)
    assert publisher.holding == 2, "the 503 came while the gateway was still full"
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["x-content-type-options"] == "nosniff"  # headers wrap it too
    problem = refused.json()
    assert problem["type"] == "urn:ketnoi:problem:overloaded"
    assert "(2 requests)" in problem["detail"] and "retry in 1 s" in problem["detail"]
    assert (await client.get("/healthz")).status_code == 200  # never refused
    assert len(publisher.published) == 0

    publisher.release.set()
    assert [(await answer).status_code for answer in held] == [202, 202]
    after = await client.post("/v1/offers", json=_offer(supplier), headers=good)
    assert after.status_code == 202, after.text
    assert len(publisher.published) == 3
