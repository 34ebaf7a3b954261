"""End to end through the real Kafka broker and the real matcher worker (a child process).

    python -m bench.e2e [--preload 10000] [--rates 1000 2000 3000 4000] [--ttl-hours H]

Everything runs on a private topic prefix (deleted afterwards) with the market tick off.

1. Throughput: ``--preload`` scenario events are written to the orders topic first, then the
   worker starts and works through the backlog. Sustained events/s = events / (CreateTime of the
   last output - CreateTime of the first output), so the worker's start-up is not counted. The
   worker's CPU seconds over the same span give its cost per event, which other processes on
   the machine disturb much less than the rate.
2. Latency: the same (now warm) worker gets the next events of the stream at a fixed rate, paced
   against a monotonic clock: ``--latency-seconds`` at the first rate, ``--step-seconds`` at the
   others. Going up the rates until one is not sustained (p99 over ``SUSTAINED_P99_MS``); if the
   first already is not, halving it. Each output on the matches topic is joined to its input by
   correlation_id (= the input's event_id); latency = the output record's CreateTime - the input
   record's CreateTime (both stamped by producers on this machine's clock, in ms), taking an
   input's last output. Inputs without output (offers that matched nothing) are not counted. A
   step stops early once some latency exceeds ``ABORT_MS``: the worker is clearly behind.

A phase is over when a "fence" per market has its output: a demand with a 1 VND/kg ceiling sent
after the phase's events; it never matches but always answers (Unmatched), and a market's events
are processed in order, so its answer means everything before it was processed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import logging
import math
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench.common import delete_topics
from connectors.simulator import events as scenario_events
from ketnoi.infra.processes import InfraError
from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from schemas.events import DemandPosted, parse_event
from services.common.topics import ensure_topics
from services.matcher.durable import DurableBooks
from services.matcher.worker import BATCH_EVENTS, match_config

SUSTAINED_P99_MS = 1000
"""Above capacity the backlog grows by the excess every second, so within a step of several
seconds p99 reaches seconds; under this bound the worker keeps up."""
ABORT_MS = 3000
MIN_RATE = 100
CORRELATION = b'"correlation_id":"'


@dataclass(frozen=True)
class Input:
    event_id: str
    key: bytes
    value: bytes
    demand: bool


class Stream:
    """The scenario stream as ready records, made as needed; keeps one demand per market seen,
    to build fences from."""

    def __init__(self, seed: int) -> None:
        self._events = scenario_events(seed=seed, count=10**9)
        self.templates: dict[str, DemandPosted] = {}
        self.taken = 0
        self._back: list[Input] = []

    def put_back(self, records: list[Input]) -> None:
        """Records taken but not sent (a step stopped early): the next step sends them first,
        so no market's clock jumps over unsent events (proposals would expire in bulk)."""
        self._back = records + self._back
        self.taken -= len(records)

    def take(self, n: int) -> list[Input]:
        records, self._back = self._back[:n], self._back[n:]
        self.taken += len(records)
        n -= len(records)
        for e in itertools.islice(self._events, n):
            is_demand = isinstance(e, DemandPosted)
            if is_demand:
                self.templates.setdefault(e.market_key, e)
            value = e.model_dump_json().encode()
            records.append(Input(str(e.event_id), e.kafka_key.encode(), value, is_demand))
            self.taken += 1
        return records


def fences(templates: dict[str, DemandPosted], tag: str) -> list[Input]:
    """One never-matching demand per market: its answer marks the market's events as done."""
    out = []
    for market, template in sorted(templates.items()):
        demand = template.demand.model_copy(update={
            "demand_id": f"fence-{tag}-{market}", "max_unit_price_vnd": 1, "price_unit": "kg",
        })  # fmt: skip
        event = template.model_copy(update={"event_id": uuid.uuid4(), "demand": demand})
        out.append(Input(str(event.event_id), market.encode(), event.model_dump_json().encode(),
                         True))  # fmt: skip
    return out


def correlation_id(value: bytes) -> str | None:
    """The cause's event id, found without parsing the whole output (outputs are many)."""
    at = value.find(CORRELATION)
    if at < 0:
        return None
    start = at + len(CORRELATION)
    return value[start : start + 36].decode()


