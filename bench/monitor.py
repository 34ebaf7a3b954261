"""The organizer monitor under load: how many viewers, at how many matches a second.

    python -m bench.monitor [--viewers 1 50 100 200 400] [--rate 100] [--seconds 15]
                            [--rates 200 400] [--rate-viewers 50]
                            [--browser] [--screenshot docs/images/monitor.png]

A gateway process (``ketnoi gateway``, which hosts the monitor) runs on a private topic prefix
and database against the real Kafka broker. For each viewer count, a new session is streamed
into Kafka at ``--rate`` match proposals a second: the seed article's scenario (the simulator's
organizations, offers and demands, all in the session) run through the real matching engine in
this process, with buyers and suppliers accepting or declining some proposals, so the stream
carries everything the monitor shows: orders, proposals, decisions, confirmations, releases,
"still open" reasons. ``--viewers`` server-sent-event clients watch the session meanwhile; then
``--rate-viewers`` clients watch sessions streamed at each of ``--rates``.

Per viewer count it reports: the share of (viewer, match) pairs delivered; the latency from the
proposal's send to Kafka to its row reaching each viewer (p50, p99, max); how many streams the
server dropped for being slow (the client then resumes with Last-Event-ID, as a browser does);
the gateway's and this client's CPU. ``--browser`` also opens the session in headless Chromium
and reports how often the page drew and how long a draw took; ``--screenshot`` saves it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.common import private_gateway
from connectors.simulator.scenario import events as scenario_events
from ketnoi import chromium
from ketnoi.settings import Settings
from schemas import events as ev
from schemas.sessions import Session
from services.matcher.engine import MarketBook, MatchConfig
from services.matcher.outputs import output_events

ORGANIZER = "so-cong-thuong-hai-phong"
ACCEPT_SHARE, DECLINE_SHARE = 0.6, 0.1
DECISION_DELAY = 25
"""Input events between a proposal and its parties' decisions."""


@dataclass
class Message:
    topic: str
    key: bytes
    value: bytes
    proposal: str | None = None  # the match id, for a match.proposed


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def session_stream(settings: Settings, session_id: str, proposals: int, seed: int) -> list[Message]:
    """Everything a session of about ``proposals`` proposals puts into Kafka, in order."""
    topics = settings.topics
    rng = random.Random(seed)
    books: dict[str, MarketBook] = {}
    config = MatchConfig(proposal_ttl=timedelta(hours=2))
    messages: list[Message] = []
    pending: deque[tuple[int, ev.AnyEvent]] = deque()
    session = Session(
        session_id=session_id, organizer_id=ORGANIZER, name="Kết nối cung cầu Hải Phòng 2026",
        host_province="Hải Phòng", dates={"start": "2026-12-05", "end": "2026-12-06"},
        venue="Trung tâm Hội nghị Thành phố",
    )  # fmt: skip
    envelope = {"occurred_at": ev.utcnow(), "source": "bench", "session_id": session_id}
    for cls in (ev.SessionCreated, ev.SessionOpened):
        event = cls(event_id=uuid.uuid4(), session=session, **envelope)
        messages.append(_message(topics.named(event.TOPIC), event))
    made = 0
    n = 0

    def feed(event: ev.AnyEvent) -> None:
        nonlocal made
        messages.append(_message(topics.named(event.TOPIC), event))
        if event.TOPIC != ev.ORDERS:
            return
        book = books.setdefault(event.market_key, MarketBook(event.market_key, config))
        for out in output_events(book.apply(event), event):
            proposal = out.match.match_id if isinstance(out, ev.MatchProposed) else None
            messages.append(_message(topics.named(out.TOPIC), out, proposal))
            if proposal is not None:
                made += 1
                pending.append((n + DECISION_DELAY, out))

    for event in scenario_events(count=10**7, seed=seed, with_organizations=True, mean_gap_s=20):
        if made >= proposals:
            break
        n += 1
        if event.TOPIC == ev.ORDERS:
            event = event.model_copy(update={"session_id": session_id})
        feed(event)
        while pending and pending[0][0] <= n:
            _, proposed = pending.popleft()
            for decision in _decisions(rng, proposed, event.occurred_at):
                feed(decision)
    return messages


