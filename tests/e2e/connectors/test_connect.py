"""`ketnoi connect`: feeds pulled over HTTP from a local test server that fails, times out,
pages and answers 304, and webhook deliveries, synced through the real gateway and Kafka."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console

from connectors.feeds.puller import Puller
from connectors.feeds.source import Feed, FeedConfig
from connectors.feeds.webhook import create_app, sign_headers
from connectors.gateway_client import GatewayClient
from connectors.spreadsheet.importer import Options
from connectors.spreadsheet.rows import Defaults
from ketnoi.runner import ServiceGroup, settings_env
from tests.support import eventually

PAGES = {None: ("p2", 0), "p2": ("p3", 4), "p3": (None, 8)}  # cursor -> (next, first item)
PER_PAGE = 4


def item(index: int, price: int = 180_000) -> dict[str, Any]:
    return {"ma_sp": f"F-{index:03d}", "ten_san_pham": f"Cà phê rang xay {index}",
            "nganh_hang": "cà phê", "so_luong": 100 + index, "dvt": "kg", "gia": price,
            "tinh": "Đắk Lắk", "tu_ngay": "01/12/2026", "den_ngay": "31/01/2027"}  # fmt: skip


class FeedServer:
    """Scripted answers: ``failures`` first (503, then a hang past the client's timeout), then
    pages of items by cursor, or a CSV snapshot with an ETag. ``hold`` makes the request for a
    cursor wait until released."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.failures = ["503", "hang"]
        self.snapshot: list[dict[str, Any]] | None = None
        self.etag = '"v1"'
        self.hold: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # the stdlib's name
                cursor = parse_qs(urlparse(self.path).query).get("cursor", [None])[0]
                server.requests.append(cursor or "first")
                if server.failures:
                    failure = server.failures.pop(0)
                    if failure == "hang":
                        server.release.wait(5)
                    self.send_response(503)
                    self.end_headers()
                    return
                if cursor is not None and cursor == server.hold:
                    server.held.set()
                    server.release.wait(60)
                if server.snapshot is not None:
                    return self._snapshot()
                following, first = PAGES[cursor]
                body = {"items": [item(i) for i in range(first, first + PER_PAGE)],
                        "next_cursor": following}  # fmt: skip
                self._send(200, json.dumps(body).encode(), "application/json")

            def _snapshot(self) -> None:
                if self.headers.get("If-None-Match") == server.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                out = io.StringIO()
                writer = csv.DictWriter(out, fieldnames=list(item(0)))
                writer.writeheader()
                writer.writerows(server.snapshot or [])
                self._send(200, out.getvalue().encode(), "text/csv; charset=utf-8")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", server.etag)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def supplier(issue_key: Callable[..., str]) -> tuple[str, str]:
    org = f"htx-feed-{uuid.uuid4().hex[:6]}"
    return org, issue_key(org, "supplier")


def _options(services: ServiceGroup, org: str, source: str, **extra: Any) -> Options:
    return Options(kind="offers", path=Path(source), source=source, home=services.settings.home,
                   defaults=Defaults(party_id=org), show_progress=False, **extra)  # fmt: skip


async def _poll(services: ServiceGroup, key: str, options: Options, url: str,
                timeout_s: float = 1.0) -> Any:  # fmt: skip
    async def no_wait(seconds: float) -> None:
        pass

    feed = Feed(FeedConfig(url=url, timeout_s=timeout_s), sleep=no_wait)
    try:
        async with GatewayClient(services.settings.gateway_url, key) as client:
            return await Puller(feed, options, client, Console(quiet=True)).poll(), feed.retries
    finally:
        await feed.close()


def _recorded(api: httpx.Client, source: str) -> dict[str, dict]:
    page = api.get("/v1/offers", params={"ref_source": source, "limit": 200}).json()
    return {o["external_ref"]["key"]: o for o in page["items"]}


def test_a_paged_feed_is_synced_through_failures_and_its_cursor_resumes(
    services: ServiceGroup, api: httpx.Client, supplier, feed_server: FeedServer
):
    org, key = supplier
    source = f"feed-{uuid.uuid4().hex[:6]}"
    options = _options(services, org, source)
    result, retries = asyncio.run(_poll(services, key, options, feed_server.url))
    assert feed_server.requests == ["first", "first", "first", "p2", "p3"]
    assert retries == 2  # the 503 and the timeout
    assert result.pages == 3 and result.totals["published"] == 12, result
    stored = eventually(lambda: (r := _recorded(api, source)) and len(r) == 12 and r,
                        timeout=60, what="12 offers recorded")  # fmt: skip
    assert stored["F-000"]["supplier_id"] == org
    # The next poll starts at the saved cursor: the last page, nothing sent again.
    again, _ = asyncio.run(_poll(services, key, options, feed_server.url))
    assert feed_server.requests[5:] == ["p3"]
    assert again.totals["unchanged"] == PER_PAGE and again.totals["published"] == 0


def test_a_snapshot_feed_is_asked_with_its_etag_and_synced_with_withdrawals(
    services: ServiceGroup, api: httpx.Client, supplier, feed_server: FeedServer
):
    org, key = supplier
    source = f"board-{uuid.uuid4().hex[:6]}"
    feed_server.failures = []
    feed_server.snapshot = [item(i) for i in range(5)]
    options = _options(services, org, source, withdraw_missing=True)
    first, _ = asyncio.run(_poll(services, key, options, feed_server.url))
    assert first.totals["published"] == 5
    unchanged, _ = asyncio.run(_poll(services, key, options, feed_server.url))
    assert unchanged.not_modified  # 304: the same ETag
    eventually(lambda: len(_recorded(api, source)) == 5, timeout=60, what="5 offers recorded")
    feed_server.snapshot = [item(0, price=199_000), *(item(i) for i in range(1, 4))]
    feed_server.etag = '"v2"'
    changed, _ = asyncio.run(_poll(services, key, options, feed_server.url))
    assert (changed.totals["updated"], changed.totals["withdrawn"],
            changed.totals["unchanged"]) == (1, 1, 3)  # fmt: skip

    def synced() -> bool:
        stored = _recorded(api, source)
        return stored["F-000"]["unit_price_vnd"] == 199_000 and stored["F-004"]["status"] == (
            "withdrawn"
        )

    eventually(synced, timeout=60, what="the update and the withdrawal recorded")


def _published(services: ServiceGroup, source: str) -> list[str]:
    """Keys of every offer.published event of ``source`` on the orders topic."""

    async def read() -> list[str]:
        topic = services.settings.topics.orders
        consumer = AIOKafkaConsumer(bootstrap_servers=services.settings.kafka_bootstrap,
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in range(services.settings.topic_partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            keys: list[str] = []
            while any([await consumer.position(tp) < end for tp, end in ends.items()]):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        event = json.loads(record.value)
                        ref = (event.get("offer") or {}).get("external_ref") or {}
                        if event.get("type") == "offer.published" and ref.get("source") == source:
                            keys.append(ref["key"])
            return keys
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_connector_killed_mid_feed_resumes_and_publishes_nothing_twice(
    services: ServiceGroup, api: httpx.Client, supplier, feed_server: FeedServer
):
    org, key = supplier
    source = f"killed-{uuid.uuid4().hex[:6]}"
    feed_server.failures = []
    feed_server.hold = "p2"  # page 2 is asked for after page 1 is synced: the kill goes there
    env = {**settings_env(services.settings), "KETNOI_API_KEY": key}
    command = [sys.executable, "-m", "ketnoi.cli", "connect", "http", "offers", feed_server.url,
               "--source", source, "--supplier", org, "--once", "--no-progress"]  # fmt: skip
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)  # fmt: skip
    try:
        assert feed_server.held.wait(120), first.stderr.read() if first.poll() else "no page 2"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    feed_server.hold = None
    feed_server.release.set()
    ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert feed_server.requests == ["first", "p2", "p2", "p3"]  # page 1 was not asked again
    keys = _published(services, source)
    assert sorted(keys) == [f"F-{i:03d}" for i in range(12)]  # each exactly once


def test_webhook_deliveries_are_verified_applied_once_and_replays_refused(
    services: ServiceGroup, api: httpx.Client, supplier
):
    org, key = supplier
    source = f"hook-{uuid.uuid4().hex[:6]}"
    secret = "a-shared-secret-of-the-source"

    async def deliver() -> list[httpx.Response]:
        async with GatewayClient(services.settings.gateway_url, key) as client:
            app = create_app(_options(services, org, source), client, secret)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hook") as hook:
                body = json.dumps({"items": [item(i) for i in range(3)]}).encode()
                headers = sign_headers(secret, "d-1", body)
                answers = [await hook.post("/", content=body, headers=headers)]
                answers.append(await hook.post("/", content=body, headers=headers))  # replayed
                forged = {**headers, "X-Ketnoi-Signature": "sha256=" + "0" * 64}
                answers.append(await hook.post("/", content=body, headers=forged))
                stale = sign_headers(secret, "d-2", body, now=1_700_000_000)
                answers.append(await hook.post("/", content=body, headers=stale))
                return answers

    applied, replayed, forged, stale = asyncio.run(deliver())
    assert applied.status_code == 200 and applied.json()["published"] == 3, applied.text
    assert replayed.status_code == 200 and replayed.json()["status"] == "duplicate"
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    assert stale.status_code == 401 and "timestamp" in stale.json()["detail"]
    eventually(lambda: len(_recorded(api, source)) == 3, timeout=60, what="3 offers recorded")
