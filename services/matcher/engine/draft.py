"""A rounds lane's network, built as its orders arrive, so that closing the round only solves.

A round allocates every open order of its lane at once (clearing.py). Finding the pairs worth
an arc, and what first come would have sold of the same orders, is most of that work; done at
the close, a round of 10,000 orders spent two of its three seconds there. A ``LaneDraft``
does it order by order instead, as each one arrives (``arrive``), in arrival order:

- an arriving demand takes the ``round_candidates`` best scored of the first ``round_scan``
  offers of its lane that pass every rule at the pair's full quantity (cheapest first, as its
  province, ceiling and dates select), and claims grams along them, best first, as first come
  would; an offer claimed ``round_overlap`` times over leaves the draft's index, so later
  demands look past it (else every demand finds the same cheapest offers);
- an arriving offer looks at the oldest demands admitting its price and dates (``scan_limit``,
  as a new offer does) and adds arcs to up to ``round_candidates`` of them: to those it would
  be among the best ``round_candidates`` offers of, or, in a lane deeper than one scan, to
  those not yet claimed over;
- and a scratch copy of the lane replays it first come, first served as instant orders
  (``first_come``), so the round can be held to never selling less than that.

The draft works on copies of the orders in scratch books of its own: the real book and its
indexes are never touched. It is a function of what the book's records hold, so a book
restored from them, or replayed, drafts and clears exactly as the live one: each order it
takes notes the lane's epoch and the quantity taken in its record (``Drafted``), and it reads
no blocked pair and no supplier's record. Only a round's proposals and an order's update
start a new epoch (the book drops the draft, and drafts the lane again after enough quiet
arrivals, or at its round); releases, withdrawals, cancellations, blocked pairs and
acceptances keep it, and the round reads them from the book when it closes (``close``).
"""

from __future__ import annotations

from decimal import Decimal
from heapq import heappop, heappush
from typing import TYPE_CHECKING

from .allocation import Run, candidates, fill_demand, place_offer
from .constraints import lot_fits, terms_fit
from .records import ZERO, DemandState, OfferState
from .scoring import Scorer

if TYPE_CHECKING:
    from .book import MarketBook

GRAMS = Decimal(1000)
VERY_DEEP = 4
"""A lane that has had more than this many times ``round_scan`` offers stops searching
without claims (``LaneDraft.moderate``): a 10,000-order market's round sold as much, and its
draft cost a third less."""


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


