"""Clearing rounds: every open order of a rounds lane allocated at once, for the most volume,
then the best scores.

First come, first served lets arrival order decide how many tonnes are sold: a big demand
arriving first takes the offer a later, pickier demand needed. A round sees every open order
of its lane (a market's or a session's ``rounds`` orders) and solves the allocation as a
transport problem: offers supply their available grams, demands take their open grams, an arc
joins each pair that passes every hard constraint at its full quantity, and a min-cost flow
(OR-Tools' ``SimpleMinCostFlow``, maximum flow at minimum cost, cost = minus the pair's score)
moves the most grams, and among the allocations that do, the highest score x kg.

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

from .allocation import Run, candidates, fill_demand, place_offer
from .constraints import lot_fits, terms_fit
from .outcomes import Proposed
from .records import DemandState, OfferState, PairHistory
from .scoring import Scorer
from .terms import ROUNDS, DemandTerms, OfferTerms, lane

if TYPE_CHECKING:
    from .book import MarketBook

GRAMS = Decimal(1000)
SOLVER_UNITS = 1 << 44
"""Largest total quantity of a round in the solver's units (see ``_unit``): with weights
below 2^14, the total cost stays below 2^58."""
VERY_DEEP = 4
"""A lane with more than this many times ``round_scan`` offers skips the claims-free pass of
``build`` (a 10,000-order market's round: same volume, a third less time)."""
SECOND_REPAIR_ARCS = 20_000
"""Rounds up to this many arcs also try repairing lots by closing arcs alone (whole fills
compete there, see best_allocation): a second set of solves, cheap on a session's round,
too dear on a deep market's (bench/clearing.py)."""
ROUND_SUFFIX = "/" + ROUNDS


def clear_rounds(book: MarketBook, run: Run, pool: str | None) -> None:
    """Close the round of ``pool``'s rounds lane (a session-scoped session), or of every
    rounds lane of the market when ``pool`` is None, lanes in sorted order."""
    if pool is None:
        lanes: list[str | None] = [p for p in book.waiting.lanes() if p.endswith(ROUND_SUFFIX)]
    else:
        lanes = [lane(pool, ROUNDS)]
    for name in lanes:
        clear_lane(book, run, name)


class Round:
    """One lane's transport problem, in grams: offers and demands by index, arcs as lists."""

    __slots__ = ("arcs_of", "caps", "demands", "first_come", "heads", "need", "offers",
                 "scorers", "supply", "tails", "weights")  # fmt: skip

    def __init__(self) -> None:
        self.offers: list[OfferState] = []
        self.demands: list[DemandState] = []
        self.supply: list[int] = []  # available grams per offer
        self.need: list[int] = []  # open grams per demand
        self.scorers: list[Scorer] = []  # per demand, on its open quantity before the round
        self.tails: list[int] = []  # arc -> offer index
        self.heads: list[int] = []  # arc -> demand index
        self.caps: list[int] = []  # arc -> grams it may carry (the pair's full quantity)
        self.weights: list[int] = []  # arc -> score x 100 at that quantity
        self.arcs_of: list[list[int]] = []  # demand -> its arcs, best first (greedy's order)
        self.first_come: list[int] = []  # arc -> grams first come on arrival would allocate


def clear_lane(book: MarketBook, run: Run, pool: str | None) -> None:
    """Allocate the open quantities of one lane and propose the result."""
    demands = book.waiting.open_in(pool)
    if not demands or book.offer_index.pool_size(pool) == 0:
        return
    problem = build(book, demands, pool)
    if not problem.tails:
        return
    flows = best_allocation(problem, book.config.round_repairs)
    _propose(book, run, problem, flows)


def build(book: MarketBook, demands: list[DemandState], pool: str | None) -> Round:
    """The round's arcs, found from both sides as first come finds them, so they hold the
    first-come allocation and room to improve on it:

    - each demand, in arrival order: the offers of its lane passing every rule at the pair's
      full quantity, among the first ``round_scan`` its province, ceiling and dates select
      (cheapest first), the ``round_candidates`` best scored of them; it then claims grams
      along them, best first, as first come would;
    - in a lane of more offers than one demand examines, the demands search again, and this
      time an offer claimed ``round_overlap`` times over leaves the index until the pass ends:
      else every demand finds the same cheapest offers and most offers get no arc at all (in
      a very deep lane, only this pass runs, see ``VERY_DEEP``);
    - then each offer with grams unclaimed, in arrival order: the oldest demands admitting its
      price and dates (``round_scan`` at most, as a new offer's search), up to
      ``round_candidates`` new arcs to demands not yet claimed over.
    """
    r = Round()
    arcs = _Arcs(book, r)
    index, overlap = book.offer_index, book.config.round_overlap
    offers, scan = index.pool_size(pool), book.config.round_scan
    if offers <= scan:  # every demand sees every offer: one pass, nothing to look past
        passes: tuple[bool, ...] = (False,)
    elif offers <= VERY_DEEP * scan:  # both: the claims-free arcs are the better ones here
        passes = (False, True)
    else:  # so deep that claims-free arcs are the same few offers for every demand
        passes = (True,)
    for parking in passes:
        arcs.unclaim()
        parked: list[OfferState] = []  # offers out of the index while this pass runs
        try:
            for d in demands:
                j = arcs.demand(d)
                if j < 0:
                    continue
                for a in arcs.from_demand(j):  # claim as first come would, best first
                    i = r.tails[a]
                    if arcs.claim(a) and parking and arcs.offer_claimed[i] >= r.supply[i] * overlap:
                        o = r.offers[i]
                        o.active = False  # out of the index for the next demands' scans
                        index.sync(o)
                        parked.append(o)
                    if arcs.demand_claimed[j] >= r.need[j]:
                        break
        finally:
            for o in parked:
                o.active = True
                index.sync(o)
    try:
        for o in sorted(index.in_pool(pool), key=_by_seq):
            arcs.from_offer(o, pool)
    finally:
        for d in arcs.hidden:
            book.waiting.sync(d)
    arrived = on_arrival(book, demands, pool)
    for o, d, _ in arrived:  # its pairs are arcs too, so the flow can keep what it found
        j = arcs.demand(d)
        if j >= 0 and (arcs.offer(o), j) not in arcs.pairs:
            arcs.add(o, j, arcs.weight(o, j))
    r.first_come = [0] * len(r.tails)
    for o, d, q in arrived:
        found = arcs.pairs.get((arcs.offer(o), arcs.demand(d)))
        if found is not None:
            r.first_come[found] += _grams(q)
    for of_demand in r.arcs_of:
        of_demand.sort(key=arcs.ranking)
    return r


def on_arrival(
    book: MarketBook, demands: list[DemandState], pool: str | None
) -> list[tuple[OfferState, DemandState, Decimal]]:
    """What first come, first served would propose if the lane's open orders had arrived,
    in their order, as instant orders: a scratch book replays them (the real one is not
    touched), so a round can be held to never selling less than instant matching would."""
    scratch = type(book)(book.market, book.config)
    scratch.suppliers = book.suppliers  # read by scores only
    scratch.pairs = {pair: PairHistory(blocked=True) for pair, h in book.pairs.items() if h.blocked}
    run = Run(book.clock, 1 << 62)
    offers = book.offer_index.in_pool(pool)
    arrivals: list[OfferState | DemandState] = [*offers, *demands]
    for x in sorted(arrivals, key=_by_seq):
        record = {k: v for k, v in x.terms.record.items() if k != "clearing"}
        if isinstance(x, OfferState):
            o = OfferState(x.offer_id, x.seq, OfferTerms.from_record(record), x.available_kg)
            scratch.offers[o.offer_id] = o
            scratch.active_offers += 1
            scratch.offer_index.sync(o)
            place_offer(scratch, run, o)
        elif isinstance(x, DemandState):
            d = DemandState(x.demand_id, x.seq, DemandTerms.from_record(record), x.open_kg)
            scratch.demands[d.demand_id] = d
            scratch.waiting.add(d)
            fill_demand(scratch, run, d)
    by_offer = {o.offer_id: o for o in offers}
    by_demand = {d.demand_id: d for d in demands}
    return [
        (by_offer[p.offer_id], by_demand[p.demand_id], p.quantity_kg)
        for p in run.outcomes
        if isinstance(p, Proposed)
    ]


class _Arcs:
    """Adds nodes and arcs to a Round without repeating a pair, and tracks claims."""

    def __init__(self, book: MarketBook, r: Round) -> None:
        self.book, self.r = book, r
        self.offer_node: dict[int, int] = {}  # offer seq -> index
        self.demand_node: dict[int, int] = {}  # demand seq -> index
        self.pairs: dict[tuple[int, int], int] = {}  # (offer, demand) -> arc
        self.offer_claimed: list[int] = []
        self.demand_claimed: list[int] = []
        self.opens: list[Decimal] = []  # demand -> open kg before the round
        self.prices: list[Decimal] = []  # arc -> offer price per kg (a ranking tie-break)
        self.hidden: list[DemandState] = []  # demands out of searches while arcs are built

    def demand(self, d: DemandState) -> int:
        """The demand's index (added now if new); -1 when less than a gram is open."""
        j = self.demand_node.get(d.seq)
        if j is not None:
            return j
        open_kg = d.open_kg
        need = _grams(open_kg)
        if need <= 0:
            return -1
        r = self.r
        j = self.demand_node[d.seq] = len(r.demands)
        r.demands.append(d)
        r.need.append(need)
        r.scorers.append(Scorer(d.terms, open_kg, self.book.suppliers))
        r.arcs_of.append([])
        self.demand_claimed.append(0)
        self.opens.append(open_kg)
        return j

    def offer(self, o: OfferState) -> int:
        i = self.offer_node.get(o.seq)
        if i is None:
            r = self.r
            i = self.offer_node[o.seq] = len(r.offers)
            r.offers.append(o)
            r.supply.append(_grams(o.available_kg))
            self.offer_claimed.append(0)
        return i

    def add(self, o: OfferState, j: int, weight: int) -> int:
        """Arc o -> demand j (-1 if the pair has one, or less than a gram to carry)."""
        open_kg, available = self.opens[j], o.available_kg
        cap = _grams(available if available <= open_kg else open_kg)
        i = self.offer(o)
        if cap <= 0 or (i, j) in self.pairs:
            return -1
        r = self.r
        self.pairs[i, j] = len(r.tails)
        a = len(r.tails)
        r.tails.append(i)
        r.heads.append(j)
        r.caps.append(cap)
        r.weights.append(weight)
        r.arcs_of[j].append(a)
        self.prices.append(o.terms.price_per_kg)
        return a

    def unclaim(self) -> None:
        """Forget every claim (a new pass of the demands)."""
        self.offer_claimed = [0] * len(self.offer_claimed)
        self.demand_claimed = [0] * len(self.demand_claimed)

    def from_demand(self, j: int) -> list[int]:
        """The demand's best arcs among its cheapest fitting offers (added now, or by an
        earlier pass), best first."""
        config, d = self.book.config, self.r.demands[j]
        scan = config.round_scan
        found = candidates(self.book, d, self.opens[j], self.r.scorers[j], scan, scan, scan)
        ranked = [(round(-minus_rank * 100), price, seq, o) for minus_rank, price, seq, o in found]
        ranked.sort(key=_best_first)  # seqs are unique: the offers never compare
        found_arcs = []
        for weight, _, _, o in ranked[: config.round_candidates]:
            a = self.pairs.get((self.offer(o), j))
            if a is None:
                a = self.add(o, j, weight)
            if a >= 0:
                found_arcs.append(a)
        return found_arcs

    def from_offer(self, o: OfferState, pool: str | None) -> None:
        """Arcs from an offer with grams unclaimed to the oldest demands it fits."""
        book, r = self.book, self.r
        i = self.offer(o)
        if self.offer_claimed[i] >= r.supply[i]:
            return
        config, ot = book.config, o.terms
        added = 0
        waiting = book.waiting.admitting(ot.price_f, ot.ready_start, ot.ready_end,
                                         config.scan_limit, pool)  # fmt: skip
        for d in waiting:
            dt = d.terms
            if d.filled or not terms_fit(ot, dt):
                continue
            pair = book.pairs.get((o.offer_id, d.demand_id))
            if pair is not None and pair.blocked:
                continue
            j = self.demand(d)
            if j < 0 or self.demand_claimed[j] >= r.need[j] * config.round_overlap:
                continue
            open_kg = self.opens[j]
            q = self.q(o, j)
            if not lot_fits(ot, dt, q, open_kg):
                continue
            a = self.add(o, j, self.weight(o, j))
            if a < 0:
                continue
            self.claim(a)
            if self.demand_claimed[j] >= r.need[j] * config.round_overlap:
                book.waiting.hide(d)  # later offers look past it
                self.hidden.append(d)
            added += 1
            if added >= config.round_candidates or self.offer_claimed[i] >= r.supply[i]:
                return

    def claim(self, a: int) -> bool:
        """Claim what arc ``a`` can still take; False if nothing."""
        r = self.r
        i, j = r.tails[a], r.heads[a]
        overlap = self.book.config.round_overlap
        take = min(r.supply[i] * overlap - self.offer_claimed[i],
                   r.need[j] * overlap - self.demand_claimed[j], r.caps[a])  # fmt: skip
        if take <= 0:
            return False
        self.offer_claimed[i] += take
        self.demand_claimed[j] += take
        return True

    def ranking(self, a: int) -> tuple[int, Decimal, int]:
        """Best score first; ties: cheaper per kg, then the earlier offer."""
        r = self.r
        return -r.weights[a], self.prices[a], r.offers[r.tails[a]].seq

    def weight(self, o: OfferState, j: int) -> int:
        """The pair's arc weight: its score x 100 at its full quantity (``candidates``'
        ranking, rounded)."""
        return round(self.r.scorers[j].rank(o.terms, self.q(o, j)) * 100)

    def q(self, o: OfferState, j: int) -> Decimal:
        """The pair's full quantity: min(the offer's available, the demand's open)."""
        available, open_kg = o.available_kg, self.opens[j]
        return available if available <= open_kg else open_kg


def _best_first(item: tuple[int, Decimal, int, OfferState]) -> tuple[int, Decimal, int]:
    return -item[0], item[1], item[2]


def _by_seq(o: OfferState | DemandState) -> int:
    return o.seq


def best_allocation(r: Round, repairs: int) -> list[int]:
    """Grams per arc: the best by (grams, score x grams) of first come over the round's arcs,
    first come as the orders arrived (``on_arrival``), and the optimised flow with its lots
    repaired by forcing and, when whole-fill demands are in the round, by closing alone; each
    topped up with what is left. Ties keep the earlier of these."""
    best = _top_up(r, [0] * len(r.tails))  # first come over the same arcs
    if not r.tails:
        return best
    tried = [_top_up(r, r.first_come), _top_up(r, optimal_flow(r, repairs, force=True))]
    if len(r.tails) <= SECOND_REPAIR_ARCS and any(not d.terms.accepts_partial for d in r.demands):
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
    floors = [_grams(kg) for kg in (ot.min_order_kg, dt.min_lot_kg) if kg is not None]
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


def _grams(kg: Decimal) -> int:
    """Whole grams, rounded down: a round never allocates a fraction it does not have
    (``int`` truncates toward zero, which is down for the quantities here, never negative)."""
    return int(kg * GRAMS)
