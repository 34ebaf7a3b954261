"""Throughput of the pure matching engine with books of 1k, 10k and 100k open orders.

    python -m bench.core_throughput [--sizes 1000 10000 100000] [--events 20000] [--cross 0.2]

Each book starts with half offers and half demands priced like a real order book: asks
(offers, 52-90k VND/kg) sit above bids (demand ceilings, 20-48k), with dates, regions, papers
and payment terms spread so most pairs fail more than one rule. Then a stream of mixed events
keeps the book size roughly constant: new offers and demands (a share ``--cross`` of them cross
the spread: these find tens to hundreds of compatible counterparts at 100k, and the engine
scores up to ``candidate_limit`` of them), accepts by both parties, declines, withdrawals,
cancellations, updates and ticks (proposals expire after 24 h of market time). Only ``apply``
and ``drain_changes`` are timed; the pydantic events are built beforehand. The stream is
generated adaptively on a copy of the book (accepts need real match ids) and replayed on a
restored copy, whose outcomes are checked to be identical.

The engine runs from whichever build ``KETNOI_ENGINE`` picks (see
services/matcher/engine/compiled.py); ``python -m bench`` measures both side by side, each in
a process of its own (``side_by_side``), since the choice is made when the engine is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas import events as ev
from schemas.orders import Demand, Offer
from services.matcher.engine import (
    IMPLEMENTATION,
    Confirmed,
    Expired,
    MarketBook,
    MatchConfig,
    Proposed,
    Released,
)

MARKET = "fresh-fruit"
T0 = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
DAY0 = date(2026, 1, 1)
PROVINCES = [
    "Hà Nội", "Hải Phòng", "Quảng Ninh", "Bắc Ninh", "Thanh Hóa", "Nghệ An", "Đà Nẵng",
    "Khánh Hòa", "Lâm Đồng", "TP. Hồ Chí Minh", "Đồng Nai", "Cần Thơ", "An Giang", "Sơn La",
]  # fmt: skip
ORIGINS = ["Bắc Giang", "Sơn La", "Hưng Yên", "Hải Dương", "Đắk Nông", "Lâm Đồng", "Tiền Giang"]
PRODUCTS = ["Vải thiều Lục Ngạn", "Nhãn lồng Hưng Yên", "Xoài Sơn La", "Bơ Đắk Nông"]


def outcome_text(outcome: Any) -> str:
    """One outcome as text, the same whichever engine build made it (for digests)."""
    return f"{type(outcome).__name__}{sorted(dataclasses.asdict(outcome).items())}"


def outcomes_digest(per_event: list[list[Any]]) -> str:
    h = hashlib.sha256()
    for outcomes in per_event:
        for outcome in outcomes:
            h.update(outcome_text(outcome).encode())
        h.update(b";")
    return h.hexdigest()


class Orders:
    """Deterministic offers and demands; ``cross`` makes one that can match the other side."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def _window(self, length: tuple[int, int]) -> dict[str, str]:
        start = DAY0 + timedelta(days=self.rng.randrange(0, 300))
        end = start + timedelta(days=self.rng.randint(*length))
        return {"start": start.isoformat(), "end": end.isoformat()}

    def offer(self, cross: bool, offer_id: str | None = None, revision: int = 1) -> Offer:
        r = self.rng
        self.n += 1
        stars = r.choice([0, 0, 3, 3, 4, 5])
        body: dict[str, Any] = {
            "offer_id": offer_id or f"o{self.n}",
            "revision": revision,
            "supplier_id": f"htx-{r.randrange(2000)}",
            "origin_province": r.choice(ORIGINS),
            "product": {
                "name": r.choice(PRODUCTS),
                "category": MARKET,
                "ocop_stars": stars,
                "ocop_rated_on": "2025-03-01" if stars else None,
                "certifications": r.choice([[], [], ["VietGAP"], ["VietGAP", "HACCP"]]),
            },
            "quantity": {"amount": str(r.randint(1, 20)), "unit": "tấn"},
            "unit_price_vnd": r.randint(35_000, 50_000) if cross else r.randint(52_000, 90_000),
            "available": self._window((30, 120)),
            "ships_to": None if r.random() < 0.5 else r.sample(PROVINCES, r.randint(1, 3)),
            "lead_time_days": r.randint(0, 5),
            "max_deferred_payment_days": r.choice([0, 30, 60]),
            "issues_vat_invoice": r.random() < 0.7,
            "has_traceability_stamps": r.random() < 0.5,
        }
        return Offer.model_validate(body)

    def demand(self, cross: bool, demand_id: str | None = None, revision: int = 1) -> Demand:
        r = self.rng
        self.n += 1
        amount = r.randint(1, 20)
        body: dict[str, Any] = {
            "demand_id": demand_id or f"d{self.n}",
            "revision": revision,
            "buyer_id": f"buyer-{r.randrange(300)}",
            "criteria": {
                "category": MARKET,
                "min_ocop_stars": r.choice([0, 0, 0, 3]),
                "required_certifications": r.choice([[], [], [], ["VietGAP"]]),
            },
            "quantity": {"amount": str(amount), "unit": "tấn"},
            "max_unit_price_vnd": r.randint(52_000, 65_000) if cross else r.randint(20_000, 48_000),
            "delivery_province": r.choice(PROVINCES),
            "delivery_window": self._window((7, 30)),
            "payment_terms_days": r.choice([0, 0, 30, 45]),
            "requires_vat_invoice": r.random() < 0.3,
            "requires_traceability": r.random() < 0.2,
            "accepts_partial": r.random() < 0.8,
        }
        return Demand.model_validate(body)


