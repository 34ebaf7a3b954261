"""The gateway under load: accepted writes per second and latency, single and bulk offers.

    python -m bench.gateway [--single 3000] [--concurrency 32] [--bulk-requests 60]
                            [--bulk-size 100] [--bulk-concurrency 4]

A gateway process (``ketnoi gateway``) runs on a private topic prefix and database against the
real Kafka broker (acks=all, idempotent producer) and store; the client runs in this process
on the same machine, so both share its cores (as they would on a 2-core venue laptop), with a
minimal HTTP/1.1 client so that the client's own cost stays small. Every
request carries a supplier key, so authentication, the per-key rate limit (raised out of the
way here), validation, authorization and the Kafka acknowledgement are all measured.

- single: ``POST /v1/offers``, ``--concurrency`` requests in flight; accepted = 202 answers.
- bulk: ``POST /v1/offers:bulk`` of ``--bulk-size`` offers, ``--bulk-concurrency`` in flight;
  accepted writes = offers accepted (each is one event in Kafka).
Latencies are per request (p50/p99 of the HTTP round trip, in ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import private_gateway
from ketnoi.settings import Settings

MARKETS = ("coffee", "tea", "fresh-fruit", "nuts", "honey", "spices")
SUPPLIER = "htx-bench"


def offer(index: int) -> dict[str, Any]:
    market = MARKETS[index % len(MARKETS)]
    today = datetime.now(UTC).date()
    return {
        "supplier_id": SUPPLIER,
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
    bodies = [offer(i) for i in range(args.single)]
    single = await _load(settings, key, "/v1/offers", bodies, args.concurrency)
    batches = [
        {"items": [offer(b * args.bulk_size + i) for i in range(args.bulk_size)]}
        for b in range(args.bulk_requests)
    ]
    bulk = await _load(settings, key, "/v1/offers:bulk", batches, args.bulk_concurrency)
    bulk["items_per_request"] = args.bulk_size
    return {"single": single, "bulk": bulk}


def run(settings: Settings | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    """Start (or reuse) Kafka and the store, a gateway on a private prefix, measure, clean up."""
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    args = parser().parse_args(argv or [])
    with private_gateway(settings or Settings(), "gw", SUPPLIER, "supplier") as gateway:
        result = asyncio.run(_measure(gateway.settings, gateway.key, args))
        partitions = gateway.settings.topic_partitions
    result["machine"] = {"cpus": os.cpu_count(), "partitions": partitions}
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--single", type=int, default=3000, help="single-offer requests")
    p.add_argument("--concurrency", type=int, default=32, help="single requests in flight")
    p.add_argument("--bulk-requests", type=int, default=60)
    p.add_argument("--bulk-size", type=int, default=100, help="offers per bulk request")
    p.add_argument("--bulk-concurrency", type=int, default=4)
    return p


def print_result(result: dict[str, Any]) -> None:
    machine = result["machine"]
    print(
        f"gateway on {machine['cpus']} CPUs (client, gateway, Kafka and store share them), "
        f"{machine['partitions']} partitions, acks=all"
    )
    for name in ("single", "bulk"):
        r = result[name]
        unit = f"{r['items_per_request']} offers/request" if name == "bulk" else "1 offer/request"
        print(
            f"{name:>6}: {r['writes_per_s']:>8,.0f} accepted writes/s "
            f"({r['requests_per_s']:,.0f} requests/s, {unit}, {r['concurrency']} in flight); "
            f"latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; "
            f"statuses {r['statuses']}"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    result = run(Settings(), sys.argv[1:] if argv is None else argv)
    print_result(result)
    return result


if __name__ == "__main__":
    main()
