"""The gateway under load: accepted writes per second and latency, single and bulk offers; and
load shedding under ten times the sustainable rate.

    python -m bench.gateway [--single 3000] [--concurrency 32] [--bulk-requests 60]
                            [--bulk-size 100] [--bulk-concurrency 4]
                            [--overload-factor 10] [--overload-seconds 20] [--heavy-keys 200]
                            [--good-keys 20] [--flood-share 0.3] [--heavy-bulk 0]
                            [--modes single bulk overload]

A gateway process (``ketnoi gateway``) runs on a private topic prefix and database against the
real Kafka broker (acks=all, idempotent producer) and store; the client runs in this process
on the same machine, so both share its cores (as they would on a 2-core venue laptop), with a
minimal HTTP/1.1 client so that the client's own cost stays small. Every
request carries a supplier key, so authentication, the per-key rate limit (raised out of the
way here), validation, authorization and the Kafka acknowledgement are all measured.

- single: ``POST /v1/offers``, ``--concurrency`` requests in flight; accepted = 202 answers.
- bulk: ``POST /v1/offers:bulk`` of ``--bulk-size`` offers, ``--bulk-concurrency`` in flight;
  accepted writes = offers accepted (each is one event in Kafka).
Latencies are per request (p50/p99 of the HTTP round trip, in ms). These two modes lift the
per-key rate limit and the in-flight limit: they measure what the gateway can do.

- overload: a second gateway with the configured limits (per-key rate limit, in-flight limit,
  auth-failure throttle). ``--good-keys`` well-behaved keys each send one offer a second, first
  alone (the unloaded p99), then while ``--heavy-keys`` other keys, each within its own rate
  limit, and a flood of unknown keys (``--flood-share`` of the requests) bring the offered rate
  to ``--overload-factor`` times the sustainable rate (the 202s per second of a closed loop at
  the in-flight limit, measured first). Requests are sent on a fixed schedule (open
  loop), latency counts from the scheduled time, and every request has a 30 s timeout. Target:
  the well-behaved keys' p99 within 2x the unloaded one, 99% of their requests accepted, and
  no request times out. ``--heavy-bulk`` makes the heavy keys push catalogues instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Connection_
from typing import Any

from pymongo import MongoClient

from bench.common import private_gateway
from ketnoi.settings import Settings
from services.gateway.keys import create_key

MARKETS = ("coffee", "tea", "fresh-fruit", "nuts", "honey", "spices")
SUPPLIER = "htx-bench"
MODES = ("single", "bulk", "overload")


def offer(index: int, supplier: str = SUPPLIER) -> dict[str, Any]:
    market = MARKETS[index % len(MARKETS)]
    today = datetime.now(UTC).date()
    return {
        "supplier_id": supplier,
        "product": {"name": f"Sản phẩm OCOP {index}", "category": market},
        "origin_province": "Sơn La" if index % 2 else "tinh kon tum",
        "quantity": {"amount": str(1 + index % 9), "unit": "tấn"},
        "unit_price_vnd": 40_000 + index % 1000,
        "available": {"start": today.isoformat(), "end": (today + timedelta(60)).isoformat()},
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Connection:
    """A minimal keep-alive HTTP/1.1 client (a few µs per request). httpx costs a millisecond of
    CPU per request, which on a 2-core machine would measure the client, not the gateway."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body, ensure_ascii=False).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        content = await self.reader.readexactly(length)
        return int(status_line.split()[1]), json.loads(content)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def _load(
    settings: Settings, key: str, path: str, bodies: list[Any], concurrency: int
) -> dict[str, Any]:
    """Send every body with ``concurrency`` requests in flight; latency of each round trip."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted_items = 0

    async def worker() -> None:
        nonlocal accepted_items
        connection = Connection(settings.gateway_host, settings.gateway_port, key)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                status, answer = await connection.post(path, body)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    accepted_items += answer.get("accepted", 1)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    wall = time.perf_counter() - started
    return {
        "requests": len(bodies),
        "statuses": statuses,
        "accepted_writes": accepted_items,
        "seconds": wall,
        "writes_per_s": accepted_items / wall,
        "requests_per_s": len(bodies) / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "concurrency": concurrency,
    }


async def _measure(settings: Settings, key: str, args: argparse.Namespace) -> dict[str, Any]:
    await _load(settings, key, "/v1/offers", [offer(i) for i in range(200)], 8)  # warm-up
    result: dict[str, Any] = {}
    if "single" in args.modes:
        bodies = [offer(i) for i in range(args.single)]
        result["single"] = await _load(settings, key, "/v1/offers", bodies, args.concurrency)
    if "bulk" in args.modes:
        batches = [
            {"items": [offer(b * args.bulk_size + i) for i in range(args.bulk_size)]}
            for b in range(args.bulk_requests)
        ]
        bulk = await _load(settings, key, "/v1/offers:bulk", batches, args.bulk_concurrency)
        result["bulk"] = {**bulk, "items_per_request": args.bulk_size}
    return result


# -- overload: load shedding ------------------------------------------------------------------

TIMEOUT_S = 30.0
"""A request not answered within this counts as timed out (the issue measured 130 of 278)."""
MAX_CONNECTIONS = 1024
"""Connections the overload client may open (one request at a time on each, keep-alive)."""
GOOD_ACCEPTED = 0.99
"""Share of the well-behaved keys' requests that must be accepted under overload: a fast 503
is not service, so a starved key cannot pass on latency alone."""
SETTLE_S = 5.0
"""Pause after the capacity phase: the gateway's monitor folds the events it just produced."""
SCHEDULE_SLACK_S = 0.002
"""The open-loop sender sleeps only when the next request is due later than this."""