class Picker:
    """A set with O(1) add, remove and random choice (ids in insertion order)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.where: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self.where:
            self.where[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: str) -> None:
        i = self.where.pop(item, None)
        if i is not None:
            last = self.items.pop()
            if i < len(self.items):
                self.items[i] = last
                self.where[last] = i

    def choice(self, rng: random.Random) -> str | None:
        return rng.choice(self.items) if self.items else None


class Stream:
    """Builds events in market-time order and feeds them to a (generator) book."""

    def __init__(self, book: MarketBook, seed: int, cross: float) -> None:
        self.book = book
        self.cross = cross
        self.rng = random.Random(seed)
        self.orders = Orders(self.rng)
        self.n = 0
        self.now = T0
        self.offers, self.demands, self.pending = Picker(), Picker(), Picker()
        self.accepted: dict[str, str] = {}  # match id -> party that accepted first
        self.revisions: Counter[str] = Counter()
        self.target = 0  # open offers (and open demands) to keep
        self.changes: dict[str, Any] = {}  # the records the last event changed

    def event(self, cls: type, step: float, **body: Any) -> Any:
        self.n += 1
        self.now += timedelta(seconds=step)
        return cls(event_id=uuid.UUID(int=self.n), occurred_at=self.now, source="bench", **body)

    def feed(self, event: Any) -> list[Any]:
        outcomes = self.book.apply(event)
        self.changes = self.book.drain_changes()  # kept for tests that compare records
        for o in outcomes:
            if isinstance(o, Proposed):
                self.pending.add(o.match_id)
            elif isinstance(o, Confirmed | Expired | Released):
                self.pending.discard(o.match_id)
        return outcomes

    def seed_book(self, size: int) -> None:
        """``size`` open orders that do not match each other (asks above bids)."""
        self.target = size // 2
        for i in range(size):
            if i % 2:
                order = self.orders.offer(cross=False)
                self.feed(self.event(ev.OfferPublished, 0.01, offer=order))
                self.offers.add(order.offer_id)
            else:
                order = self.orders.demand(cross=False)
                self.feed(self.event(ev.DemandPosted, 0.01, demand=order))
                self.demands.add(order.demand_id)

    def next_event(self) -> Any:
        """One event of the mix; new orders and withdrawals/cancellations alternate around the
        target size, so the book keeps its size however many orders get filled."""
        r, step = self.rng, 9.0  # 20k events span about 50 h: unanswered proposals expire
        roll = r.random()
        open_offers, open_demands = self.book.open_counts
        if roll < 0.36:
            if r.random() < 0.1 and (offer_id := self.offers.choice(r)):
                self.revisions[offer_id] += 1
                rev = 1 + self.revisions[offer_id]
                order = self.orders.offer(r.random() < self.cross, offer_id, rev)
                return self.event(ev.OfferUpdated, step, offer=order)
            if open_offers >= self.target and (offer_id := self.offers.choice(r)):
                self.offers.discard(offer_id)
                return self.event(ev.OfferWithdrawn, step, offer_id=offer_id, category=MARKET)
            order = self.orders.offer(cross=r.random() < self.cross)
            self.offers.add(order.offer_id)
            return self.event(ev.OfferPublished, step, offer=order)
        if roll < 0.72:
            if r.random() < 0.1 and (demand_id := self.demands.choice(r)):
                self.revisions[demand_id] += 1
                rev = 1 + self.revisions[demand_id]
                order = self.orders.demand(r.random() < self.cross, demand_id, rev)
                return self.event(ev.DemandUpdated, step, demand=order)
            if open_demands >= self.target and (demand_id := self.demands.choice(r)):
                self.demands.discard(demand_id)
                return self.event(ev.DemandCancelled, step, demand_id=demand_id, category=MARKET)
            order = self.orders.demand(cross=r.random() < self.cross)
            self.demands.add(order.demand_id)
            return self.event(ev.DemandPosted, step, demand=order)
        if roll < 0.88 and (match_id := self.pending.choice(r)):
            party = "supplier" if self.accepted.get(match_id) == "buyer" else "buyer"
            self.accepted[match_id] = party
            return self.event(
                ev.MatchAccepted, step, match_id=match_id, category=MARKET, party=party,
                org_id="bench",
            )  # fmt: skip
        if roll < 0.93 and (match_id := self.pending.choice(r)):
            return self.event(
                ev.MatchDeclined, step, match_id=match_id, category=MARKET, party="buyer",
                org_id="bench",
            )  # fmt: skip
        return self.event(ev.MarketTick, step, category=MARKET)


def measure(
    size: int, n_events: int, cross: float, repeat: int = 3, config: MatchConfig | None = None
) -> dict[str, Any]:
    """Every timed pass's rate (``rates``) and the best pass's ``seconds``."""
    config, seed = config or MatchConfig(), 7
    generator = Stream(MarketBook(MARKET, config), seed, cross)
    generator.seed_book(size)
    snapshot = list(generator.book.records())
    events, expected = [], []
    for _ in range(n_events):
        event = generator.next_event()
        events.append(event)
        expected.append(generator.feed(event))

    rates, got, book = [], [], generator.book
    for _ in range(repeat):  # other processes share the CPU: every pass is kept
        book = MarketBook.restore(MARKET, snapshot, config)
        start_counts = book.open_counts
        got = []
        gc.collect()
        gc.freeze()  # the long-lived book need not be scanned by every collection
        apply, drain, clock = book.apply, book.drain_changes, time.perf_counter
        t0 = clock()
        for event in events:
            got.append(apply(event))
            drain()
        rates.append(n_events / (clock() - t0))
        gc.unfreeze()
        if got != expected:
            raise SystemExit(f"book of {size}: the restored book decided differently")
    kinds = Counter(type(o).__name__ for outcomes in got for o in outcomes)
    return {
        "size": size,
        "events": n_events,
        "engine": IMPLEMENTATION,
        "rates": rates,
        "seconds": n_events / max(rates),
        "start": start_counts,
        "end": book.open_counts,
        "kinds": dict(kinds),
        "digest": outcomes_digest(got),
        "types": dict(Counter(e.type for e in events)),
    }


def side_by_side(
    size: int, n_events: int, cross: float, repeat: int, engines: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """``measure`` under each engine build, one fresh process each, one after the other."""
    out = {}
    for engine in engines:
        options = ["--sizes", size, "--events", n_events, "--cross", cross, "--repeat", repeat]
        command = [sys.executable, "-m", "bench.core_throughput", "--json", *map(str, options)]
        env = {**os.environ, "KETNOI_ENGINE": engine}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"core bench, {engine} engine, book of {size}: {done.stderr[-2000:]}")
        [row] = json.loads(done.stdout.strip().splitlines()[-1])
        out[engine] = row
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--cross", type=float, default=0.2, help="share of new orders that match")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is shown")
    parser.add_argument("--candidate-limit", type=int, default=MatchConfig().candidate_limit)
    parser.add_argument("--reasons-per-tick", type=int, default=MatchConfig().reasons_per_tick,
                        help="waiting demands whose reason a tick judges again")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print only the rows, as JSON")
    args = parser.parse_args(argv)
    config = MatchConfig(
        candidate_limit=args.candidate_limit, reasons_per_tick=args.reasons_per_tick
    )
    if args.json:
        rows = [measure(n, args.events, args.cross, args.repeat, config) for n in args.sizes]
        print(json.dumps(rows))
        return
    print(f"engine: {IMPLEMENTATION} build (KETNOI_ENGINE), cross share {args.cross}, {config}")
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args.events, args.cross, args.repeat, config))
        row = rows[-1]
        print(f"  built and ran book of {size:,}: {row['kinds']}", flush=True)
    print()
    print(f"{'book size':>10} {'events':>7} {'seconds':>8} {'events/s':>9} {'µs/event':>9}"
          f"  {'open offers/demands start -> end':<34}")  # fmt: skip
    for row in rows:
        us = row["seconds"] / row["events"] * 1e6
        rate = row["events"] / row["seconds"]
        span = f"{row['start'][0]:,}/{row['start'][1]:,} -> {row['end'][0]:,}/{row['end'][1]:,}"
        print(
            f"{row['size']:>10,} {row['events']:>7,} {row['seconds']:>8.3f} {rate:>9,.0f} "
            f"{us:>9.1f}  {span:<34}"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        ratio = (last["seconds"] / last["events"]) / (first["seconds"] / first["events"])
        print(f"\nµs/event at {last['size']:,} vs {first['size']:,}: x{ratio:.2f}")
    mix = rows[-1]["types"]
    print("event mix:", ", ".join(f"{k} {v}" for k, v in sorted(mix.items())))


if __name__ == "__main__":
    main()
