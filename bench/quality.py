"""Allocation quality: the engine's matched volume and score against the offline optimum.

    python -m bench.quality [--seed 42] [--count 2000]

The engine (one ``MarketBook`` per market, no Kafka) runs over the scenario stream and over an
adversarial order of the same orders (every offer first, then demands biggest first). Proposals
count as accepted: nobody decides and ``proposal_ttl`` is ten years, so nothing expires.

The optimum sees all orders at once. Per market, a flow network source -> offer (capacity: the
offered grams) -> demand (an edge only if the pair passes every hard constraint of the engine,
``constraints.passes``, at the largest quantity the pair could trade, min(offered, wanted), with
the demand wholly open) -> sink (capacity: the wanted grams). Lot minimums and "no partial fill"
only decide whether an edge exists; the flow may then use an edge below a minimum or split a
whole-only demand. That relaxes the problem, so its optimum is an upper bound and the share
against it a lower bound of the engine's true share. For the other side, the max-flow is
repaired until every used pair carries at least its smallest lot (``lot_feasible_volume``):
that is a feasible allocation, so the true optimum lies between the two.

The score optimum maximises the sum of score x kg with ``networkx.max_flow_min_cost`` (integer
costs -round(score x 100), each pair scored by the engine's ``scoring.score`` at that same full
quantity, every supplier unknown as in the run) plus a zero-cost edge offer -> sink for unsold
grams, so volume is not forced. It is relaxed the same way (an upper bound).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import networkx as nx

from connectors.simulator import events as scenario_events
from schemas.events import DemandPosted, OfferPublished
from services.matcher.engine import MarketBook, MatchConfig, Proposed
from services.matcher.engine.constraints import passes
from services.matcher.engine.scoring import score
from services.matcher.engine.terms import DemandTerms, OfferTerms

NO_EXPIRY = MatchConfig(proposal_ttl=timedelta(days=3650))
SOURCE, SINK = 0, 1  # integer nodes: int hashes do not vary between runs, so neither do flows


def grams(kg: Decimal) -> int:
    """Exact integer grams (flows must be integers); refuses a finer quantity."""
    g = kg * 1000
    if g != g.to_integral_value():
        raise ValueError(f"{kg} kg is not a whole number of grams")
    return int(g)


@dataclass
class Problem:
    """One market as a transport problem: capacities in grams, pair weights score x 100."""

    offers: dict[str, int] = field(default_factory=dict)
    demands: dict[str, int] = field(default_factory=dict)
    weights: dict[tuple[str, str], int] = field(default_factory=dict)  # feasible pairs only
    minimums: dict[tuple[str, str], int] = field(default_factory=dict)  # smallest lot, grams


def pair_weight(o: OfferTerms, d: DemandTerms) -> int | None:
    """The pair's weight if it can trade at all (see the module doc), else None."""
    q = min(o.quantity_kg, d.quantity_kg)
    if not passes(o, d, q, d.quantity_kg):
        return None
    points, _ = score(o, d, q, d.quantity_kg)
    return round(points * 100)


def smallest_lot(o: OfferTerms, d: DemandTerms) -> int:
    """Fewest grams one allocation of this pair may carry (lot rules; whole if no partials)."""
    if not d.accepts_partial:
        return grams(d.quantity_kg)
    floors = [grams(kg) for kg in (o.min_order_kg, d.min_lot_kg) if kg is not None]
    return max(floors, default=1)


