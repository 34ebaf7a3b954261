"""Who gets what: a demand takes its best candidates best-first; an offer goes to the oldest
waiting demands first. Both walk indexes, never the book, and stop at the config's limits.

The book owns the ledger (reserving, releasing); this module only decides which pairs and how
many kilograms, so the rules of choice live in one place.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from .constraints import lot_fits, terms_fit
from .indexes import SEQ_MASK, high_key
from .outcomes import Outcome
from .records import DemandState, OfferState
from .scoring import Scorer

if TYPE_CHECKING:
    from .book import MarketBook


class Run:
    """One apply call: its clock, what it decided, and how many proposals it may still make.
    A plain slotted class: one is made per event, and a dataclass default factory costs more
    than the event's usual work."""

    __slots__ = ("left", "now", "outcomes")

    def __init__(self, now: datetime, left: int) -> None:
        self.now = now
        self.left = left
        self.outcomes: list[Outcome] = []


def fill_demand(book: MarketBook, run: Run, d: DemandState) -> None:
    """Propose the demand's best candidates, best score first (ties: cheaper per kg, then
    earlier offer), with partial fills when it accepts them, until nothing is open."""
    open_kg = d.open_kg
    if not d.active or open_kg <= 0 or run.left <= 0:
        return
    scorer = Scorer(d.terms, open_kg, book.suppliers)
    config = book.config
    ranked = candidates(book, d, open_kg, scorer, config.scan_limit, config.candidate_limit,
                        config.enough_candidates)  # fmt: skip
    ranked.sort()  # (-score, price, seq): seq is unique, so the offer itself never compares
    dt = d.terms
    for _, _, _, o in ranked:
        remaining = d.open_kg
        if remaining <= 0 or run.left <= 0:
            break
        q = min(o.available_kg, remaining)
        if not lot_fits(o.terms, dt, q, remaining):
            continue
        points, breakdown = scorer.score(o.terms, q)
        book.propose(run, o, d, q, points, breakdown)


def candidates(
    book: MarketBook,
    d: DemandState,
    open_kg: Decimal,
    scorer: Scorer,
    scan_limit: int,
    limit: int,
    enough: int,
) -> list[tuple[float, Decimal, int, OfferState]]:
    """Offers passing every hard constraint, cheapest first, until there is enough choice
    (``enough`` offers covering the open quantity ``enough_cover`` times, see MatchConfig),
    ``limit`` pass or ``scan_limit`` were examined; each with its ranking key (minus its
    unrounded score at min(available, open), price per kg, arrival seq)."""
    config, dt, did = book.config, d.terms, d.demand_id
    index, pairs = book.offer_index, book.pairs
    by_seq = index.by_seq
    cover_needed = open_kg * config.enough_cover
    cover = Decimal(0)
    start, end = dt.window_start, dt.window_end
    ranked: list[tuple[float, Decimal, int, OfferState]] = []
    budget, chunk = scan_limit, min(scan_limit, 128)
    high = high_key(dt.ceiling_milli)
    for batch in index.serving(dt.province, high, start, end, chunk, dt.pool):
        if len(batch) > budget:
            del batch[budget:]
        budget -= len(batch)
        for key in batch:
            o = by_seq[key & SEQ_MASK]
            ot = o.terms
            if ot.ready_start > end or ot.ready_end < start or not terms_fit(ot, dt):
                continue  # dates first: the usual near miss, and two integer comparisons
            pair = pairs.get((o.offer_id, did))
            if pair is not None and pair.blocked:
                continue
            available = o.offered_kg - o.reserved_kg - o.confirmed_kg  # o.available_kg
            q = available if available <= open_kg else open_kg  # min(), inlined
            if not lot_fits(ot, dt, q, open_kg):
                continue
            ranked.append((-scorer.rank(ot, q), ot.price_per_kg, o.seq, o))
            cover += q
            if len(ranked) >= limit or (len(ranked) >= enough and cover >= cover_needed):
                return ranked
        if budget <= 0:
            break
    return ranked


def place_offer(book: MarketBook, run: Run, o: OfferState) -> None:
    """Offer what is available to waiting demands, oldest first, each getting as much as the
    lot rules allow, until the offer is used up."""
    if not o.active or o.available_kg <= 0 or run.left <= 0:
        return
    ot, oid = o.terms, o.offer_id
    pairs, suppliers = book.pairs, book.suppliers
    scan_limit = book.config.scan_limit
    waiting = book.waiting.admitting(ot.price_f, ot.ready_start, ot.ready_end, scan_limit, ot.pool)
    for d in waiting:
        dt = d.terms  # its window overlaps the offer's days: the tree checked
        if not terms_fit(ot, dt):
            continue
        pair = pairs.get((oid, d.demand_id))
        if pair is not None and pair.blocked:
            continue
        open_kg = d.open_kg
        q = min(o.available_kg, open_kg)
        if not lot_fits(ot, dt, q, open_kg):
            continue
        points, breakdown = Scorer(dt, open_kg, suppliers).score(ot, q)
        book.propose(run, o, d, q, points, breakdown)
        if run.left <= 0 or o.available_kg <= 0:
            break