@dataclass
class Outcome:
    """What one class of clients got: latency of every answer, statuses, failures."""

    name: str
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    errors: int = 0  # the connection broke (no answer)
    no_retry_after: int = 0  # 429/503 without Retry-After

    def add(self, other: Outcome) -> None:
        """Fold in what another process measured for the same class."""
        self.sent += other.sent
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.timeouts += other.timeouts
        self.errors += other.errors
        self.no_retry_after += other.no_retry_after

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "offered_per_s": self.sent / seconds,
            "statuses": dict(sorted(self.statuses.items())),
            "timeouts": self.timeouts,
            "errors": self.errors,
            "no_retry_after": self.no_retry_after,
            "p50_ms": percentile(self.latencies, 50) * 1000,
            "p99_ms": percentile(self.latencies, 99) * 1000,
            "max_ms": max(self.latencies, default=float("nan")) * 1000,
        }


class Pool:
    """Keep-alive connections shared by every class of client; a request takes an idle one or
    opens one (at most ``MAX_CONNECTIONS``), so the sender never waits on a slow answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """(status, whether Retry-After was sent) of one request. A kept-alive connection the
        server closed meanwhile (uvicorn closes idle ones after 5 s) is replaced once."""
        async with self._slots:
            reused = bool(self._idle)
            if reused:
                reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                try:
                    writer.write(request)
                    status_line = await reader.readline()
                    if not status_line:
                        raise ConnectionResetError("closed while idle")
                except OSError:
                    if not reused:
                        raise
                    writer.close()  # closed by the server while idle: once more, on a new one
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(request)
                    status_line = await reader.readline()
                length, retry_after = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name = line.split(b":", 1)[0].lower()
                    if name == b"content-length":
                        length = int(line.split(b":", 1)[1])
                    elif name == b"retry-after":
                        retry_after = True
                await reader.readexactly(length)
                status = int(status_line.split()[1])
            except BaseException:
                writer.close()
                raise
            self._idle.append((reader, writer))
            return status, retry_after

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def request_bytes(host: str, path: str, key: str, body: Any) -> bytes:
    payload = json.dumps(body, ensure_ascii=False).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _timed(pool: Pool, request: bytes, due: float, outcome: Outcome) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(TIMEOUT_S):
            status, retry_after = await pool.exchange(request)
    except TimeoutError:
        outcome.timeouts += 1
        return
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
        outcome.errors += 1
        return
    outcome.latencies.append(loop.time() - due)
    outcome.statuses[status] += 1
    if status in (429, 503) and not retry_after:
        outcome.no_retry_after += 1


async def _paced(
    pool: Pool,
    rate: float,
    seconds: float,
    make: Callable[[int], bytes],
    outcome: Outcome,
    start: float | None = None,
) -> None:
    """Open loop: request i is due at ``start`` (``time.monotonic``, now by default) plus
    i / rate, whatever became of the earlier ones; its latency counts from then, so a late
    sender is measured, not hidden."""
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    start = loop.time() if start is None else start
    tasks: set[asyncio.Task[None]] = set()
    for index in range(count):
        due = start + index / rate
        if due - loop.time() > SCHEDULE_SLACK_S:
            await asyncio.sleep(due - loop.time())
        outcome.sent += 1
        task = asyncio.create_task(_timed(pool, make(index), due, outcome))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


def _heavy_request(host: str, org: str, key: str, index: int, bulk: int) -> bytes:
    """A heavy key's request: one offer, or a catalogue of ``bulk`` offers."""
    if not bulk:
        return request_bytes(host, "/v1/offers", key, offer(index, org))
    items = [offer(index * bulk + i, org) for i in range(bulk)]
    return request_bytes(host, "/v1/offers:bulk", key, {"items": items})