def build_problems(stream: Iterable[Any]) -> dict[str, Problem]:
    """The orders of a stream of offer.published / demand.posted events, per market."""
    offers: dict[str, dict[str, OfferTerms]] = defaultdict(dict)
    demands: dict[str, dict[str, DemandTerms]] = defaultdict(dict)
    for event in stream:
        if isinstance(event, OfferPublished):
            offers[event.market_key][event.offer.offer_id] = OfferTerms.from_offer(event.offer)
        elif isinstance(event, DemandPosted):
            demand = event.demand
            demands[event.market_key][demand.demand_id] = DemandTerms.from_demand(demand)
        else:
            raise TypeError(f"quality streams hold new orders only, not {event.type}")
    problems: dict[str, Problem] = {}
    for market in sorted(offers.keys() | demands.keys()):
        p = problems[market] = Problem()
        p.offers = {oid: grams(t.quantity_kg) for oid, t in offers[market].items()}
        p.demands = {did: grams(t.quantity_kg) for did, t in demands[market].items()}
        for did, dt in demands[market].items():
            for oid, ot in offers[market].items():
                weight = pair_weight(ot, dt)
                if weight is not None:
                    p.weights[(oid, did)] = weight
                    p.minimums[(oid, did)] = smallest_lot(ot, dt)
    return problems


def _nodes(p: Problem) -> tuple[dict[str, int], dict[str, int]]:
    """Integer node ids of the offers and the demands, in their order."""
    offers = {oid: 2 + i for i, oid in enumerate(p.offers)}
    demands = {did: 2 + len(offers) + j for j, did in enumerate(p.demands)}
    return offers, demands


def _network(p: Problem, unsold: bool) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from((SOURCE, SINK))
    onode, dnode = _nodes(p)
    for oid, cap in p.offers.items():
        g.add_edge(SOURCE, onode[oid], capacity=cap, weight=0)
        if unsold:
            g.add_edge(onode[oid], SINK, capacity=cap, weight=0)
    for did, cap in p.demands.items():
        g.add_edge(dnode[did], SINK, capacity=cap, weight=0)
    for (oid, did), weight in p.weights.items():
        cap = min(p.offers[oid], p.demands[did])
        g.add_edge(onode[oid], dnode[did], capacity=cap, weight=-weight)
    return g


def max_volume(p: Problem) -> int:
    """Most grams that can be allocated over feasible pairs (max-flow)."""
    if not p.weights:
        return 0
    return int(nx.maximum_flow_value(_network(p, unsold=False), SOURCE, SINK))


def lot_feasible_volume(p: Problem) -> int:
    """A lower bound of the true optimum: max-flow, then, for each demand fed below a smallest
    lot, drop the violating edge carrying the least, and solve again, until none is left."""
    if not p.weights:
        return 0
    g = _network(p, unsold=False)
    onode, dnode = _nodes(p)
    while True:
        value, flow = nx.maximum_flow(g, SOURCE, SINK)
        worst: dict[int, tuple[int, int]] = {}  # demand -> (grams, offer) of its least edge
        for (oid, did), minimum in p.minimums.items():
            o, d = onode[oid], dnode[did]
            f = flow[o].get(d, 0)
            if 0 < f < minimum and (d not in worst or f < worst[d][0]):
                worst[d] = (f, o)
        if not worst:
            return int(value)
        g.remove_edges_from((o, d) for d, (_, o) in worst.items())


def max_score(p: Problem) -> int:
    """Largest sum of weight x grams over feasible allocations (min-cost flow)."""
    if not p.weights:
        return 0
    g = _network(p, unsold=True)
    return -int(nx.cost_of_flow(g, nx.max_flow_min_cost(g, SOURCE, SINK)))


def adversarial(stream: Sequence[Any]) -> list[Any]:
    """The same orders, every offer first (as they came), then demands biggest first."""
    offers = [e for e in stream if isinstance(e, OfferPublished)]
    demands = [e for e in stream if isinstance(e, DemandPosted)]
    demands.sort(key=lambda e: -e.demand.quantity_kg)  # stable: equal sizes keep their order
    return offers + demands


def run_engine(stream: Iterable[Any], config: MatchConfig = NO_EXPIRY) -> list[Proposed]:
    """Every proposal the engine makes over the stream (a fresh book per market)."""
    books: dict[str, MarketBook] = {}
    proposed: list[Proposed] = []
    for event in stream:
        market = event.market_key
        book = books.get(market)
        if book is None:
            book = books[market] = MarketBook(market, config)
        proposed += [o for o in book.apply(event) if isinstance(o, Proposed)]
    return proposed