class LaneDraft:
    """The arcs and the first-come replay of one rounds lane, as of its latest arrival."""

    __slots__ = ("arcs", "closed", "copies", "epoch", "pool", "run", "search", "shadow", "sold",
                 "taken", "unparked")  # fmt: skip

    def __init__(self, book: MarketBook, pool: str | None, epoch: int) -> None:
        self.pool = pool
        self.epoch = epoch
        self.search = _scratch(book, [])  # copies at their full quantities: arcs are found
        self.unparked = _scratch(book, [])  # the same, none ever parked (``moderate``)
        self.sold: list[tuple[OfferState, DemandState, Decimal]] = []
        self.shadow = _scratch(book, self.sold)  # copies replayed first come
        self.run = Run(book.clock, 1 << 62)  # the shadow's: its clock is never read
        self.arcs = Arcs(self.search, Round())
        self.copies: dict[int, OfferState] = {}  # offer seq -> its copy in ``search``
        self.taken: set[int] = set()  # seqs of the orders taken (with a quantity or not)
        self.closed = False

    @classmethod
    def built(
        cls,
        book: MarketBook,
        pool: str | None,
        epoch: int,
        orders: list[OfferState | DemandState] | None = None,
        now: bool = False,
    ) -> LaneDraft:
        """The draft of ``pool``'s orders that it took in ``epoch`` (their records say so,
        with the quantities it took them with), in arrival order; ``orders``: those orders,
        when the caller knows them (else every order of the book is looked at); ``now``:
        take them with what they have open now instead (a round drafting its lane itself)."""
        draft = cls(book, pool, epoch)
        if orders is None:
            orders = [
                *(o for o in book.offers.values() if _taken(o, pool, epoch)),
                *(d for d in book.demands.values() if _taken(d, pool, epoch)),
            ]
        for x in sorted(orders, key=_by_seq):
            if now:
                draft._take_as_now(x)
            else:
                draft.arrive(x)
        return draft

    def arrive(self, x: OfferState | DemandState) -> None:
        """Take one order of the lane, newer than every order taken so far, with the
        quantity its ``drafted`` note says (the book notes it first)."""
        if isinstance(x, OfferState):
            self._offer(x, _drafted_kg(x))
        else:
            self._demand(x, _drafted_kg(x))

    def _take_as_now(self, x: OfferState | DemandState) -> None:
        """Take one order with what it has available or open now (no note read)."""
        if isinstance(x, OfferState):
            self._offer(x, x.available_kg)
        else:
            self._demand(x, x.open_kg)

    def _offer(self, o: OfferState, available: Decimal) -> None:
        self.taken.add(o.seq)
        if available <= 0:
            return
        c = self.copies[o.seq] = OfferState(o.offer_id, o.seq, o.terms, available)
        self.search.offer_index.sync(c)
        if self.moderate():
            u = OfferState(o.offer_id, o.seq, o.terms, available)
            self.unparked.offer_index.sync(u)
        self.arcs.from_offer(c, self.pool, self.deep())
        s = OfferState(o.offer_id, o.seq, o.terms, available)
        self.shadow.offer_index.sync(s)
        place_offer(self.shadow, self.run, s)

    def _demand(self, d: DemandState, open_kg: Decimal) -> None:
        self.taken.add(d.seq)
        if open_kg <= 0:
            return
        c = DemandState(d.demand_id, d.seq, d.terms, open_kg)
        search, arcs = self.search, self.arcs
        search.waiting.add(c)
        r, overlap = arcs.r, search.config.round_overlap
        j = arcs.demand(c)
        if j >= 0 and self.deep():
            if self.moderate():  # the claims-free arcs too: the better ones at this depth
                arcs.from_demand(j, self.unparked)
            for a in arcs.from_demand(j, search):  # claim as first come would, best first
                i = r.tails[a]
                if arcs.claim(a) and arcs.offer_claimed[i] >= r.supply[i] * overlap:
                    parked = self.copies[r.offers[i].seq]
                    parked.active = False  # out of the draft's index for later demands
                    search.offer_index.sync(parked)
                if arcs.demand_claimed[j] >= r.need[j]:
                    break
            if arcs.demand_claimed[j] >= r.need[j] * overlap:
                search.waiting.hide(c)  # later offers look past it
        elif j >= 0:
            arcs.from_demand(j, search)  # every offer so far is in its scan: no claims
        s = DemandState(d.demand_id, d.seq, d.terms, open_kg)
        self.shadow.waiting.add(s)
        fill_demand(self.shadow, self.run, s)

    def deep(self) -> bool:
        """Whether the lane has had more offers than one demand's scan examines: then claims
        spread the arcs (an offer claimed over leaves the draft's index, a demand claimed over
        is passed over by new offers); below, every demand sees every offer anyway."""
        return len(self.copies) > self.search.config.round_scan

    def moderate(self) -> bool:
        """Whether the lane has had at most ``VERY_DEEP`` scans' worth of offers: its demands
        also search ``unparked`` (beyond, the claims-free arcs are the same few cheapest
        offers for every demand, and only cost time)."""
        return len(self.copies) <= VERY_DEEP * self.search.config.round_scan

    def close(self, book: MarketBook) -> Round:
        """The round as of now, on the real orders as they are now: the draft's arcs, each
        with what both sides have open now (none if either was withdrawn, cancelled or
        filled, the pair blocked, or a lot rule fails at that quantity: releases and answers
        since the drafting are read here), scored with the suppliers' records of now, ranked
        best first; the first-come pairs join them, kept where they still fit. Orders open
        again since the drafting (a release of one the draft took with nothing open) join it
        first, in arrival order, with what they have now. A draft closes once (the book
        drops it)."""
        if self.closed:
            raise RuntimeError("a lane's draft closes once")
        self.closed = True
        late = [x for x in book.open_orders(self.pool) if x.seq not in self.taken]
        for x in sorted(late, key=_by_seq):  # open again since the drafting (a release)
            self._take_as_now(x)
        arcs = self.arcs
        r = arcs.r
        for o, d, _ in self.sold:  # its pairs are arcs too, so the flow can keep what it found
            j = arcs.demand_node.get(d.seq, -1)
            c = self.copies[o.seq]
            if j >= 0 and (arcs.offer(c), j) not in arcs.pairs:
                arcs.add(c, j, arcs.weight(c, j))
        offers = [book.offers[c.offer_id] for c in r.offers]  # what the round proposes
        demands = [book.demands[c.demand_id] for c in r.demands]
        r.supply = [grams(o.available_kg) if o.active else 0 for o in offers]
        opens = [d.open_kg if d.active and not d.filled else ZERO for d in demands]
        r.need = [grams(kg) if kg > 0 else 0 for kg in opens]
        suppliers = book.suppliers
        r.scorers = [Scorer(d.terms, opens[j], suppliers) for j, d in enumerate(demands)]
        same_offer = [o.active and o.available_kg == c.available_kg  # as drafted
                      for o, c in zip(offers, r.offers, strict=True)]  # fmt: skip
        same_demand = [opens[j] == arcs.opens[j] for j in range(len(demands))]
        pairs = book.pairs
        for a, (i, j) in enumerate(zip(r.tails, r.heads, strict=True)):
            o, d, open_kg = offers[i], demands[j], opens[j]
            pair = pairs.get((o.offer_id, d.demand_id))
            if pair is not None and pair.blocked:  # drafting knows no blocked pair
                r.caps[a], r.weights[a] = 0, 0
                continue
            if same_offer[i] and same_demand[j]:  # capacity and lot rules as drafted
                if o.terms.supplier_id in suppliers:  # drafted with a neutral record
                    r.weights[a] = round(r.scorers[j].rank(o.terms, arcs.q(r.offers[i], j)) * 100)
                continue
            available = o.available_kg if o.active else ZERO
            q = available if available <= open_kg else open_kg
            if q <= 0 or not lot_fits(o.terms, d.terms, q, open_kg):
                r.caps[a], r.weights[a] = 0, 0
            else:
                r.caps[a] = grams(q)
                r.weights[a] = round(r.scorers[j].rank(o.terms, q) * 100)
        r.first_come = self._first_come(r, offers, demands)
        for of_demand in r.arcs_of:
            of_demand.sort(key=arcs.ranking)
        r.offers, r.demands = offers, demands
        return r

    def _first_come(
        self, r: Round, offers: list[OfferState], demands: list[DemandState]
    ) -> list[int]:
        """Grams per arc of the first-come replay, where they still fit: an arc closed since
        (see ``close``) carries none, and an order whose grams it would now exceed carries
        none of it (the replay took the quantities of the drafting)."""
        arcs = self.arcs
        flows = [0] * len(r.tails)
        for o, d, q in self.sold:
            pair = (arcs.offer_node.get(o.seq, -1), arcs.demand_node.get(d.seq, -1))
            found = arcs.pairs.get(pair)
            if found is not None:
                flows[found] += grams(q)
        flows = [min(f, cap) for f, cap in zip(flows, r.caps, strict=True)]
        for a, f in enumerate(flows):  # the replay's grams at the open quantity of now: a
            if f:  # whole fill that got more back since would be split
                o, d, need = offers[r.tails[a]], demands[r.heads[a]], r.need[r.heads[a]]
                if not lot_fits(o.terms, d.terms, Decimal(f) / GRAMS, Decimal(need) / GRAMS):
                    flows[a] = 0
        used_offer = [0] * len(r.supply)
        used_demand = [0] * len(r.need)
        for a, f in enumerate(flows):
            used_offer[r.tails[a]] += f
            used_demand[r.heads[a]] += f
        return [
            0 if used_offer[r.tails[a]] > r.supply[r.tails[a]]
            or used_demand[r.heads[a]] > r.need[r.heads[a]] else f
            for a, f in enumerate(flows)
        ]  # fmt: skip


