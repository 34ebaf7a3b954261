"""Clearing rounds: every open order of a rounds lane allocated at once, for the most volume,
then the best scores.

First come, first served lets arrival order decide how many tonnes are sold: a big demand
arriving first takes the offer a later, pickier demand needed. A round sees every open order
of its lane (a market's or a session's ``rounds`` orders) and solves the allocation as a
transport problem: offers supply their available grams, demands take their open grams, an arc
joins each pair that passes every hard constraint at its full quantity, and a min-cost flow
(OR-Tools' ``SimpleMinCostFlow``, maximum flow at minimum cost, cost = minus the pair's score)
moves the most grams, and among the allocations that do, the highest score x kg. The arcs,
and what first come would have sold, were found as the orders arrived (draft.py): closing a
round only solves and proposes.

A flow knows nothing of lots: it may give a pair less than its minimum order or minimum lot,
or split a demand that takes whole fills only. Such arcs are repaired: for each demand fed
below its rules, its smallest offending arc is closed and the flow solved again, a bounded
number of times (``MatchConfig.round_repairs``); what still offends after that is dropped, so
every proposal passes the same rules as an instant one. The result is then compared with the
first-come allocation over the same arcs (demands in arrival order, each taking its best
candidates), and the better of the two by (volume, score) is proposed, topped up greedily
with what is left: a round is never worse than instant matching of the same book.

Deterministic: arcs are built in arrival order and the solver is deterministic for the same
input, so a replay, or a book restored from its records, clears the same. Proposals that
nobody accepted yet are not re-optimised (no churn): a round allocates open quantities only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

# numpy is imported with the engine: OR-Tools' bindings import it on their first call
# otherwise, inside the first round, where it cost about a second.
import numpy  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
from ortools.graph.python import min_cost_flow  # type: ignore[import-untyped]

from .allocation import Run
from .constraints import lot_fits
from .draft import GRAMS, Round, grams
from .terms import ROUNDS, lane

if TYPE_CHECKING:
    from .book import MarketBook

SOLVER_UNITS = 1 << 44
"""Largest total quantity of a round in the solver's units (see ``_unit``): with weights
below 2^14, the total cost stays below 2^58."""
LARGE_ROUND_ARCS = 20_000
"""Rounds up to this many arcs repair lots up to ``round_repairs`` times and also try
repairing by closing arcs alone (whole fills compete there, see best_allocation): more
solves, cheap on a session's round. A larger round (a deep market's) repairs once: each
solve of its network takes about 0.2 s, and the 10,000-order round of bench/clearing.py
sold 0.5% less with one repair than with three, still 2.5% more than first come."""
ROUND_SUFFIX = "/" + ROUNDS


def clear_rounds(book: MarketBook, run: Run, pool: str | None) -> None:
    """Close the round of ``pool``'s rounds lane (a session-scoped session), or of every
    rounds lane of the market when ``pool`` is None, lanes in sorted order."""
    if pool is None:
        lanes = [p for p in book.waiting.lanes() if p.endswith(ROUND_SUFFIX)]
    else:
        lanes = [lane(pool, ROUNDS) or ROUND_SUFFIX]  # never None for rounds (terms.lane)
    for name in lanes:
        clear_lane(book, run, name)


def clear_lane(book: MarketBook, run: Run, pool: str) -> None:
    """Allocate the open quantities of one lane and propose the result."""
    r = book.take_draft(pool).close(book)
    if not r.tails:
        return
    flows = best_allocation(r, book.config.round_repairs)
    _propose(book, run, r, flows)


def best_allocation(r: Round, repairs: int) -> list[int]:
    """Grams per arc: the best by (grams, score x grams) of first come over the round's arcs,
    first come as the orders arrived (``Round.first_come``), and the optimised flow with its
    lots repaired by forcing and, when whole-fill demands are in the round, by closing alone;
    each topped up with what is left. Ties keep the earlier of these."""
    best = _top_up(r, [0] * len(r.tails))  # first come over the same arcs
    if not r.tails:
        return best
    large = len(r.tails) > LARGE_ROUND_ARCS
    if large:
        repairs = min(repairs, 1)
    tried = [_top_up(r, r.first_come), _top_up(r, optimal_flow(r, repairs, force=True))]
    if not large and any(not d.terms.accepts_partial for d in r.demands):
        # whole fills compete: forcing the wrong one can cost a demand; closing may not
        tried.append(_top_up(r, optimal_flow(r, repairs, force=False)))
    for flows in tried:
        if value(r, flows) > value(r, best):
            best = flows
    return best


def value(r: Round, flows: list[int]) -> tuple[int, int]:
    """(grams allocated, sum of weight x grams): the round's objective, volume first."""
    weights = r.weights
    return sum(flows), sum(f * weights[a] for a, f in enumerate(flows) if f)