@dataclass(frozen=True)
class Optimum:
    volume_g: int  # relaxed max-flow: at least the true optimum
    lot_volume_g: int  # a lot-feasible allocation: at most the true optimum
    score_wg: int  # sum of weight x grams


def optimum(problems: dict[str, Problem]) -> Optimum:
    return Optimum(
        volume_g=sum(max_volume(p) for p in problems.values()),
        lot_volume_g=sum(lot_feasible_volume(p) for p in problems.values()),
        score_wg=sum(max_score(p) for p in problems.values()),
    )


def evaluate(
    proposed: Iterable[Proposed], problems: dict[str, Problem], best: Optimum
) -> dict[str, float]:
    """Volume and score shares of one engine run (weights and optimum from ``problems``)."""
    weights = {pair: w for p in problems.values() for pair, w in p.weights.items()}
    volume = as_proposed = same_weights = outside = count = 0
    for m in proposed:
        count += 1
        g = grams(m.quantity_kg)
        volume += g
        as_proposed += round(m.score * 100) * g
        w = weights.get((m.offer_id, m.demand_id))
        if w is None:  # cannot happen if the engine keeps its own constraints
            outside += 1
            w = 0
        same_weights += w * g
    return {
        "proposals": count,
        "volume_t": volume / 1e6,
        "max_volume_t": best.volume_g / 1e6,
        "lot_feasible_t": best.lot_volume_g / 1e6,
        "volume_share": volume / best.volume_g if best.volume_g else 1.0,
        "volume_share_high": volume / best.lot_volume_g if best.lot_volume_g else 1.0,
        "score_share": same_weights / best.score_wg if best.score_wg else 1.0,
        "score_share_as_proposed": as_proposed / best.score_wg if best.score_wg else 1.0,
        "outside_pairs": outside,
    }


def measure(seed: int = 42, count: int = 2000) -> dict[str, Any]:
    """Both orders of one scenario stream, with the optimum computed once (order-free)."""
    stream = list(scenario_events(seed=seed, count=count))
    t0 = time.perf_counter()
    problems = build_problems(stream)
    best = optimum(problems)
    solve_s = time.perf_counter() - t0
    runs = {}
    for name, order in (("scenario", stream), ("adversarial", adversarial(stream))):
        proposed = run_engine(order)
        runs[name] = evaluate(proposed, problems, best)
    return {
        "seed": seed,
        "count": count,
        "offers": sum(len(p.offers) for p in problems.values()),
        "demands": sum(len(p.demands) for p in problems.values()),
        "pairs": sum(len(p.weights) for p in problems.values()),
        "markets": len(problems),
        "solve_s": solve_s,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args(argv)
    result = measure(args.seed, args.count)
    print(
        f"seed {result['seed']}, {result['offers']} offers, {result['demands']} demands, "
        f"{result['markets']} markets, {result['pairs']} feasible pairs "
        f"(optimum solved in {result['solve_s']:.1f} s)"
    )
    print(f"{'order':<12} {'matched t':>10} {'max-flow t':>10} {'lot-feasible t':>14} "
          f"{'volume share':>14} {'score':>7} {'score (as proposed)':>20}")  # fmt: skip
    for name, r in result["runs"].items():
        share = f"{r['volume_share']:.1%}-{r['volume_share_high']:.1%}"
        print(
            f"{name:<12} {r['volume_t']:>10.1f} {r['max_volume_t']:>10.1f} "
            f"{r['lot_feasible_t']:>14.1f} {share:>14} {r['score_share']:>7.1%} "
            f"{r['score_share_as_proposed']:>20.1%}"
        )
    return result


if __name__ == "__main__":
    main()
