"""Allocation quality: the engine's matched volume and score against the offline optimum.

    python -m bench.quality [--seed 42] [--count 2000] [--rounds-of 200 50]

The engine (one ``MarketBook`` per market, no Kafka) runs over the scenario stream and over an
adversarial order of the same orders (every offer first, then demands biggest first). Proposals
count as accepted: nobody decides and ``proposal_ttl`` is ten years, so nothing expires.

Each order runs in several modes. "instant": the stream as it is (first come, first served on
arrival). The rounds modes set every order's ``clearing`` to "rounds" (nothing matches on
arrival) and insert a ``MarketTick(closes_round=True)`` for every market of the stream: "one
round" once after all orders (a trade-connection conference collecting ahead), "rounds of N"
after every N orders of the stream and after the last. A tick's market time is the latest
``occurred_at`` of the orders before it (the adversarial order is not in time order). Churn:
``Released`` outcomes of the round ticks, per 1,000 events of the run; a tick carries no user's
decline, withdrawal or update, so any proposal it releases was released by re-optimisation.

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
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import networkx as nx

from connectors.simulator import events as scenario_events
from schemas.events import DemandPosted, MarketTick, OfferPublished
from services.matcher.engine import MarketBook, MatchConfig, Proposed, Released
from services.matcher.engine.constraints import passes
from services.matcher.engine.scoring import score
from services.matcher.engine.terms import DemandTerms, OfferTerms

NO_EXPIRY = MatchConfig(proposal_ttl=timedelta(days=3650))
SOURCE, SINK = 0, 1  # integer nodes: int hashes do not vary between runs, so neither do flows
ROUNDS_OF = (200, 50)
"""Orders per round in the "rounds of N" modes (besides "one round" and "instant")."""
TICKS = uuid.UUID("6b1c0f7e-16a0-4c4e-9d6e-726f756e6473")  # uuid5 namespace of the round ticks


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


def as_rounds(
    event: OfferPublished | DemandPosted, clearing: str = "rounds"
) -> OfferPublished | DemandPosted:
    """The same new order, cleared in rounds (or as ``clearing`` says)."""
    if isinstance(event, OfferPublished):
        offer = event.offer.model_copy(update={"clearing": clearing})
        return event.model_copy(update={"offer": offer})
    if isinstance(event, DemandPosted):
        demand = event.demand.model_copy(update={"clearing": clearing})
        return event.model_copy(update={"demand": demand})
    raise TypeError(f"quality streams hold new orders only, not {event.type}")


def in_rounds(stream: Sequence[Any], every: int | None) -> list[Any]:
    """The same orders cleared in rounds: each one's ``clearing`` set to "rounds", and a
    round-closing tick for every market of the stream after every ``every`` orders and after
    the last (``every`` None: once, after all of them)."""
    markets = sorted({e.market_key for e in stream})
    out: list[Any] = []
    latest: datetime | None = None
    since = 0  # orders since the last round

    def close() -> None:
        assert latest is not None
        for m in markets:
            tick_id = uuid.uuid5(TICKS, f"{len(out)}/{m}")
            out.append(MarketTick(event_id=tick_id, occurred_at=latest, source="bench.quality",
                                  category=m, closes_round=True))  # fmt: skip

    for event in stream:
        out.append(as_rounds(event))
        latest = event.occurred_at if latest is None else max(latest, event.occurred_at)
        since += 1
        if every is not None and since == every:
            close()
            since = 0
    if since:
        close()
    return out


@dataclass
class Replay:
    """What one run of the engine over a stream did."""

    proposed: list[Proposed] = field(default_factory=list)
    events: int = 0
    released: Counter[str] = field(default_factory=Counter)  # reason -> count, every event
    released_by_rounds: int = 0  # Released outcomes of round ticks: re-optimisation's churn


def replay(stream: Iterable[Any], config: MatchConfig = NO_EXPIRY) -> Replay:
    """Run the engine over the stream (a fresh book per market) and keep what it did."""
    books: dict[str, MarketBook] = {}
    done = Replay()
    for event in stream:
        market = event.market_key
        book = books.get(market)
        if book is None:
            book = books[market] = MarketBook(market, config)
        done.events += 1
        for o in book.apply(event):
            if isinstance(o, Proposed):
                done.proposed.append(o)
            elif isinstance(o, Released):
                done.released[o.reason] += 1
                if isinstance(event, MarketTick):
                    done.released_by_rounds += 1
    return done


def run_engine(stream: Iterable[Any], config: MatchConfig = NO_EXPIRY) -> list[Proposed]:
    """Every proposal the engine makes over the stream (a fresh book per market)."""
    return replay(stream, config).proposed


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


def mode_name(every: int | None) -> str:
    return "one round" if every is None else f"rounds of {every}"


def measure(
    seed: int = 42, count: int = 2000, rounds_of: Sequence[int] = ROUNDS_OF
) -> dict[str, Any]:
    """Both orders of one scenario stream in every mode, with the optimum computed once
    (order-free). ``runs``: the instant mode's (as before modes); ``modes``: every mode's."""
    stream = list(scenario_events(seed=seed, count=count))
    t0 = time.perf_counter()
    problems = build_problems(stream)
    best = optimum(problems)
    solve_s = time.perf_counter() - t0
    orders = {"scenario": stream, "adversarial": adversarial(stream)}
    streams: dict[str, dict[str, list[Any]]] = {"instant": orders}
    for every in (None, *rounds_of):
        streams[mode_name(every)] = {n: in_rounds(o, every) for n, o in orders.items()}
    modes: dict[str, dict[str, dict[str, Any]]] = {}
    for mode, by_order in streams.items():
        runs = modes[mode] = {}
        for name, events in by_order.items():
            t1 = time.perf_counter()
            done = replay(events)
            seconds = time.perf_counter() - t1
            runs[name] = {
                **evaluate(done.proposed, problems, best),
                "events": done.events,
                "engine_s": seconds,
                "released": sum(done.released.values()),
                "released_by_rounds": done.released_by_rounds,
                "churn_per_1000": 1000 * done.released_by_rounds / done.events,
            }
    return {
        "seed": seed,
        "count": count,
        "offers": sum(len(p.offers) for p in problems.values()),
        "demands": sum(len(p.demands) for p in problems.values()),
        "pairs": sum(len(p.weights) for p in problems.values()),
        "markets": len(problems),
        "solve_s": solve_s,
        "runs": modes["instant"],
        "modes": modes,
    }


def render(result: dict[str, Any]) -> str:
    """The table ``main`` prints: a row per mode and order."""
    lines = [
        f"seed {result['seed']}, {result['offers']} offers, {result['demands']} demands, "
        f"{result['markets']} markets, {result['pairs']} feasible pairs "
        f"(optimum solved in {result['solve_s']:.1f} s)",
        f"{'mode':<14} {'order':<12} {'matched t':>10} {'max-flow t':>10} "
        f"{'lot-feasible t':>14} {'volume share':>14} {'score':>7} {'score (as proposed)':>20} "
        f"{'churn/1k':>8} {'engine s':>8}",
    ]
    for mode, runs in result["modes"].items():
        for name, r in runs.items():
            share = f"{r['volume_share']:.1%}-{r['volume_share_high']:.1%}"
            lines.append(
                f"{mode:<14} {name:<12} {r['volume_t']:>10.1f} {r['max_volume_t']:>10.1f} "
                f"{r['lot_feasible_t']:>14.1f} {share:>14} {r['score_share']:>7.1%} "
                f"{r['score_share_as_proposed']:>20.1%} {r['churn_per_1000']:>8.2f} "
                f"{r['engine_s']:>8.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds-of", type=int, nargs="*", default=list(ROUNDS_OF),
                        help='orders per round of the "rounds of N" modes')  # fmt: skip
    args = parser.parse_args(argv)
    result = measure(args.seed, args.count, args.rounds_of)
    print(render(result))
    print("churn/1k: proposals released by round ticks (re-optimisation) per 1,000 events")
    return result


if __name__ == "__main__":
    main()