def _decisions(rng: random.Random, proposed: ev.MatchProposed, at: Any) -> list[ev.AnyEvent]:
    match, roll = proposed.match, rng.random()
    common = {"match_id": match.match_id, "category": match.category, "occurred_at": at,
              "source": "bench", "session_id": proposed.session_id}  # fmt: skip
    if roll < ACCEPT_SHARE:
        return [
            ev.MatchAccepted(event_id=uuid.uuid4(), party=party, org_id=org, **common)
            for party, org in (("buyer", match.buyer_id), ("supplier", match.supplier_id))
        ]
    if roll < ACCEPT_SHARE + DECLINE_SHARE:
        return [ev.MatchDeclined(event_id=uuid.uuid4(), party="buyer", org_id=match.buyer_id,
                                 reason="giá cao", **common)]  # fmt: skip
    return []


def _message(topic: str, event: ev.AnyEvent, proposal: str | None = None) -> Message:
    return Message(topic, event.kafka_key.encode(), event.model_dump_json().encode(), proposal)


@dataclass
class Viewer:
    """A minimal SSE client (raw socket: httpx would cost more CPU than the server)."""

    host: str
    port: int
    path: str
    key: str
    seen: dict[str, float] = field(default_factory=dict)  # match id -> first arrival
    last_id: str | None = None
    frames: int = 0
    reconnects: int = 0
    snapshots: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await self._once(stop)
            if not stop.is_set():
                self.reconnects += 1
                await asyncio.sleep(0.05)

    async def _once(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**24)
        resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
        writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {self.key}\r\n{resume}\r\n".encode()
        )
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                raise ConnectionError(status.decode(errors="replace"))
            while (line := await reader.readline()) not in (b"\r\n", b""):
                pass
            event, event_id, data = "", None, b""
            while not stop.is_set():
                size = await reader.readline()  # chunked transfer encoding
                if not size.strip():
                    continue
                chunk = await reader.readexactly(int(size, 16) + 2)
                for line in chunk[:-2].split(b"\n"):
                    if line.startswith(b"event: "):
                        event = line[7:].decode()
                    elif line.startswith(b"id: "):
                        event_id = line[4:].decode()
                    elif line.startswith(b"data: "):
                        data = line[6:]
                    elif line == b"" and data:
                        self._frame(event, event_id, data)
                        event, data = "", b""
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _frame(self, event: str, event_id: str | None, data: bytes) -> None:
        now = time.perf_counter()
        self.frames += 1
        self.snapshots += event == "snapshot"
        self.last_id = event_id
        for row in json.loads(data)["matches"]:
            self.seen.setdefault(row["id"], now)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _send_paced(
    settings: Settings, messages: list[Message], rate: float, sent: dict[str, float]
) -> float:
    """Send in order, proposals at ``rate`` a second (the rest between them); returns seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=2)
    await producer.start()
    try:
        started = time.perf_counter()
        proposals = 0
        for message in messages:
            if message.proposal is not None:
                due = started + proposals / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await producer.flush()
                    await asyncio.sleep(delay)
                proposals += 1
            # Acknowledged in the background (flushed at each pause): latency runs from the send.
            await producer.send(message.topic, message.value, key=message.key)
            if message.proposal is not None:
                sent[message.proposal] = time.perf_counter()
        await producer.flush()
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def _watch_in_browser(settings: Settings, key: str, session_id: str, stop: asyncio.Event,
                            screenshot: Path | None, expected: int) -> dict[str, Any]:  # fmt: skip
    """One Chromium page on the session while the load runs; its own draw statistics."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium.executable(), args=chromium.FLAGS
        )
        try:
            context = await browser.new_context(
                base_url=settings.gateway_url, viewport={"width": 1440, "height": 1300},
                locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
            )  # fmt: skip
            page = await context.new_page()
            await page.goto("/monitor/login")
            await page.fill("#api_key", key)
            await page.click("button[type=submit]")
            await page.goto(f"/monitor/sessions/{session_id}")
            await stop.wait()
            deadline = time.monotonic() + 30
            shown = 0
            while time.monotonic() < deadline:
                shown = int((await page.text_content("#fig-proposals") or "0").replace(".", ""))
                if shown >= expected:
                    break
                await asyncio.sleep(0.2)
            stats = await page.evaluate("window.ketnoiMonitor")
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(screenshot), full_page=False)
            return {**stats, "proposals_shown": shown, "expected": expected}
        finally:
            await browser.close()