@dataclass
class OverloadKeys:
    good: list[tuple[str, str]]  # (org, key) of the well-behaved keys
    heavy: list[tuple[str, str]]


def issue_keys(settings: Settings, good: int, heavy: int) -> OverloadKeys:
    """Supplier keys of organizations of their own (each key claims its id)."""
    client: MongoClient = MongoClient(settings.mongo_url)
    try:
        db = client[settings.mongo_db]

        def issue(prefix: str, count: int) -> list[tuple[str, str]]:
            orgs = [f"htx-{prefix}-{i}" for i in range(count)]
            return [(o, create_key(db, o, "supplier", unregistered=True).key) for o in orgs]

        return OverloadKeys(issue("good", good), issue("heavy", heavy))
    finally:
        client.close()


@dataclass
class LoadPlan:
    """What one load process sends in the overload phase (picklable: it crosses processes)."""

    host: str
    port: int
    heavy: list[tuple[str, str]]  # (org, key) of the heavy keys this process sends for
    heavy_bulk: int
    heavy_rate: float
    flood_rate: float
    seconds: float


async def _generate(plan: LoadPlan, start: float) -> tuple[Outcome, Outcome]:
    """The heavy keys' requests and the unknown-key flood, open loop from ``start``, on a pool
    of their own."""
    host = plan.host
    heavy = [[_heavy_request(host, org, k, i, plan.heavy_bulk) for i in range(6)]
             for org, k in plan.heavy]  # fmt: skip
    flood_body = offer(0, "htx-flood")

    def heavy_request(i: int) -> bytes:
        return heavy[i % len(heavy)][(i // len(heavy)) % 6]

    def flood_request(i: int) -> bytes:
        key = f"knk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
        return request_bytes(host, "/v1/offers", key, flood_body)

    others = Outcome(f"{len(heavy)} heavy keys")
    flood = Outcome("unknown-key flood")
    pool = Pool(host, plan.port)
    try:
        await asyncio.gather(
            _paced(pool, plan.heavy_rate, plan.seconds, heavy_request, others, start),
            _paced(pool, plan.flood_rate, plan.seconds, flood_request, flood, start),
        )
    finally:
        await pool.close()
    return others, flood


def _load_process(conn: Connection_, plan: LoadPlan) -> None:
    """A load process: build the requests, say ready, wait for the start time (a
    ``time.monotonic`` instant, the same clock in every process), send, hand back outcomes."""
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    conn.send("ready")
    start = conn.recv()
    conn.send(asyncio.run(_generate(plan, start)))
    conn.close()


class LoadProcesses:
    """``count`` processes sending the heavy keys' requests and the flood, so that the load
    generator's CPU does not delay the well-behaved clients' timing (in this process, on a pool
    of their own). They still share the machine's cores with the gateway: a cost of the
    machine, not of the gateway's admission, and reported as such."""

    def __init__(self, plans: list[LoadPlan]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conns = []
        self._procs = []
        for plan in plans:
            parent, child = context.Pipe()
            proc = context.Process(target=_load_process, args=(child, plan), daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    def ready(self) -> None:
        for conn in self._conns:
            if conn.recv() != "ready":
                raise RuntimeError("a load process failed to start")

    def start(self, at: float) -> None:
        for conn in self._conns:
            conn.send(at)

    async def results(self) -> list[tuple[Outcome, Outcome]]:
        return [await asyncio.to_thread(conn.recv) for conn in self._conns]

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()


START_LEAD_S = 1.0
"""The overloaded phase starts this long after the start time is sent to the load processes."""


def _plans(
    host: str,
    port: int,
    heavy: list[tuple[str, str]],
    rates: tuple[float, float],
    parts: int,
    args: argparse.Namespace,
) -> list[LoadPlan]:
    """The heavy keys and both rates split evenly among ``parts`` load processes."""
    heavy_rate, flood_rate = rates
    return [
        LoadPlan(
            host,
            port,
            heavy[i::parts],
            args.heavy_bulk,
            heavy_rate / parts,
            flood_rate / parts,
            args.overload_seconds,
        )
        for i in range(parts)
    ]


async def _overload(
    settings: Settings, keys: OverloadKeys, args: argparse.Namespace
) -> dict[str, Any]:
    host, port = settings.gateway_host, settings.gateway_port
    pool = Pool(host, port)  # the well-behaved keys' own connections
    good = [[request_bytes(host, "/v1/offers", k, offer(i, org)) for i in range(6)]
            for org, k in keys.good]  # fmt: skip
    heavy = [[_heavy_request(host, org, k, i, args.heavy_bulk) for i in range(6)]
             for org, k in keys.heavy]  # fmt: skip

    def good_request(i: int) -> bytes:
        return good[i % len(good)][(i // len(good)) % 6]

    def heavy_request(i: int) -> bytes:
        return heavy[i % len(heavy)][(i // len(heavy)) % 6]

    loop = asyncio.get_running_loop()
    processes: LoadProcesses | None = None
    try:
        # Every key accepted once, so that the gateway knows it (as it would a key in use).
        await _warm_up(pool, [requests[0] for requests in good + heavy])
        # Sustainable rate: 202s per second with the shared part of the limit kept busy.
        shared = settings.max_in_flight - settings.max_in_flight // 4
        capacity = Outcome("capacity")
        started = time.perf_counter()
        heavy_pool = Pool(host, port)
        await _closed_loop(heavy_pool, shared, args.capacity_seconds, heavy_request, capacity)
        await heavy_pool.close()
        sustainable = capacity.statuses[202] / (time.perf_counter() - started)
        good_rate = len(good) * args.good_rate
        offered = args.overload_factor * sustainable
        flood_rate = args.flood_share * offered
        heavy_rate = max(0.0, offered - flood_rate - good_rate)
        parts = max(1, args.load_processes)
        plans = _plans(host, port, keys.heavy, (heavy_rate, flood_rate), parts, args)
        if args.load_processes:
            processes = LoadProcesses(plans)  # started now: idle through the unloaded phase
        # The gateway's monitor consumes every event it produced: let it catch up first.
        await asyncio.sleep(SETTLE_S)
        if processes is not None:
            await asyncio.to_thread(processes.ready)
        unloaded = Outcome("well-behaved, alone")
        await _paced(pool, good_rate, args.overload_seconds, good_request, unloaded)
        loaded = Outcome("well-behaved, under overload")
        at = loop.time() + START_LEAD_S
        if processes is not None:
            processes.start(at)
            light = _paced(pool, good_rate, args.overload_seconds, good_request, loaded, at)
            _, parts_out = await asyncio.gather(light, processes.results())
        else:  # the old way: the load generated in this process, on this event loop
            _, *parts_out = await asyncio.gather(
                _paced(pool, good_rate, args.overload_seconds, good_request, loaded, at),
                *[_generate(plan, at) for plan in plans],
            )
    finally:
        await pool.close()
        if processes is not None:
            processes.close()
    others, flood = Outcome(f"{len(heavy)} heavy keys"), Outcome("unknown-key flood")
    for part_heavy, part_flood in parts_out:
        others.add(part_heavy)
        flood.add(part_flood)
    seconds = args.overload_seconds
    unloaded_p99 = percentile(unloaded.latencies, 99) * 1000
    loaded_p99 = percentile(loaded.latencies, 99) * 1000
    classes = (loaded, others, flood)
    return {
        "sustainable_per_s": sustainable,
        "capacity_statuses": dict(capacity.statuses),
        "factor": args.overload_factor,
        "offered_per_s": sum(c.sent for c in classes) / seconds,
        "seconds": seconds,
        "max_in_flight": settings.max_in_flight,
        "rate_limit_per_key": settings.rate_limit_per_second,
        "heavy_keys": len(heavy),
        "heavy_bulk": args.heavy_bulk,
        "heavy_rate_per_key": heavy_rate / max(1, len(heavy)),
        "good_keys": len(good),
        "good_rate_per_key": args.good_rate,
        "load_processes": args.load_processes,
        "unloaded": unloaded.summary(seconds),
        "loaded": loaded.summary(seconds),
        "heavy": others.summary(seconds),
        "flood": flood.summary(seconds),
        "unloaded_p50_ms": percentile(unloaded.latencies, 50) * 1000,
        "loaded_p50_ms": percentile(loaded.latencies, 50) * 1000,
        "unloaded_p99_ms": unloaded_p99,
        "loaded_p99_ms": loaded_p99,
        "p99_ratio": loaded_p99 / unloaded_p99,
        "timeouts": sum(c.timeouts for c in (unloaded, *classes)),
        "errors": sum(c.errors for c in (unloaded, *classes)),
        "refused_503": sum(c.statuses[503] for c in classes),
        "refused_429": sum(c.statuses[429] for c in classes),
        "good_accepted_share": loaded.statuses[202] / max(1, loaded.sent),
        "met": loaded_p99 <= 2 * unloaded_p99
        and all(c.timeouts == 0 and c.errors == 0 for c in (unloaded, *classes))
        and loaded.statuses[202] >= GOOD_ACCEPTED * loaded.sent,
    }


async def _warm_up(pool: Pool, requests: list[bytes], attempts: int = 20) -> None:
    """Send each request until it is accepted (202), a few in flight; a key whose request is
    never accepted would make the overload case measure something else, so it stops here."""

    async def one(request: bytes) -> None:
        for attempt in range(attempts):
            status, _ = await pool.exchange(request)
            if status == 202:
                return
            await asyncio.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"warm-up: a key was refused {attempts} times (last: {status})")

    limit = asyncio.Semaphore(4)

    async def bounded(request: bytes) -> None:
        async with limit:
            await one(request)

    await asyncio.gather(*[bounded(r) for r in requests])


async def _closed_loop(
    pool: Pool, concurrency: int, seconds: float, make: Callable[[int], bytes], outcome: Outcome
) -> None:
    """``concurrency`` requests in flight for ``seconds``: what the gateway sustains."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while loop.time() < end:
            outcome.sent += 1
            await _timed(pool, make(next(counter)), loop.time(), outcome)

    await asyncio.gather(*[worker() for _ in range(concurrency)])


def run_overload(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """A gateway with the configured limits (none lifted), its keys, the overload case."""
    limits = {
        "gateway_host": "127.0.0.1",  # the flood goes to this machine only
        "rate_limit_per_second": settings.rate_limit_per_second,
        "rate_limit_burst": settings.rate_limit_burst,
        "max_in_flight": settings.max_in_flight,
    }
    with private_gateway(settings, "gwo", SUPPLIER, "supplier", limits) as gateway:
        keys = issue_keys(gateway.settings, args.good_keys, args.heavy_keys)
        return asyncio.run(_overload(gateway.settings, keys, args))


def run(settings: Settings | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    """Start (or reuse) Kafka and the store, a gateway on a private prefix, measure, clean up."""
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    args = parser().parse_args(argv or [])
    settings = settings or Settings()
    result: dict[str, Any] = {}
    if {"single", "bulk"} & set(args.modes):
        with private_gateway(settings, "gw", SUPPLIER, "supplier") as gateway:
            result = asyncio.run(_measure(gateway.settings, gateway.key, args))
    if "overload" in args.modes:
        result["overload"] = run_overload(settings, args)
    result["machine"] = {"cpus": os.cpu_count(), "partitions": settings.topic_partitions}
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--single", type=int, default=3000, help="single-offer requests")
    p.add_argument("--concurrency", type=int, default=32, help="single requests in flight")
    p.add_argument("--bulk-requests", type=int, default=60)
    p.add_argument("--bulk-size", type=int, default=100, help="offers per bulk request")
    p.add_argument("--bulk-concurrency", type=int, default=4)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--overload-factor", type=float, default=10.0,
                   help="offered rate, in multiples of the sustainable rate")  # fmt: skip
    p.add_argument("--overload-seconds", type=float, default=20.0,
                   help="length of the unloaded and of the overloaded phase")  # fmt: skip
    p.add_argument("--capacity-seconds", type=float, default=8.0)
    p.add_argument("--heavy-keys", type=int, default=200)
    p.add_argument("--heavy-bulk", type=int, default=0,
                   help="offers per request of the heavy keys (0: single offers)")  # fmt: skip
    p.add_argument("--good-keys", type=int, default=20)
    p.add_argument("--good-rate", type=float, default=1.0, help="requests/s per good key")
    p.add_argument("--load-processes", type=int, default=1,
                   help="processes sending the heavy and flood requests when overloaded "
                   "(0: this one, on the well-behaved keys' event loop)")  # fmt: skip
    p.add_argument("--flood-share", type=float, default=0.3,
                   help="share of the offered requests sent with unknown keys")  # fmt: skip
    return p


def print_result(result: dict[str, Any]) -> None:
    machine = result["machine"]
    print(
        f"gateway on {machine['cpus']} CPUs (client, gateway, Kafka and store share them), "
        f"{machine['partitions']} partitions, acks=all"
    )
    for name in ("single", "bulk"):
        if name not in result:
            continue
        r = result[name]
        unit = f"{r['items_per_request']} offers/request" if name == "bulk" else "1 offer/request"
        print(
            f"{name:>6}: {r['writes_per_s']:>8,.0f} accepted writes/s "
            f"({r['requests_per_s']:,.0f} requests/s, {unit}, {r['concurrency']} in flight); "
            f"latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; "
            f"statuses {r['statuses']}"
        )
    if "overload" in result:
        print_overload(result["overload"])


def overload_lines(o: dict[str, Any]) -> list[str]:
    """The overload case in words: the load, then each class of client, then the verdict."""
    bulk = f" ({o['heavy_bulk']} offers per request)" if o["heavy_bulk"] else ""
    lines = [
        f"overload: sustainable {o['sustainable_per_s']:,.0f} requests/s (202s, closed loop at "
        f"the in-flight limit {o['max_in_flight']}); offered {o['offered_per_s']:,.0f}/s "
        f"({o['factor']:g}x) for {o['seconds']:g} s",
        f"  {o['good_keys']} well-behaved keys at {o['good_rate_per_key']:g}/s each; "
        f"{o['heavy_keys']} heavy keys at {o['heavy_rate_per_key']:.1f}/s each{bulk} (rate "
        f"limit {o['rate_limit_per_key']:g}/s); unknown-key flood "
        f"{o['flood']['offered_per_s']:,.0f}/s; "
        + (
            f"heavy and flood sent by {o['load_processes']} other process(es), the "
            "well-behaved keys timed in this one on connections of their own"
            if o.get("load_processes")
            else "all sent and timed on this process's event loop"
        ),
    ]
    labels = {
        "unloaded": "well-behaved, alone",
        "loaded": "well-behaved, overload",
        "heavy": "heavy keys",
        "flood": "unknown keys",
    }
    for name, label in labels.items():
        r = o[name]
        lines.append(
            f"  {label}: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max "
            f"{r['max_ms']:.0f} ms; statuses {r['statuses']}; timeouts {r['timeouts']}, "
            f"broken {r['errors']}, 429/503 without Retry-After {r['no_retry_after']}"
        )
    lines.append(
        f"  well-behaved p99 unloaded {o['unloaded_p99_ms']:.1f} ms, loaded "
        f"{o['loaded_p99_ms']:.1f} ms, ratio {o['p99_ratio']:.2f} (target <= 2), "
        f"{o['good_accepted_share']:.1%} accepted (target >= {GOOD_ACCEPTED:.0%}); "
        f"503: {o['refused_503']:,}, 429: {o['refused_429']:,}, timeouts: {o['timeouts']}; "
        f"{'met' if o['met'] else 'NOT met'}"
    )
    return lines


def print_overload(o: dict[str, Any]) -> None:
    print("\n".join(overload_lines(o)))


def overload_section(o: dict[str, Any] | None) -> str:
    """The overload case for docs/benchmarks.md (empty when it did not run)."""
    if not o:
        return ""
    return (
        "\nOverload (load shedding, decision 11): a second gateway with the configured limits; "
        "requests on a fixed schedule, latency from the scheduled time, 30 s timeout.\n\n"
        "```\n" + "\n".join(overload_lines(o)) + "\n```\n"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    result = run(Settings(), sys.argv[1:] if argv is None else argv)
    print_result(result)
    return result


if __name__ == "__main__":
    main()
