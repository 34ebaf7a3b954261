"""Load shedding in the gateway's memory: the in-flight limit with its reserve for light
clients, the per-address auth-failure throttle, the key cache's negative entries, and the
Admission middleware around a stand-in app (no store, no Kafka: every step is awaited, so
nothing here depends on timing)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ketnoi.settings import Settings
from services.gateway.auth import CallerCache
from services.gateway.keys import Caller, Role, hash_key
from services.gateway.metrics import GatewayMetrics
from services.gateway.middleware import (
    LOGIN_COOKIE,
    install_admission,
    note_unknown_credential,
)
from services.gateway.ratelimit import InFlight, RateLimiter, light_threshold, water_level
from services.monitor.logins import COOKIE

CALLER = Caller("htx-dak-ha", Role.SUPPLIER, "k1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- RateLimiter: give, wait, bounded ---------------------------------------------------------


def test_wait_peeks_without_taking_and_give_returns_a_token():
    clock = Clock()
    limiter = RateLimiter(rate_per_second=1.0, burst=2, clock=clock)
    assert limiter.wait("a") == 0.0 and len(limiter) == 0  # asking stores nothing
    assert limiter.take("a") == 0.0 and limiter.take("a") == 0.0
    assert limiter.wait("a") == pytest.approx(1.0)
    assert limiter.wait("a") == pytest.approx(1.0)  # still not taken
    limiter.give("a")
    assert limiter.wait("a") == 0.0 and limiter.take("a") == 0.0
    for _ in range(5):
        limiter.give("a")  # never above the burst
    assert [limiter.take("a") for _ in range(3)][-1] > 0


def test_a_flood_of_new_names_keeps_the_limiter_bounded():
    clock = Clock()
    limiter = RateLimiter(rate_per_second=0.1, burst=1, clock=clock, max_buckets=100)
    for i in range(1000):
        clock.now += 0.001
        assert limiter.take(f"new-{i}") == 0.0  # a new name has its burst
        assert len(limiter) <= 100


def test_idle_buckets_are_forgotten_before_spent_ones():
    clock = Clock()
    limiter = RateLimiter(rate_per_second=0.001, burst=1, clock=clock, max_buckets=3)
    limiter.take("spent")  # empty for 1000 s
    for name in ("idle-1", "idle-2"):
        limiter.take(name)
        limiter.give(name)  # full again: forgetting it changes nothing
    limiter.take("new")  # over the bound: the full ones go, not the spent one
    assert limiter.wait("spent") > 0 and len(limiter) == 2


# -- InFlight ---------------------------------------------------------------------------------


def test_anyone_is_admitted_up_to_the_shared_part_and_nobody_beyond_the_limit():
    clock = Clock()
    limit = InFlight(8, clock=clock)  # reserve 2
    assert limit.reserve == 2
    assert all(limit.enter(f"c{i}") for i in range(8))  # nothing completed yet: all light
    assert not limit.enter("another")
    limit.leave("c0")
    assert limit.held == 7 and limit.enter("another")


def test_the_reserve_goes_to_a_light_client_while_a_heavy_one_is_refused():
    clock = Clock()
    limit = InFlight(8, clock=clock)
    # History: a heavy key at 40 requests/s, a quiet one at 1/s; the gateway completes 20/s.
    for _ in range(200):  # 5 s
        clock.now += 0.025
        if limit.enter("heavy"):
            limit.leave("heavy")
        if round(clock.now * 1000) % 1000 == 0 and limit.enter("quiet"):
            limit.leave("quiet")
    for i in range(6):  # the heavy key fills the shared part
        assert limit.enter("heavy"), i
    clock.now += 0.3  # the threshold is recomputed
    assert not limit.enter("heavy"), "a heavy client must not take the reserve"
    assert limit.share < 40
    assert limit.enter("quiet"), "a light client is admitted in the reserve"
    assert limit.held == 7


def _history(limit: InFlight, clock: Clock, seconds: float, senders: dict[str, tuple]) -> None:
    """Every 10 ms, each sender whose period has come sends (and is answered at once)."""
    for step in range(int(seconds * 100)):
        clock.now += 0.01
        for name, (period, units) in senders.items():
            if step % round(period * 100) == 0 and limit.enter(name, units):
                limit.leave(name, units)


def test_work_not_requests_decides_who_is_light():
    """A key pushing a 4-unit catalogue 1.5 times a second asks for more than a key sending
    one offer a second, though it sends about as many requests."""
    clock = Clock()
    limit = InFlight(16, clock=clock)
    senders = {f"bulk-{i}": (0.67, 4) for i in range(50)}
    senders.update({f"one-{i}": (1.0, 1) for i in range(5)})
    _history(limit, clock, 6.0, senders)
    held = [limit.enter(f"bulk-{i}", 4) for i in range(2)]  # 8 of 12 shared units
    assert all(held) and limit.held == 8
    assert limit.enter("bulk-9", 4) and limit.held == 12  # the shared part is full now
    clock.now += 0.3
    assert not limit.enter("bulk-10", 4), "a catalogue pusher does not get the reserve"
    assert limit.enter("one-0", 1), "a key sending one offer a second does"


def test_a_flood_of_new_clients_does_not_look_quieter_than_a_steady_light_one():
    """200 keys start together at 2 units/s each: their averages start from zero, but corrected
    for their short history they read heavier than a key at 1/s all along."""
    clock = Clock()
    limit = InFlight(16, clock=clock)
    _history(limit, clock, 10.0, {f"steady-{i}": (1.0, 1) for i in range(20)})
    flood = {f"new-{i}": (0.5, 1) for i in range(200)}
    flood.update({f"steady-{i}": (1.0, 1) for i in range(20)})
    _history(limit, clock, 0.6, flood)  # the flood is only 0.6 s old
    for i in range(12):
        assert limit.enter(f"new-{i}"), i  # the shared part
    clock.now += 0.3
    assert not limit.enter("new-50"), "a new flooding key does not get the reserve"
    assert limit.enter("steady-3"), "the steady light key does"


def test_a_large_body_holds_several_units_but_at_most_half_the_shared_part():
    limit = InFlight(12, clock=Clock())  # reserve 3, shared 9
    assert limit.enter("bulk", 3) and limit.held == 3
    assert limit.enter("huge", 1000) and limit.held == 7  # capped at 9 // 2 = 4
    limit.leave("huge", 1000)
    limit.leave("bulk", 3)
    assert limit.held == 0


def test_water_level_is_the_max_min_fair_share():
    assert water_level([1, 2, 3], 10) == math.inf
    assert water_level([1, 10, 10], 11) == pytest.approx(5.0)  # 1 + 5 + 5
    assert water_level([4, 4], 4) == pytest.approx(2.0)


def test_quiet_clients_are_light_even_below_a_crowd_fair_share():
    """200 heavy keys at 15/s and 20 quiet ones at 1/s; the gateway completes 200/s. The
    max-min share (~0.9/s) would call the quiet keys heavy; together they need 20/s, which
    fits in half of 200, so they are light. The heavy keys are not."""
    demands = [15.0] * 200 + [1.0] * 20
    threshold = light_threshold(demands, 200.0)
    assert 1.0 <= threshold < 15.0
    assert light_threshold(demands, 0.0) == math.inf  # nothing completed: not contended
    assert light_threshold([1.0, 2.0], 10.0) == math.inf


def test_a_heavy_client_reading_low_for_a_moment_is_not_taken_for_a_quiet_one():
    """Averages are noisy: the heavy keys (7.6 units/s) read 5.8 to 9.7. Half of a capacity of
    110 would fit the 20 quiet keys and the five lowest heavy ones; the jump from 1.3 to 5.8
    ends the quiet group first."""
    quiet = [0.8 + 0.025 * i for i in range(20)]  # up to 1.275
    heavy = [5.8 + 0.02 * i for i in range(200)]
    threshold = light_threshold(quiet + heavy, 110.0)
    assert max(quiet) <= threshold < min(heavy)
    # A tail of heavy clients reading lower, each a little above the one before, does not
    # take the threshold up step by step.
    tail = [2.3, 2.7, 3.2, 3.8, 4.5, 5.2]
    threshold = light_threshold(quiet + tail + heavy, 110.0)
    assert max(quiet) <= threshold < min(tail)


# -- CallerCache: negative entries, one query per key -----------------------------------------


async def test_an_unknown_key_is_looked_up_once_per_interval():
    cache = CallerCache(ttl_s=60)
    calls = 0

    async def fetch() -> Caller | None:
        nonlocal calls
        calls += 1
        return None

    for _ in range(50):
        assert await cache.get("bad", fetch) is None
    assert calls == 1 and not cache.known("bad")


async def test_concurrent_lookups_of_one_key_share_one_store_query():
    cache = CallerCache(ttl_s=60)
    gate = asyncio.Event()
    calls = 0

    async def fetch() -> Caller | None:
        nonlocal calls
        calls += 1
        await gate.wait()
        return CALLER

    waiting = [asyncio.create_task(cache.get("k", fetch)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [CALLER] * 20
    assert calls == 1 and cache.known("k")


async def test_a_key_found_revoked_is_no_longer_known_and_unknown_keys_are_bounded(monkeypatch):
    monkeypatch.setattr("services.gateway.auth._UNKNOWN_MAX", 10)
    cache = CallerCache(ttl_s=0)  # every get asks the store

    async def found() -> Caller | None:
        return CALLER

    async def revoked() -> Caller | None:
        return None

    assert await cache.get("k", found) == CALLER and cache.known("k")
    assert await cache.get("k", revoked) is None and not cache.known("k")
    for i in range(100):
        await cache.get(f"bad-{i}", revoked)
    assert len(cache._unknown) <= 10


async def test_a_forgotten_key_is_asked_again_and_stays_known_until_then():
    cache = CallerCache(ttl_s=60)
    answers = [CALLER, None]

    async def fetch() -> Caller | None:
        return answers.pop(0)

    assert await cache.get("k", fetch) == CALLER
    cache.forget("k")
    assert cache.known("k")  # a re-check does not make a key in use look new
    assert await cache.get("k", fetch) is None  # asked again: revoked meanwhile
    assert not cache.known("k") and answers == []


async def test_a_failed_lookup_is_not_cached():
    cache = CallerCache(ttl_s=60)

    async def broken() -> Caller | None:
        raise ConnectionError("store down")

    async def found() -> Caller | None:
        return CALLER

    with pytest.raises(ConnectionError):
        await cache.get("k", broken)
    assert await cache.get("k", found) == CALLER


# -- Admission around a stand-in app ----------------------------------------------------------


def test_the_monitor_login_cookie_is_the_one_admission_reads():
    assert LOGIN_COOKIE.decode() == COOKIE


class Stand:
    """A stand-in gateway: /slow holds until released, /stream is server-sent events, /v1/x
    checks a key like the real one (401 unknown, noting the miss), and a key cache."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.holding = 0
        self.streaming = 0
        self.lookups = 0
        self.valid = {"good-key"}
        self.app = FastAPI()
        cache = CallerCache(ttl_s=60)
        self.app.state.key_cache = cache

        async def check(request: Request) -> JSONResponse | None:
            header = request.headers.get("authorization", "")
            key = header[7:] if header.startswith("Bearer ") else ""

            async def fetch() -> Caller | None:
                self.lookups += 1
                return CALLER if key in self.valid else None

            if not key or await cache.get(hash_key(key), fetch) is None:
                return JSONResponse({"status": 401}, status_code=401)
            return None

        @self.app.post("/v1/x")
        async def x(request: Request) -> Any:
            return await check(request) or {"ok": True}

        @self.app.get("/slow")
        async def slow() -> dict[str, bool]:
            self.holding += 1
            await self.release.wait()
            self.holding -= 1
            return {"ok": True}

        @self.app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @self.app.get("/monitor/sessions/{session_id}/events")
        @self.app.get("/stream")
        async def stream() -> StreamingResponse:
            async def events() -> AsyncIterator[bytes]:
                self.streaming += 1  # the answer has started
                yield b"data: 1\n\n"
                await self.release.wait()

            return StreamingResponse(events(), media_type="text/event-stream")

        @self.app.post("/login")
        async def login(request: Request) -> JSONResponse:
            note_unknown_credential()  # a bad key in a form: answered by a redirect
            return JSONResponse({}, status_code=303, headers={"Location": "/login?error=key"})

        limits = Settings(max_in_flight=4, auth_failure_burst=3, auth_failures_per_second=0.001)
        install_admission(self.app, limits, GatewayMetrics())
        # No reserve for light clients: with one, whether this single busy client is "light"
        # depends on how much wall time the test took (the share is recomputed every 0.25 s),
        # and a slow machine refused the fourth request. Fairness has its own clocked tests.
        self.app.state.in_flight = InFlight(limits.max_in_flight, reserve=0)

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def _until(condition: Any, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_a_full_gateway_answers_503_with_retry_after_and_health_still_answers():
    stand = Stand()
    async with stand.client() as client:
        good = {"Authorization": "Bearer good-key"}
        assert (await client.post("/v1/x", headers=good)).status_code == 200  # known now
        held = [asyncio.create_task(client.get("/slow", headers=good)) for _ in range(4)]
        await _until(lambda: stand.holding == 4)
        refused = await client.get("/slow", headers=good)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert body["type"] == "urn:ketnoi:problem:overloaded" and "(4 requests)" in body["detail"]
        assert (await client.get("/healthz")).status_code == 200  # exempt
        stand.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 4
        assert stand.app.state.in_flight.held == 0
        assert (await client.post("/v1/x", headers=good)).status_code == 200


async def test_an_open_event_stream_gives_its_place_back():
    stand = Stand()
    async with stand.client() as client:
        good = {"Authorization": "Bearer good-key"}
        assert (await client.post("/v1/x", headers=good)).status_code == 200  # known now
        # More open streams than the limit, and the limit is still free for other requests.
        streams = []
        for opened in range(1, 7):
            streams.append(asyncio.create_task(client.get("/stream", headers=good)))
            await _until(lambda opened=opened: stand.streaming == opened)
        assert stand.app.state.in_flight.held == 0
        slow = [asyncio.create_task(client.get("/slow", headers=good)) for _ in range(4)]
        await _until(lambda: stand.holding == 4)
        stand.release.set()
        answers = await asyncio.gather(*slow, *streams)
        assert [a.status_code for a in answers] == [200] * 10
        assert stand.app.state.in_flight.held == 0


async def test_the_monitor_event_stream_opens_on_a_full_gateway():
    stand = Stand()
    async with stand.client() as client:
        good = {"Authorization": "Bearer good-key"}
        assert (await client.post("/v1/x", headers=good)).status_code == 200
        held = [asyncio.create_task(client.get("/slow", headers=good)) for _ in range(4)]
        await _until(lambda: stand.holding == 4)
        assert (await client.get("/stream", headers=good)).status_code == 503  # counted
        stream = asyncio.create_task(client.get("/monitor/sessions/s1/events", headers=good))
        await _until(lambda: stand.streaming == 1)
        assert stand.app.state.in_flight.held == 4
        stand.release.set()
        answers = await asyncio.gather(*held, stream)
        assert [a.status_code for a in answers] == [200] * 5


async def test_bad_keys_get_401_then_429_without_a_lookup_while_a_known_key_goes_through():
    stand = Stand()
    async with stand.client() as client:
        good = {"Authorization": "Bearer good-key"}
        assert (await client.post("/v1/x", headers=good)).status_code == 200  # in use
        lookups = stand.lookups
        statuses = []
        for i in range(20):
            bad = {"Authorization": f"Bearer bad-{i}"}
            statuses.append((await client.post("/v1/x", headers=bad)).status_code)
            if i == 10:  # during the flood, from the same address
                assert (await client.post("/v1/x", headers=good)).status_code == 200
        assert statuses == [401] * 3 + [429] * 17
        assert stand.lookups == lookups + 3  # the throttled ones never reached the cache
        throttled = await client.post("/v1/x", headers={"Authorization": "Bearer bad-x"})
        assert throttled.headers["retry-after"].isdigit()
        assert throttled.json()["type"] == "urn:ketnoi:problem:auth-failures"
        assert (await client.post("/v1/x")).status_code == 429  # no key at all


async def test_on_a_full_gateway_a_new_key_keeps_its_budget_but_a_failing_address_does_not():
    stand = Stand()
    async with stand.client() as client:
        good = {"Authorization": "Bearer good-key"}
        assert (await client.post("/v1/x", headers=good)).status_code == 200
        held = [asyncio.create_task(client.get("/slow", headers=good)) for _ in range(4)]
        await _until(lambda: stand.holding == 4)
        for _ in range(5):  # unknown (maybe new) keys meeting a full gateway: no failure
            new = await client.post("/v1/x", headers={"Authorization": "Bearer new-key"})
            assert new.status_code == 503
        assert stand.app.state.auth_failures.spent("127.0.0.1") == 0
        stand.release.set()
        await asyncio.gather(*held)
        stand.release.clear()
        for i in range(2):  # two real failures: over half the budget of 3
            failed = await client.post("/v1/x", headers={"Authorization": f"Bearer bad-{i}"})
            assert failed.status_code == 401
        held = [asyncio.create_task(client.get("/slow", headers=good)) for _ in range(4)]
        await _until(lambda: stand.holding == 4)
        flood = [
            (await client.post("/v1/x", headers={"Authorization": f"Bearer x-{i}"})).status_code
            for i in range(3)
        ]
        assert flood == [503, 429, 429]  # the failing address's flood keeps its charges
        stand.release.set()
        await asyncio.gather(*held)


async def test_a_known_monitor_login_passes_a_throttled_address():
    stand = Stand()
    logins = CallerCache(ttl_s=60)

    async def found() -> Caller | None:
        return CALLER

    await logins.get(hash_key("token-1"), found)  # this login was seen valid
    stand.app.state.monitor = SimpleNamespace(logins=logins)
    async with stand.client() as client:
        for i in range(3):  # spend the address's budget
            await client.post("/v1/x", headers={"Authorization": f"Bearer bad-{i}"})
        stranger = await client.post("/login", headers={"Cookie": f"{COOKIE}=other"})
        assert stranger.status_code == 429
        known = await client.get("/nowhere", headers={"Cookie": f"lang=vi; {COOKIE}=token-1"})
        assert known.status_code == 404  # let through to the app, which has no such page


async def test_a_refused_login_form_counts_as_an_auth_failure():
    stand = Stand()
    async with stand.client() as client:
        statuses = [(await client.post("/login")).status_code for _ in range(5)]
        assert statuses == [303] * 3 + [429] * 2