async def _run_step(
    settings: Settings, key: str, viewers: int, rate: float, args: argparse.Namespace,
    gateway_pid: int, step: int, browser: bool,
) -> dict[str, Any]:  # fmt: skip
    session_id = f"bench-session-{step}-{uuid.uuid4().hex[:6]}"
    proposals = int(rate * args.seconds)
    messages = session_stream(settings, session_id, proposals, seed=args.seed + step)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:  # the session first, and wait until the monitor knows it
        for m in messages[:2]:
            await producer.send_and_wait(m.topic, m.value, key=m.key)
    finally:
        await producer.stop()
    await _wait_session(settings, key, session_id)
    path = f"/monitor/sessions/{session_id}/events"
    clients = [Viewer(settings.gateway_host, settings.gateway_port, path, key)
               for _ in range(viewers)]  # fmt: skip
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in clients]
    page = None
    if browser:
        expected = sum(1 for m in messages if m.proposal)
        page = asyncio.create_task(_watch_in_browser(
            settings, key, session_id, stop, args.screenshot, expected))  # fmt: skip
        await asyncio.sleep(3)  # the page loads and logs in before the load starts
    while sum(c.frames for c in clients) < viewers:  # every viewer has its snapshot
        await asyncio.sleep(0.05)
    sent: dict[str, float] = {}
    cpu_gateway, cpu_self = _cpu_seconds(gateway_pid), time.process_time()
    seconds = await _send_paced(settings, messages[2:], rate, sent)
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and any(len(c.seen) < len(sent) for c in clients):
        await asyncio.sleep(0.05)
    cpu_gateway = _cpu_seconds(gateway_pid) - cpu_gateway
    cpu_self = time.process_time() - cpu_self
    stop.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    latencies = [(c.seen[m] - t) * 1000 for c in clients for m, t in sent.items() if m in c.seen]
    pairs = len(sent) * viewers
    result: dict[str, Any] = {
        "viewers": viewers,
        "rate": rate,
        "proposals": len(sent),
        "messages": len(messages),
        "seconds": seconds,
        "proposals_per_s": len(sent) / seconds,
        "messages_per_s": len(messages) / seconds,
        "delivered": len(latencies) / pairs if pairs else 1.0,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "reconnects": sum(c.reconnects for c in clients),
        "frames_per_viewer_s": sum(c.frames for c in clients) / max(1, viewers) / seconds,
        "gateway_cpu": cpu_gateway / seconds,
        "client_cpu": cpu_self / seconds,
    }
    if page is not None:
        result["browser"] = await page
    return result


async def _wait_session(settings: Settings, key: str, session_id: str) -> None:
    async with httpx.AsyncClient(base_url=settings.gateway_url,
                                 headers={"Authorization": f"Bearer {key}"}) as http:  # fmt: skip
        for _ in range(300):
            if (await http.get(f"/monitor/sessions/{session_id}/snapshot")).status_code == 200:
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the monitor never saw session {session_id}")