def optimal_flow(r: Round, repairs: int, force: bool = True) -> list[int]:
    """Maximum flow at minimum cost, then lot repair (see the module doc); all zero if the
    solver cannot solve it (the first-come allocation then wins).

    Repair, per demand fed below its lot rules: its largest offending arc is forced up to the
    smallest lot it may carry (a lower bound, committed out of both sides' grams) when both
    sides still have it, else its smallest offending arc is closed; then the flow is solved
    again. Forcing keeps the grams a closed arc would lose; ``force=False`` only closes."""
    solver = min_cost_flow.SimpleMinCostFlow()
    n_offers, arcs = len(r.offers), len(r.tails)
    tails, heads_of = r.tails, r.heads
    heads = [n_offers + j for j in heads_of]
    costs = [-w for w in r.weights]
    unit = _unit(r)  # grams per solver unit: 1 unless the round's quantities are absurd
    caps = [c // unit for c in r.caps]
    solver.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supply = [g // unit for g in r.supply]  # units left after forced lots
    need = [g // unit for g in r.need]
    forced: dict[int, int] = {}  # arc -> units committed below the solver
    every = list(range(arcs))
    for attempt in range(repairs + 1):
        for i, units in enumerate(supply):
            solver.set_node_supply(i, units)
        for j, units in enumerate(need):
            solver.set_node_supply(n_offers + j, -units)
        if solver.solve_max_flow_with_min_cost() != solver.OPTIMAL:
            return [0] * arcs
        flows = [int(f) for f in solver.flows(every)]
        for a, units in forced.items():
            flows[a] += units
        flows = [f * unit for f in flows]  # grams
        offending = _offending(r, flows)
        if not offending:
            return flows
        if attempt == repairs:
            for arcs_of_demand in offending.values():
                for a in arcs_of_demand:
                    flows[a] = 0
            return flows
        for j, arcs_of_demand in offending.items():
            largest = max(arcs_of_demand, key=lambda a: (flows[a], -a))
            i = tails[largest]
            lot = -(-_smallest_lot(r, largest) // unit) - forced.get(largest, 0)  # units, up
            kept = -1
            if force and 0 < lot <= min(supply[i], need[j], caps[largest]):
                forced[largest] = forced.get(largest, 0) + lot
                supply[i] -= lot
                need[j] -= lot
                caps[largest] -= lot
                solver.set_arc_capacity(largest, caps[largest])
                kept = largest
            for a in arcs_of_demand:  # the demand's other offending arcs close at once
                if a != kept and a not in forced:  # a forced lot is never taken back
                    solver.set_arc_capacity(a, 0)
    return [0] * arcs  # not reached: the loop returns on its last attempt


def _unit(r: Round) -> int:
    """Grams per unit of the solver: the smallest power of ten that keeps the round's total
    quantity, and so every cost (weight x quantity), well inside 64 bits. Real rounds stay in
    grams; one of quantities near the schema's bounds is solved in coarser units, rounded
    down."""
    total = max(sum(r.supply), sum(r.need))
    unit = 1
    while total // unit > SOLVER_UNITS:
        unit *= 10
    return unit


def _smallest_lot(r: Round, a: int) -> int:
    """Fewest grams arc ``a`` may carry: the demand's whole open quantity if it takes whole
    fills only, else the larger of the offer's minimum order and the demand's minimum lot."""
    ot, dt = r.offers[r.tails[a]].terms, r.demands[r.heads[a]].terms
    if not dt.accepts_partial:
        return r.need[r.heads[a]]
    floors = [grams(kg) for kg in (ot.min_order_kg, dt.min_lot_kg) if kg is not None]
    return max(floors, default=1)


def _offending(r: Round, flows: list[int]) -> dict[int, list[int]]:
    """Demand -> its arcs whose grams break a lot rule (minimum order or lot, whole fill)."""
    offending: dict[int, list[int]] = {}
    tails, heads, offers, demands, need = r.tails, r.heads, r.offers, r.demands, r.need
    for a, f in enumerate(flows):
        if not f:
            continue
        j = heads[a]
        q, open_kg = Decimal(f) / GRAMS, Decimal(need[j]) / GRAMS
        if not lot_fits(offers[tails[a]].terms, demands[j].terms, q, open_kg):
            offending.setdefault(j, []).append(a)
    return offending


def _top_up(r: Round, flows: list[int]) -> list[int]:
    """First come, first served over what ``flows`` leaves: demands in arrival order take
    their best unused arcs, each as much as the lot rules allow (``fill_demand``'s rule)."""
    flows = list(flows)
    supply_left = list(r.supply)
    need_left = list(r.need)
    for a, f in enumerate(flows):
        if f:
            supply_left[r.tails[a]] -= f
            need_left[r.heads[a]] -= f
    offers, demands = r.offers, r.demands
    for j, arcs in enumerate(r.arcs_of):
        dt = demands[j].terms
        for a in arcs:
            left = need_left[j]
            if left <= 0:
                break
            i = r.tails[a]
            grams = min(supply_left[i], left, r.caps[a])
            if grams <= 0 or flows[a]:
                continue
            if not lot_fits(offers[i].terms, dt, Decimal(grams) / GRAMS, Decimal(left) / GRAMS):
                continue
            flows[a] = grams
            supply_left[i] -= grams
            need_left[j] -= grams
    return flows


def _propose(book: MarketBook, run: Run, r: Round, flows: list[int]) -> None:
    """Propose each allocated arc: demands in arrival order, each its best arcs first."""
    run.left += sum(1 for f in flows if f)  # a round is not one event's flood: it is the point
    offers, demands, tails = r.offers, r.demands, r.tails
    for j, arcs in enumerate(r.arcs_of):
        d, scorer = demands[j], r.scorers[j]
        for a in arcs:
            f = flows[a]
            if f:
                o = offers[tails[a]]
                q = Decimal(f) / GRAMS
                points, breakdown = scorer.score(o.terms, q)
                book.propose(run, o, d, q, points, breakdown)
