"""A deliberately simple matcher that keeps the book in MongoDB, to put the engine's speed in scale.

    python -m bench.naive [--seed 42] [--count 500] [--repeat 3]

This is how a first implementation would do it: every event asks the database for its
candidates. An offer is inserted, then the waiting demands of its category whose ceiling admits
its price and whose delivery window meets its dates are fetched oldest first; a demand is
inserted, then the offers of its category with grams left, price within the ceiling, dates and
region fitting are fetched cheapest first. The remaining hard rules are checked in Python with
the engine's own ``terms_fit``/``lot_fits`` (same rules, same results), and each allocation is
reserved with ``find_one_and_update`` guarded by the grams left, so no gram is promised twice.
Proposals are kept in memory, as the engine's outcomes are; there is no scoring.

The engine runs over the same events in the same process (``MarketBook.apply`` and
``drain_changes``, proposals never expire, as here). Both receive ready pydantic models, so
parsing is excluded from both; both convert them to terms inside the timing.
"""

from __future__ import annotations

import argparse
import gc
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from statistics import median
from typing import Any

from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from bench.quality import NO_EXPIRY, grams
from connectors.simulator import events as scenario_events
from ketnoi.settings import Settings
from schemas.events import DemandPosted, OfferPublished
from services.matcher.engine import MarketBook, Proposed
from services.matcher.engine.constraints import lot_fits, terms_fit
from services.matcher.engine.terms import DemandTerms, OfferTerms

Proposal = tuple[str, str, int]  # offer id, demand id, grams


class NaiveMatcher:
    """The book as two collections; a query per event finds the counterparts."""

    def __init__(self, db: Database) -> None:
        self.offers: Collection = db.offers
        self.demands: Collection = db.demands
        self.offers.create_index([("market", ASCENDING), ("price_milli", ASCENDING)])
        self.demands.create_index([("market", ASCENDING), ("seq", ASCENDING)])
        self.seq = 0
        self.proposals: list[Proposal] = []

    def apply(self, event: Any) -> None:
        self.seq += 1
        if isinstance(event, OfferPublished):
            self._offer(event.market_key, OfferTerms.from_offer(event.offer), event.offer.offer_id)
        elif isinstance(event, DemandPosted):
            self._demand(event.market_key, DemandTerms.from_demand(event.demand),
                         event.demand.demand_id)  # fmt: skip
        else:
            raise TypeError(f"the naive matcher takes new orders only, not {event.type}")

    def _offer(self, market: str, ot: OfferTerms, oid: str) -> None:
        left = grams(ot.quantity_kg)
        self.offers.insert_one({
            "_id": oid, "market": market, "seq": self.seq, "price_milli": ot.price_milli,
            "left_g": left, "ships_to": ot.ships_to, "ready_start": ot.ready_start,
            "ready_end": ot.ready_end, "terms": ot.record,
        })  # fmt: skip
        query = {
            "market": market, "open_g": {"$gt": 0},
            "$or": [{"ceiling_milli": None}, {"ceiling_milli": {"$gte": ot.price_milli}}],
            "window_start": {"$lte": ot.ready_end}, "window_end": {"$gte": ot.ready_start},
        }  # fmt: skip
        for doc in self.demands.find(query).sort("seq", ASCENDING):
            dt = DemandTerms.from_record(doc["terms"])
            open_g = doc["open_g"]
            q = min(left, open_g)
            if not terms_fit(ot, dt) or not lot_fits(ot, dt, _kg(q), _kg(open_g)):
                continue
            reserved = self.demands.find_one_and_update(
                {"_id": doc["_id"], "open_g": {"$gte": q}}, {"$inc": {"open_g": -q}}
            )
            if reserved is None:
                continue  # taken meanwhile (not in one process, but a real one would check)
            self.proposals.append((oid, doc["_id"], q))
            left -= q
            if left == 0:
                break
        if left != grams(ot.quantity_kg):
            self.offers.update_one({"_id": oid}, {"$set": {"left_g": left}})

    def _demand(self, market: str, dt: DemandTerms, did: str) -> None:
        open_g = grams(dt.quantity_kg)
        self.demands.insert_one({
            "_id": did, "market": market, "seq": self.seq, "ceiling_milli": dt.ceiling_milli,
            "open_g": open_g, "window_start": dt.window_start, "window_end": dt.window_end,
            "terms": dt.record,
        })  # fmt: skip
        query: dict[str, Any] = {
            "market": market, "left_g": {"$gt": 0},
            "ready_start": {"$lte": dt.window_end}, "ready_end": {"$gte": dt.window_start},
            "$or": [{"ships_to": None}, {"ships_to": dt.province}],
        }  # fmt: skip
        if dt.ceiling_milli is not None:
            query["price_milli"] = {"$lte": dt.ceiling_milli}
        order = [("price_milli", ASCENDING), ("seq", ASCENDING)]
        start = open_g
        for doc in self.offers.find(query).sort(order):
            ot = OfferTerms.from_record(doc["terms"])
            q = min(doc["left_g"], open_g)
            if not terms_fit(ot, dt) or not lot_fits(ot, dt, _kg(q), _kg(open_g)):
                continue
            reserved = self.offers.find_one_and_update(
                {"_id": doc["_id"], "left_g": {"$gte": q}}, {"$inc": {"left_g": -q}}
            )
            if reserved is None:
                continue
            self.proposals.append((doc["_id"], did, q))
            open_g -= q
            if open_g == 0:
                break
        if open_g != start:
            self.demands.update_one({"_id": did}, {"$set": {"open_g": open_g}})