def run(settings: Settings | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    args = parser().parse_args(argv or [])
    steps = []
    # Every simulated viewer uses one key: lift the per-key stream cap above the largest step.
    most = max([*args.viewers, args.rate_viewers]) + 10
    base = (settings or Settings()).model_copy(
        update={
            "monitor_max_streams_per_key": most,
            "monitor_max_streams": max(2000, most),
            # A scenario replayed at the bench's pace: its times are not the send times.
            "max_clock_skew_seconds": 0.0,
        }
    )
    with private_gateway(base, "mon", ORGANIZER, "organizer") as gateway:
        plan = [(v, args.rate) for v in args.viewers] + [(args.rate_viewers, r) for r in args.rates]
        for step, (viewers, rate) in enumerate(plan):
            browser = args.browser and step == len(args.viewers) - 1
            result = asyncio.run(_run_step(gateway.settings, gateway.key, viewers, rate, args,
                                           gateway.pid, step, browser))  # fmt: skip
            print_step(result)
            steps.append(result)
    return {"rate": args.rate, "seconds": args.seconds, "steps": steps,
            "machine": {"cpus": os.cpu_count()}}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--viewers", type=int, nargs="+", default=[1, 50, 100, 200, 400])
    p.add_argument("--rate", type=float, default=100.0, help="match proposals per second")
    p.add_argument("--rates", type=float, nargs="*", default=[200.0, 400.0],
                   help="then these rates, watched by --rate-viewers clients")  # fmt: skip
    p.add_argument("--rate-viewers", type=int, default=50)
    p.add_argument("--seconds", type=float, default=15.0, help="length of each step's load")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--browser", action="store_true", help="a Chromium page in the last step")
    p.add_argument("--screenshot", type=Path, default=None, help="save the page (with --browser)")
    return p


def print_step(r: dict[str, Any]) -> None:
    print(
        f"{r['viewers']:>4} viewers: {r['proposals_per_s']:6.1f} matches/s "
        f"({r['messages_per_s']:,.0f} events/s); delivered {r['delivered']:.2%}; "
        f"latency p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms; "
        f"{r['frames_per_viewer_s']:.1f} messages/s per viewer; reconnects {r['reconnects']}; "
        f"CPU gateway {r['gateway_cpu']:.0%}, load client {r['client_cpu']:.0%}"
    )
    if "browser" in r:
        b = r["browser"]
        print(
            f"      browser page: {b['updates']} updates drawn in {b['rendered']} frames, "
            f"draw mean {b['renderMsTotal'] / max(1, b['rendered']):.1f} ms, "
            f"max {b['maxRenderMs']:.1f} ms; proposals shown {b['proposals_shown']} "
            f"of {b['expected']}"
        )


def held(step: dict[str, Any]) -> bool:
    """The issue's bar: every match reached every viewer, within a second (p99)."""
    return step["delivered"] == 1.0 and step["p99_ms"] <= 1000


def rows(result: dict[str, Any]) -> list[Any]:
    """Summary rows for docs/benchmarks.md (bench.report.Row)."""
    from bench.report import Row

    out = [
        Row(
            f"monitor, {s['viewers']} viewers at {s['proposals_per_s']:.0f} matches/s "
            f"({s['messages_per_s']:,.0f} events/s)",
            f"delivered {s['delivered']:.1%}, p50 {s['p50_ms']:,.0f} ms, p99 "
            f"{s['p99_ms']:,.0f} ms; gateway CPU {s['gateway_cpu']:.0%}",
            "every match within 1 s",
            held(s),
        )
        for s in result["steps"]
    ]
    for s in result["steps"]:
        if "browser" in s:
            b = s["browser"]
            out.append(Row(
                f"monitor page in Chromium at {s['proposals_per_s']:.0f} matches/s",
                f"{b['updates']} updates in {b['rendered']} draws, mean "
                f"{b['renderMsTotal'] / max(1, b['rendered']):.0f} ms, max "
                f"{b['maxRenderMs']:.0f} ms; shows {b['proposals_shown']}/{b['expected']}",
                "keeps up", b["proposals_shown"] == b["expected"],
            ))  # fmt: skip
    return out


def section(result: dict[str, Any]) -> str:
    base = [s for s in result["steps"] if s["rate"] == result["rate"]]
    most = max((s["viewers"] for s in base if held(s)), default=0)
    fastest = max((s["proposals_per_s"] for s in result["steps"] if held(s)), default=0)
    return (
        "\n## Monitor\n\n`python -m bench.monitor`: a gateway (which hosts the monitor) on a "
        "private prefix and database; per step a new session streamed into Kafka at "
        f"{result['rate']:g} match proposals a second (then faster) for {result['seconds']:g} s "
        "each (the seed "
        "scenario through the real engine, with decisions), watched by that many server-sent-"
        "event clients in the load process. Latency runs from the proposal's send to Kafka to "
        "its row reaching each viewer; the server batches updates every 250 ms, which is most "
        "of it. The load client, the gateway, Kafka and FerretDB share the same cores. "
        f"Held (every match to every viewer, p99 within 1 s): up to **{most} viewers** at "
        f"{result['rate']:g} matches/s, and up to **{fastest:,.0f} matches/s**.\n"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    result = run(Settings(), sys.argv[1:] if argv is None else argv)
    return result


if __name__ == "__main__":
    main()