def _scratch(book: MarketBook, sold: list[tuple[OfferState, DemandState, Decimal]]) -> MarketBook:
    """An empty book of the same market and rules, knowing no blocked pair and no supplier's
    record (the round reads both when it closes: a decline, which blocks a pair, keeps the
    draft); its proposals only move its own copies' quantities and are noted in ``sold``."""
    scratch = type(book)(book.market, book.config)
    scratch.scratch_sold = sold
    return scratch


class Arcs:
    """Adds nodes and arcs to a Round without repeating a pair, and tracks claims. ``book``
    is the draft's search book: the one whose index holds the copies."""

    def __init__(self, book: MarketBook, r: Round) -> None:
        self.book, self.r = book, r
        self.offer_node: dict[int, int] = {}  # offer seq -> index
        self.demand_node: dict[int, int] = {}  # demand seq -> index
        self.pairs: dict[tuple[int, int], int] = {}  # (offer, demand) -> arc
        self.offer_claimed: list[int] = []
        self.demand_claimed: list[int] = []
        self.opens: list[Decimal] = []  # demand -> open kg before the round
        self.prices: list[Decimal] = []  # arc -> offer price per kg (a ranking tie-break)
        self.best: list[list[int]] = []  # demand -> its best ``round_candidates`` weights

    def demand(self, d: DemandState) -> int:
        """The demand's index (added now if new); -1 when less than a gram is open."""
        j = self.demand_node.get(d.seq)
        if j is not None:
            return j
        open_kg = d.open_kg
        need = grams(open_kg)
        if need <= 0:
            return -1
        r = self.r
        j = self.demand_node[d.seq] = len(r.demands)
        r.demands.append(d)
        r.need.append(need)
        r.scorers.append(Scorer(d.terms, open_kg, self.book.suppliers))
        r.arcs_of.append([])
        self.best.append([])
        self.demand_claimed.append(0)
        self.opens.append(open_kg)
        return j

    def offer(self, o: OfferState) -> int:
        i = self.offer_node.get(o.seq)
        if i is None:
            r = self.r
            i = self.offer_node[o.seq] = len(r.offers)
            r.offers.append(o)
            r.supply.append(grams(o.available_kg))
            self.offer_claimed.append(0)
        return i

    def add(self, o: OfferState, j: int, weight: int) -> int:
        """Arc o -> demand j (-1 if the pair has one, or less than a gram to carry)."""
        open_kg, available = self.opens[j], o.available_kg
        cap = grams(available if available <= open_kg else open_kg)
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
        best = self.best[j]
        heappush(best, weight)
        if len(best) > self.book.config.round_candidates:
            heappop(best)
        return a

    def from_demand(self, j: int, index: MarketBook) -> list[int]:
        """The demand's best arcs among its cheapest fitting offers of ``index`` (a scratch
        book of copies), best first."""
        config, d = self.book.config, self.r.demands[j]
        scan = config.round_scan
        found = candidates(index, d, self.opens[j], self.r.scorers[j], scan, scan, scan)
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

    def from_offer(self, o: OfferState, pool: str | None, deep: bool) -> None:
        """Arcs from a new offer to the oldest demands it fits (``scan_limit``, as a new
        offer's search), up to ``round_candidates`` of them. In a lane no deeper than one
        demand's scan, to those it would be among the best ``round_candidates`` offers of: a
        demand that came first still gets the offers that would have been its best had it
        come last. In a deeper lane, to demands not yet claimed over, until its grams are
        claimed: there the offers must spread over the lane."""
        book, r = self.book, self.r
        i = self.offer(o)
        config, ot = book.config, o.terms
        overlap, most = config.round_overlap, config.round_candidates
        added = 0
        waiting = book.waiting.admitting(ot.price_f, ot.ready_start, ot.ready_end,
                                         config.scan_limit, pool)  # fmt: skip
        hide: list[DemandState] = []  # claimed over: hidden once the walk is done
        for d in waiting:
            dt = d.terms
            if not terms_fit(ot, dt):
                continue  # no blocked pair to pass over: the draft knows none (``_scratch``)
            j = self.demand(d)
            if j < 0 or (deep and self.demand_claimed[j] >= r.need[j] * overlap):
                continue
            if not lot_fits(ot, dt, self.q(o, j), self.opens[j]):
                continue
            weight = self.weight(o, j)
            best = self.best[j]
            if not deep and len(best) >= most and weight <= best[0]:
                continue  # not among the demand's best
            a = self.add(o, j, weight)
            if a < 0:
                continue
            added += 1
            if deep:
                self.claim(a)
                if self.demand_claimed[j] >= r.need[j] * overlap:
                    hide.append(d)
                if self.offer_claimed[i] >= r.supply[i]:
                    break
            if added >= most:
                break
        for d in hide:
            book.waiting.hide(d)

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


def _taken(x: OfferState | DemandState, pool: str | None, epoch: int) -> bool:
    drafted = x.drafted
    return drafted is not None and drafted.epoch == epoch and x.terms.pool == pool


def _drafted_kg(x: OfferState | DemandState) -> Decimal:
    drafted = x.drafted
    return ZERO if drafted is None else drafted.kg


def _best_first(item: tuple[int, Decimal, int, OfferState]) -> tuple[int, Decimal, int]:
    return -item[0], item[1], item[2]


def _by_seq(o: OfferState | DemandState) -> int:
    return o.seq


def grams(kg: Decimal) -> int:
    """Whole grams, rounded down: a round never allocates a fraction it does not have
    (``int`` truncates toward zero, which is down for the quantities here, never negative)."""
    return int(kg * GRAMS)