def _kg(g: int) -> Decimal:
    return Decimal(g) / 1000


def run_naive(client: MongoClient, stream: list[Any]) -> tuple[float, int]:
    """Seconds for the whole stream on a fresh database (dropped afterwards), and grams."""
    name = f"bench_naive_{uuid.uuid4().hex[:8]}"
    try:
        matcher = NaiveMatcher(client[name])
        t0 = time.perf_counter()
        for event in stream:
            matcher.apply(event)
        seconds = time.perf_counter() - t0
        return seconds, sum(q for _, _, q in matcher.proposals)
    finally:
        client.drop_database(name)


def run_engine_timed(stream: Iterable[Any]) -> tuple[float, int]:
    """Seconds for the engine over the stream (fresh books), and grams proposed."""
    books: dict[str, MarketBook] = {}
    volume = 0
    gc.collect()
    t0 = time.perf_counter()
    for event in stream:
        market = event.market_key
        book = books.get(market)
        if book is None:
            book = books[market] = MarketBook(market, NO_EXPIRY)
        for outcome in book.apply(event):
            if isinstance(outcome, Proposed):
                volume += grams(outcome.quantity_kg)
        book.drain_changes()
    return time.perf_counter() - t0, volume


def measure(
    settings: Settings, seed: int = 42, count: int = 500, repeat: int = 3
) -> dict[str, Any]:
    """Interleaved passes of both; rates per pass, so the spread shows the machine's noise."""
    stream = list(scenario_events(seed=seed, count=count))
    client: MongoClient = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=10_000)
    naive_rates, engine_rates = [], []
    naive_g = engine_g = 0
    try:
        for _ in range(repeat):
            seconds, naive_g = run_naive(client, stream)
            naive_rates.append(count / seconds)
            for _ in range(3):  # the engine's pass is short: three per naive pass
                seconds, engine_g = run_engine_timed(stream)
                engine_rates.append(count / seconds)
    finally:
        client.close()
    return {
        "seed": seed,
        "count": count,
        "naive_rates": naive_rates,
        "engine_rates": engine_rates,
        "ratio": median(engine_rates) / median(naive_rates),
        "naive_t": naive_g / 1e6,
        "engine_t": engine_g / 1e6,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    r = measure(Settings(), args.seed, args.count, args.repeat)
    print(f"scenario seed {r['seed']}, {r['count']} events")
    for name in ("naive", "engine"):
        rates = r[f"{name}_rates"]
        print(f"  {name:<7} median {median(rates):>9,.0f} events/s  "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f}, n={len(rates)}); "
              f"proposed {r[f'{name}_t']:,.1f} t")  # fmt: skip
    print(f"  engine / naive: x{r['ratio']:,.0f}")
    return r


if __name__ == "__main__":
    main()