@dataclass
class Outputs:
    """Reads the matches topic in the background: per correlation id, its last CreateTime."""

    settings: Settings
    last: dict[str, int] = field(default_factory=dict)
    first_ts: int | None = None
    count: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # the running step's inputs
    worst_ms: int = 0  # worst latency seen in the running step
    _task: asyncio.Task | None = None
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False,
            fetch_max_wait_ms=20, max_partition_fetch_bytes=4 << 20,
        )  # fmt: skip
        await self._consumer.start()
        topic = self.settings.topics.matches
        tps = [TopicPartition(topic, p) for p in range(self.settings.topic_partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        last = self.last
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=20_000)
            for records in batches.values():
                for r in records:
                    corr, ts = correlation_id(r.value), r.timestamp
                    if self.first_ts is None or ts < self.first_ts:
                        self.first_ts = ts
                    self.count += 1
                    if corr is None:
                        continue
                    if ts > last.get(corr, -1):
                        last[corr] = ts
                    start = self.sent.get(corr)
                    if start is not None and ts - start > self.worst_ms:
                        self.worst_ms = ts - start

    async def wait_for(self, ids: Iterable[str], timeout: float, group: ServiceGroup) -> None:
        """Until every id has an output; raises if the worker died or time ran out."""
        pending = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            pending = {i for i in pending if i not in self.last}
            if not pending:
                return
            group.raise_if_exited()
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise the reader's error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} fence outputs missing after {timeout:.0f}s")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer.stop()


def crash_reason(group: ServiceGroup) -> str:
    """The worker log's first error line (what killed it), else its exit code."""
    tail = group.log_tail("matcher", lines=400).splitlines()
    errors = [line for line in tail if "[ERROR]" in line or "[CRITICAL]" in line]
    proc = group.procs.get("matcher")
    code = None if proc is None else proc.poll()
    return (errors[0].split("]: ", 1)[-1] if errors else "no error logged") + f" (exit {code})"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def send_all(producer: AIOKafkaProducer, topic: str, inputs: list[Input]) -> None:
    """As fast as the producer goes (the backlog of the throughput phase, the fences)."""
    futures = [await producer.send(topic, i.value, key=i.key) for i in inputs]
    await asyncio.gather(*futures)


async def send_paced(
    producer: AIOKafkaProducer, topic: str, inputs: list[Input], rate: float, outputs: Outputs
) -> tuple[int, float]:
    """Send input i at start + i/rate (monotonic clock), stamping each record's CreateTime into
    ``outputs.sent``; stop early if the worker is clearly behind. Returns (sent, rate achieved)."""
    outputs.sent, outputs.worst_ms = {}, 0
    futures = []
    t0 = time.monotonic()
    i, n = 0, len(inputs)
    while i < n and outputs.worst_ms <= ABORT_MS:
        due = min(n, int((time.monotonic() - t0) * rate) + 1)
        while i < due:
            record = inputs[i]
            ts = int(time.time() * 1000)
            outputs.sent[record.event_id] = ts
            futures.append(await producer.send(topic, record.value, key=record.key,
                                               timestamp_ms=ts))  # fmt: skip
            i += 1
        await asyncio.sleep(max(t0 + i / rate - time.monotonic(), 0.0005))
    elapsed = time.monotonic() - t0
    await asyncio.gather(*futures)
    return i, i / elapsed if elapsed > 0 else math.inf


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile of sorted values."""
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


def latency_stats(sent: dict[str, int], demands: set[str], last: dict[str, int]) -> dict:
    lat = sorted(last[i] - ts for i, ts in sent.items() if i in last)
    asked = [i for i in sent if i in demands]
    stats: dict[str, Any] = {
        "inputs": len(sent),
        "with_output": len(lat),
        "demands": len(asked),
        "demands_with_output": sum(1 for i in asked if i in last),
    }
    if lat:
        stats |= {f"p{round(q * 100)}": percentile(lat, q) for q in (0.5, 0.95, 0.99)}
        stats["max"] = lat[-1]
    return stats


class Session:
    """One worker on private topics, fed and read by this process."""

    producer: AIOKafkaProducer  # made in ``run``: aiokafka needs the running loop

    def __init__(self, settings: Settings, group: ServiceGroup, args: argparse.Namespace):
        self.settings, self.group, self.args = settings, group, args
        self.topic = settings.topics.orders
        self.outputs = Outputs(settings)
        self.stream = Stream(args.seed)
        self.sweep: list[dict[str, Any]] = []
        self.backlog: list[Input] = []
        self.fence_n = 0

    async def fence(self) -> int:
        """Send a fence per market and wait for their answers; returns the last CreateTime."""
        self.fence_n += 1
        fence = fences(self.stream.templates, f"{self.fence_n}")
        await send_all(self.producer, self.topic, fence)
        await self.outputs.wait_for([f.event_id for f in fence], self.args.timeout, self.group)
        return max(self.outputs.last[f.event_id] for f in fence)

    def worker_cpu(self) -> float:
        return cpu_seconds(self.group.procs["matcher"].pid)

    async def throughput(self, backlog: list[Input]) -> dict[str, Any]:
        self.backlog = backlog
        await send_all(self.producer, self.topic, backlog)
        started = time.monotonic()
        self.group.start("matcher")
        while self.outputs.first_ts is None:
            self.group.raise_if_exited()
            await asyncio.sleep(0.01)
        cpu0 = self.worker_cpu()
        last = await self.fence()
        cpu = self.worker_cpu() - cpu0
        events = len(backlog) + len(self.stream.templates)
        span = (last - self.outputs.first_ts) / 1000
        return {
            "events": events, "span_s": span, "rate": events / span,
            "wall_s": time.monotonic() - started, "cpu_ms_per_event": cpu / events * 1000,
            "outputs": self.outputs.count,
        }  # fmt: skip

    async def step(self, batch: list[Input], rate: int, seconds: float) -> dict[str, Any]:
        cpu0, outputs0 = self.worker_cpu(), self.outputs.count
        sent, achieved = await send_paced(self.producer, self.topic, batch, rate, self.outputs)
        self.stream.put_back(batch[sent:])
        await self.fence()
        cpu = self.worker_cpu() - cpu0
        demands = {i.event_id for i in batch[:sent] if i.demand}
        step = {"rate": rate, "seconds": seconds, "achieved": achieved,
                "aborted": sent < len(batch), "cpu_ms_per_event": cpu / sent * 1000,
                "outputs_per_event": (self.outputs.count - outputs0) / sent}  # fmt: skip
        step |= latency_stats(self.outputs.sent, demands, self.outputs.last)
        step["sustained"] = not step["aborted"] and step.get("p99", math.inf) <= SUSTAINED_P99_MS
        return step

    async def run(self) -> dict[str, Any]:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap,
                                         acks="all", enable_idempotence=True,
                                         linger_ms=0)  # fmt: skip
        await self.producer.start()
        await self.outputs.start()
        result: dict[str, Any] = {"throughput": None, "sweep": self.sweep, "crash": None}
        phase = "the backlog"
        try:
            result["throughput"] = await self.throughput(self.stream.take(self.args.preload))
            for rate, seconds in self.rates():
                phase = f"the {rate:,} events/s step"
                self.sweep.append(await self.step(self.stream.take(int(rate * seconds)), rate,
                                                  seconds))  # fmt: skip
            self.group.raise_if_exited()
        except InfraError:  # the worker exited: a finding to report, not a benchmark bug
            result["crash"] = {"during": phase, "events_sent": self.stream.taken,
                               "reason": crash_reason(self.group)}  # fmt: skip
        finally:
            await self.outputs.stop()
            await self.producer.stop()
        return result

    def rates(self) -> Iterator[tuple[int, float]]:
        """Up the rates while sustained. If the first is not, halve it until one is, then try
        halfway back up once (1.5x), for a closer bound."""
        args = self.args
        if args.throughput_only:
            return
        yield args.rates[0], args.latency_seconds
        if self.sweep[-1]["sustained"]:
            for rate in args.rates[1:]:
                yield rate, args.step_seconds
                if not self.sweep[-1]["sustained"]:
                    return
            return
        rate = args.rates[0] // 2
        while rate >= MIN_RATE:
            yield rate, args.step_seconds
            if self.sweep[-1]["sustained"]:
                yield rate * 3 // 2, args.step_seconds
                return
            rate //= 2


class _CountingTable(dict):
    """A dict that counts writes: each one is a changelog message in the worker."""

    writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def in_process(settings: Settings, inputs: list[Input]) -> tuple[float, float]:
    """What the worker does per event minus Kafka and Faust: parse the bytes, then
    ``DurableBooks.process_batch`` on a dict (engine, records, outputs serialised), in batches
    of the worker's largest size split by partition as the worker splits them (a backlog is
    worked through in full batches). Returns events/s and table writes per event."""
    table = _CountingTable()
    books = DurableBooks(table, match_config(settings))
    partitions = list(range(settings.topic_partitions))
    partition_of = DefaultPartitioner()
    gc.collect()
    t0 = time.perf_counter()
    for start in range(0, len(inputs), BATCH_EVENTS):
        by_partition: dict[int, list[tuple[int, Any]]] = {}
        for offset, record in enumerate(inputs[start : start + BATCH_EVENTS], start=start):
            partition = partition_of(record.key, partitions, partitions)
            by_partition.setdefault(partition, []).append((offset, parse_event(record.value)))
        for partition, items in by_partition.items():
            books.process_batch(partition, items)
    return len(inputs) / (time.perf_counter() - t0), table.writes / max(1, len(inputs))


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def measure(base: Settings, args: argparse.Namespace) -> dict[str, Any]:
    # aiokafka logs (and retries) leaderless partitions of the topics just created: noise here
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    run = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "topic_prefix": f"bench-{run}.", "match_tick_seconds": 3600.0,
        # A recorded scenario replayed at the bench's pace: its times are not the send times.
        "max_clock_skew_seconds": 0.0,
        "match_proposal_ttl_hours": args.ttl_hours or base.match_proposal_ttl_hours,
    })  # fmt: skip
    group = ServiceGroup(settings, settings.home / "bench-logs" / f"e2e-{run}")
    load = loadavg()
    session = Session(settings, group, args)
    try:
        asyncio.run(ensure_topics(settings))
        result = asyncio.run(session.run())
    finally:
        group.stop()
        asyncio.run(delete_topics(settings))
    result["in_process_rate"], result["writes_per_event"] = in_process(settings, session.backlog)
    sustained = [s["rate"] for s in result["sweep"] if s["sustained"]]
    result |= {
        "seed": args.seed, "partitions": settings.topic_partitions,
        "ttl_hours": settings.match_proposal_ttl_hours, "log_dir": str(group.log_dir),
        "best_rate": max(sustained, default=None), "load": (load, loadavg()),
    }  # fmt: skip
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--preload", type=int, default=10_000)
    p.add_argument("--rates", type=int, nargs="+", default=[1000, 2000, 3000, 4000])
    p.add_argument("--latency-seconds", type=float, default=20.0, help="at the first rate")
    p.add_argument("--step-seconds", type=float, default=8.0, help="at each other rate")
    p.add_argument("--ttl-hours", type=float, default=None,
                   help="proposal TTL of the worker (default: the settings', 24 h)")  # fmt: skip
    p.add_argument("--throughput-only", action="store_true", help="the backlog phase only")
    p.add_argument("--timeout", type=float, default=240.0, help="per fence, in seconds")
    return p


def print_result(r: dict[str, Any]) -> None:
    t = r["throughput"]
    print(f"proposal TTL {r['ttl_hours']:g} h, {r['partitions']} partitions, load "
          f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}")  # fmt: skip
    if t is not None:
        print(f"backlog of {t['events']:,} events: {t['rate']:,.0f} events/s over "
              f"{t['span_s']:.1f} s (wall {t['wall_s']:.1f} s with start-up), worker CPU "
              f"{t['cpu_ms_per_event']:.2f} ms/event, {t['outputs']:,} outputs")  # fmt: skip
    print(f"the same backlog in process (parse + DurableBooks in batches on a dict): "
          f"{r['in_process_rate']:,.0f} events/s, {r['writes_per_event']:.1f} table writes "
          f"per event")  # fmt: skip
    if r["sweep"]:
        print(f"{'rate':>6} {'sent/s':>7} {'inputs':>7} {'answered':>9} {'p50':>6} {'p95':>6} "
              f"{'p99':>6} {'max':>6} {'cpu ms/ev':>9} {'out/ev':>6}  sustained")  # fmt: skip
    for s in r["sweep"]:
        note = "yes" if s["sustained"] else "no" + (" (stopped early)" if s["aborted"] else "")
        print(f"{s['rate']:>6} {s['achieved']:>7,.0f} {s['inputs']:>7,} {s['with_output']:>9,} "
              f"{s.get('p50', 0):>6} {s.get('p95', 0):>6} {s.get('p99', 0):>6} "
              f"{s.get('max', 0):>6} {s['cpu_ms_per_event']:>9.2f} "
              f"{s['outputs_per_event']:>6.1f}  {note}")  # fmt: skip
    if r["crash"]:
        c = r["crash"]
        print(f"THE WORKER EXITED during {c['during']} ({c['events_sent']:,} events of the stream "
              f"sent): {c['reason']}")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    result = measure(Settings(), args)
    print_result(result)
    return result


if __name__ == "__main__":
    main()
