"""The order book of one market: the ledger of quantities, and the events that move them.

Every kilogram is in exactly one of three states per order: available/open, reserved by a
pending proposal, or confirmed. ``apply`` moves quantities between them and asks
``allocation`` who should get what; ``drain_changes``/``restore`` persist the book as small
records. Pure Python: no Kafka, Faust, MongoDB or HTTP import, no wall clock, no randomness.

Orders of a session-scoped session form a closed pool (``terms.pool``): an offer and a demand
pair only within one pool, and an order keeps the pool it was first seen with. A demand's
unmatched reason is judged when it is posted or changed, and judged again on a MarketTick once
offers have changed since (``_refresh_reasons``): the book counts its offer-side changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from heapq import heapify, heappop, heappush
from typing import Any

from schemas.events import (
    DemandCancelled,
    DemandPosted,
    DemandUpdated,
    MarketTick,
    MatchAccepted,
    MatchDeclined,
    OfferPublished,
    OfferUpdated,
    OfferWithdrawn,
)
from schemas.matches import Party
from schemas.orders import Demand, Offer

from .allocation import Run, fill_demand, place_offer
from .clearing import clear_rounds
from .config import MatchConfig
from .constraints import failures
from .diagnosis import unmatched_reason
from .draft import LaneDraft
from .ids import match_id as new_match_id
from .indexes import OfferIndex, WaitingDemands
from .invariants import check_book
from .outcomes import (
    Confirmed,
    DemandFilled,
    Expired,
    Outcome,
    Proposed,
    Released,
    ReleaseReason,
    Unmatched,
)
from .records import (
    ZERO,
    DemandState,
    Drafted,
    LaneMark,
    MatchState,
    OfferState,
    PairHistory,
    SupplierRecord,
)
from .scoring import reason
from .terms import ROUNDS, DemandTerms, OfferTerms

META = "meta"
REDRAFT_SHARE = 8
"""A lane without a draft builds it after at least 1/REDRAFT_SHARE of its size in arrivals."""
ROUND_IDS_KEPT = 16
"""Round ticks a book remembers by event id, so one delivered again is not a second round
(a redelivery comes soon after: the ticker's and the gateway's ticks are minutes apart)."""


class MarketBook:
    """Open offers and demands of one market (one product category) and their matches."""

    def __init__(self, market: str, config: MatchConfig = MatchConfig()) -> None:  # noqa: B008
        self.market = market
        self.config = config
        self.offers: dict[str, OfferState] = {}  # every offer ever seen (withdrawn kept)
        self.demands: dict[str, DemandState] = {}
        self.matches: dict[str, MatchState] = {}  # pending proposals only
        self.pairs: dict[tuple[str, str], PairHistory] = {}
        self.suppliers: dict[str, SupplierRecord] = {}
        self.offer_index = OfferIndex()
        self.waiting = WaitingDemands()
        self.active_offers = 0
        self._seq = 0  # arrival counter of offers and demands
        self._mseq = 0  # proposal counter
        self._clock: datetime | None = None  # latest occurred_at seen: the market's time
        self._expiry: list[tuple[datetime, int, str]] = []  # (expires_at, seq, match id)
        self._offer_changes = 0  # offer-side changes so far: what makes a reason stale
        self._reasons: list[tuple[int, int, str]] = []  # (reason_at, seq, demand id), lazy
        self._ticked: datetime | None = None  # the latest tick that refreshed reasons
        self._rounds: list[str] = []  # event ids of the latest round ticks, oldest first
        self._dirty: dict[str, Any] = {}  # record key -> its entity now (None: deleted)
        self._meta = _Meta(self)
        self._drafts: dict[str, LaneDraft] = {}  # rounds lane -> its round so far (draft.py)
        self._marks: dict[str, LaneMark] = {}  # rounds lane -> its drafting state (META)
        self.scratch_sold: list[tuple[OfferState, DemandState, Decimal]] | None = None
        """Set on a draft's scratch book only: its proposals are noted here, nothing else."""

    # -- public API -------------------------------------------------------------------------
    def apply(self, event: Any) -> list[Outcome]:
        """Feed one orders-topic event; returns what it decided, in order."""
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"the matching engine does not take {type(event).__name__} events")
        if event.market_key != self.market:
            raise ValueError(f"event for market {event.market_key!r} fed to {self.market!r}")
        if self._clock is None or event.occurred_at > self._clock:
            self._clock = event.occurred_at
            self._dirty[META] = self._meta
        run = Run(self._clock, self.config.max_proposals_per_event)
        expiry = self._expiry
        if expiry and expiry[0][0] <= run.now:  # most events have nothing due
            self._expire(run)
        handler(self, event, run)
        return run.outcomes

    def drain_changes(self) -> dict[str, dict[str, Any] | None]:
        """Records changed since the last drain (None = deleted), JSON-serialisable."""
        changes = {
            key: None if entity is None else entity.to_record()
            for key, entity in self._dirty.items()
        }  # the entities were noted when marked: no key to parse, no table to search
        self._dirty = {}
        return changes

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record of the book, as ``drain_changes`` would give them."""
        yield META, self._meta_record()
        for oid, o in self.offers.items():
            yield f"o:{oid}", o.to_record()
        for did, d in self.demands.items():
            yield f"d:{did}", d.to_record()
        for mid, m in self.matches.items():
            yield f"m:{mid}", m.to_record()
        for (oid, did), pair in self.pairs.items():
            yield f"p:{oid}|{did}", pair.to_record()
        for sid, supplier in self.suppliers.items():
            yield f"s:{sid}", supplier.to_record()

    @classmethod
    def restore(
        cls,
        market: str,
        records: Iterable[tuple[str, dict[str, Any]]],
        config: MatchConfig = MatchConfig(),  # noqa: B008
    ) -> MarketBook:
        """Rebuild the book and every index from its records (as drained)."""
        book = cls(market, config)
        offers: list[OfferState] = []
        demands: list[DemandState] = []
        matches: list[MatchState] = []
        for key, r in records:
            if key == META:
                book._seq, book._mseq = r["seq"], r["match_seq"]
                book._offer_changes = r.get("offer_changes", 0)  # absent before refreshes
                ticked = r.get("ticked")
                book._ticked = None if ticked is None else datetime.fromisoformat(ticked)
                book._rounds = list(r.get("rounds", []))  # absent before clearing rounds
                book._marks = {p: LaneMark.from_record(m) for p, m in r.get("lanes", {}).items()}
                book._clock = None if r["clock"] is None else datetime.fromisoformat(r["clock"])
                continue
            kind, _, ident = key.partition(":")
            if kind == "o":
                offers.append(OfferState.from_record(ident, r))
            elif kind == "d":
                demands.append(DemandState.from_record(ident, r))
            elif kind == "m":
                matches.append(MatchState.from_record(ident, r))
            elif kind == "p":
                oid, _, did = ident.partition("|")
                book.pairs[(oid, did)] = PairHistory.from_record(r)
            elif kind == "s":
                book.suppliers[ident] = SupplierRecord.from_record(r)
            else:
                raise ValueError(f"unknown record key {key!r}")
        for o in sorted(offers, key=lambda o: o.seq):
            book.offers[o.offer_id] = o
        for d in sorted(demands, key=lambda d: d.seq):
            book.demands[d.demand_id] = d
        for m in sorted(matches, key=lambda m: m.seq):
            book.matches[m.match_id] = m
            book.offers[m.offer_id].pending[m.match_id] = None
            book.demands[m.demand_id].pending[m.match_id] = None
            book._expiry.append((m.expires_at, m.seq, m.match_id))
        heapify(book._expiry)
        for o in book.offers.values():
            book.active_offers += o.active
            book.offer_index.sync(o)
        for d in book.demands.values():
            if d.active:
                book.waiting.add(d)
                if not d.filled:
                    book._reasons.append((d.reason_at, d.seq, d.demand_id))
        heapify(book._reasons)
        return book

    def check_invariants(self) -> None:
        """Raise AssertionError naming the first broken rule of the ledger or its indexes."""
        check_book(self)

    def explain(self, offer_id: str, demand_id: str) -> list[str]:
        """Names of the hard constraints this pair fails ([] = compatible). Lot sizes are judged
        on what is left; when nothing is left on a side, on the full quantities."""
        o, d = self.offers[offer_id], self.demands[demand_id]
        open_kg = d.open_kg
        q = min(o.available_kg, open_kg)
        if q <= 0:
            open_kg = d.wanted_kg
            q = min(o.offered_kg, open_kg)
        return failures(o.terms, d.terms, q, open_kg)

    def take_draft(self, pool: str) -> LaneDraft:
        """The rounds lane's draft, taken out of the book to close its round: drafted now
        from the lane's open orders if it was not yet, or built again from what its orders'
        records say it took (after a restore)."""
        draft = self._drafts.pop(pool, None)
        if draft is not None:
            return draft
        mark = self._marks.get(pool)
        if mark is None:  # a lane that never had an order (a session's round, say)
            return LaneDraft(self, pool, 0)
        if not mark.drafted:  # drafted for this round only: nothing noted, it is used now
            return LaneDraft.built(self, pool, mark.epoch, self.open_orders(pool), now=True)
        return LaneDraft.built(self, pool, mark.epoch)

    def open_orders(self, pool: str | None) -> list[OfferState | DemandState]:
        """The lane's offers with quantity available, then its demands with quantity open."""
        return [*self.offer_index.in_pool(pool), *self.waiting.open_in(pool)]

    @property
    def drafted_lanes(self) -> list[str]:
        """Rounds lanes whose draft the book keeps now: their round will only solve."""
        return sorted(self._drafts)

    @property
    def clock(self) -> datetime:
        """The market's time: the latest occurred_at seen (the epoch before any event)."""
        return self._clock or datetime.fromtimestamp(0, UTC)

    @property
    def open_counts(self) -> tuple[int, int]:
        """(offers with quantity available, demands with quantity open)."""
        return len(self.offer_index), len(self.waiting)

    # -- ledger (used by allocation) ----------------------------------------------------------
    def propose(
        self,
        run: Run,
        o: OfferState,
        d: DemandState,
        q: Decimal,
        points: float,
        breakdown: dict[str, float],
    ) -> None:
        """Reserve ``q`` kg of ``o`` for ``d`` and emit the proposal."""
        sold = self.scratch_sold
        if sold is not None:  # a draft's first-come replay: its copies' quantities only
            o.reserved_kg += q
            d.reserved_kg += q
            self.offer_index.sync(o)
            self.waiting.sync(d)
            run.left -= 1
            sold.append((o, d, q))
            return
        oid, did = o.offer_id, d.demand_id
        self._lane_changed(o.terms)
        pair = self.pairs.get((oid, did))
        if pair is None:
            pair = self.pairs[(oid, did)] = PairHistory()
        match_id = new_match_id(oid, did, pair.proposals)
        pair.proposals += 1
        self._mseq += 1
        expires_at = run.now + self.config.proposal_ttl
        ot, dt = o.terms, d.terms
        m = MatchState(
            match_id, oid, did, ot.supplier_id, dt.buyer_id, q,
            ot.unit_price_vnd, ot.price_unit, expires_at, self._mseq,
        )  # fmt: skip
        self.matches[match_id] = m
        o.pending[match_id] = None
        d.pending[match_id] = None
        o.reserved_kg += q
        d.reserved_kg += q
        d.reason = None  # a proposal clears the reason shown (the read model does the same)
        self._offer_changes += 1  # META is marked below
        heappush(self._expiry, (expires_at, self._mseq, match_id))
        self.offer_index.sync(o)
        self.waiting.sync(d)
        dirty = self._dirty
        dirty[f"o:{oid}"], dirty[f"d:{did}"], dirty[f"m:{match_id}"] = o, d, m
        dirty[f"p:{oid}|{did}"], dirty[META] = pair, self._meta
        run.left -= 1
        run.outcomes.append(
            Proposed(
                match_id=match_id,
                offer_id=oid,
                demand_id=did,
                supplier_id=ot.supplier_id,
                buyer_id=dt.buyer_id,
                quantity_kg=q,
                unit_price_vnd=ot.unit_price_vnd,
                price_unit=ot.price_unit,
                score=points,
                breakdown=breakdown,
                expires_at=expires_at,
                reason=reason(breakdown),
            )
        )

    # -- events -----------------------------------------------------------------------------
    def _on_offer_published(self, event: OfferPublished, run: Run) -> None:
        if event.offer.offer_id not in self.offers:
            self._add_offer(event.offer, run)

    def _on_offer_updated(self, event: OfferUpdated, run: Run) -> None:
        offer = event.offer
        o = self.offers.get(offer.offer_id)
        if o is None:
            self._add_offer(offer, run)  # the update is all we know of it: take it as new
            return
        if not o.active or offer.revision <= o.terms.revision:
            return
        self._lane_changed(o.terms)
        first = _first_lane(o.terms.record, o.terms.rounds)
        if (offer.pool, offer.clearing) != first:  # it keeps its first pool and mode (so
            offer = offer.model_copy(update={"pool": first[0], "clearing": first[1]})  # gateway)
        o.terms = OfferTerms.from_offer(offer)
        self._offers_changed()
        wanted = o.terms.quantity_kg
        returned = []
        for match_id in reversed(list(o.pending)):  # newest first
            if o.reserved_kg + o.confirmed_kg <= wanted:
                break
            returned.append(self._release(run, self.matches[match_id], "offer-reduced")[1])
        for match_id in self._no_longer_fitting(o.pending, o.terms, None):
            returned.append(self._release(run, self.matches[match_id], "offer-changed")[1])
        o.offered_kg = max(wanted, o.confirmed_kg)  # a confirmed kilogram stays promised
        o.over_committed_kg = max(ZERO, o.confirmed_kg - wanted)
        self.offer_index.sync(o)
        self._dirty[f"o:{o.offer_id}"] = o
        self._settle(run, returned, [o])

    def _on_offer_withdrawn(self, event: OfferWithdrawn, run: Run) -> None:
        o = self.offers.get(event.offer_id)
        if o is None or not o.active:
            return
        o.active = False
        self.active_offers -= 1
        self._offers_changed()
        returned = [
            self._release(run, self.matches[mid], "offer-withdrawn")[1] for mid in list(o.pending)
        ]
        self.offer_index.sync(o)
        self._dirty[f"o:{o.offer_id}"] = o
        self._settle(run, returned, [])

    def _on_demand_posted(self, event: DemandPosted, run: Run) -> None:
        if event.demand.demand_id not in self.demands:
            self._add_demand(event.demand, run)

    def _on_demand_updated(self, event: DemandUpdated, run: Run) -> None:
        demand = event.demand
        d = self.demands.get(demand.demand_id)
        if d is None:
            self._add_demand(demand, run)
            return
        if not d.active or demand.revision <= d.terms.revision:
            return
        self._lane_changed(d.terms)
        first = _first_lane(d.terms.record, d.terms.rounds)
        if (demand.pool, demand.clearing) != first:  # its waiting tree is its first lane's
            demand = demand.model_copy(update={"pool": first[0], "clearing": first[1]})
        d.terms = DemandTerms.from_demand(demand)
        wanted = d.terms.quantity_kg
        returned = []
        for match_id in reversed(list(d.pending)):  # newest first
            if d.reserved_kg + d.confirmed_kg <= wanted:
                break
            returned.append(self._release(run, self.matches[match_id], "demand-reduced")[0])
        for match_id in self._no_longer_fitting(d.pending, None, d.terms):
            returned.append(self._release(run, self.matches[match_id], "demand-changed")[0])
        d.wanted_kg = max(wanted, d.confirmed_kg)
        d.over_committed_kg = max(ZERO, d.confirmed_kg - wanted)
        if d.wanted_kg > d.confirmed_kg:
            d.filled = False
        self.waiting.sync(d)
        self._dirty[f"d:{d.demand_id}"] = d
        self._settle(run, [d], returned)
        self._demand_decided(run, d)

    def _on_demand_cancelled(self, event: DemandCancelled, run: Run) -> None:
        d = self.demands.get(event.demand_id)
        if d is None or not d.active:
            return
        d.active = False
        returned = [
            self._release(run, self.matches[mid], "demand-cancelled")[0] for mid in list(d.pending)
        ]
        self.waiting.sync(d)
        self._dirty[f"d:{d.demand_id}"] = d
        self._settle(run, [], returned)

    def _on_match_accepted(self, event: MatchAccepted, run: Run) -> None:
        m = self.matches.get(event.match_id)
        if m is None:
            return
        if event.party == Party.BUYER:
            if m.buyer_accepted:
                return
            m.buyer_accepted = True
        else:
            if m.supplier_accepted:
                return
            m.supplier_accepted = True
        self._dirty[f"m:{m.match_id}"] = m
        if m.buyer_accepted and m.supplier_accepted:
            self._confirm(run, m)

    def _on_match_declined(self, event: MatchDeclined, run: Run) -> None:
        m = self.matches.get(event.match_id)
        if m is None:
            return
        by_supplier = event.party == Party.SUPPLIER
        if m.supplier_accepted if by_supplier else m.buyer_accepted:
            return  # that party already decided
        self._block_pair(m)
        if by_supplier:
            self._supplier(m.supplier_id).lapsed += 1
        o, d = self._release(run, m, "declined")
        self._settle(run, [d], [o])

    def _on_market_tick(self, event: MarketTick, run: Run) -> None:
        """Time passes (``apply`` already expired what was due), a clearing round closes when
        the tick says so, and stale reasons are judged again: the tick is an event in the log,
        so a replay clears and judges the same. Only a tick later than the last one judges
        reasons; a round tick delivered again (its event id among the last ROUND_IDS_KEPT
        rounds) changes nothing. A new round tick, even an older one, clears what is open."""
        round_id = str(event.event_id)
        if event.closes_round and round_id not in self._rounds:  # once per tick, whatever
            # its clock says: a round never waits for the clock, nor runs twice for one tick
            self._rounds = [*self._rounds[1 - ROUND_IDS_KEPT :], round_id]
            self._dirty[META] = self._meta
            clear_rounds(self, run, event.round_pool)
        if self._ticked is not None and event.occurred_at <= self._ticked:
            return
        self._ticked = event.occurred_at
        self._dirty[META] = self._meta
        self._refresh_reasons(run)

    # -- internals ----------------------------------------------------------------------------
    def _add_offer(self, offer: Offer, run: Run) -> None:
        self._seq += 1
        terms = OfferTerms.from_offer(offer)
        o = OfferState(offer.offer_id, self._seq, terms, terms.quantity_kg)
        self.offers[o.offer_id] = o
        self.active_offers += 1
        self._offer_changes += 1  # META is marked below
        self.offer_index.sync(o)
        self._dirty[f"o:{o.offer_id}"], self._dirty[META] = o, self._meta
        if terms.rounds:
            self._arrived(o)
        self._settle(run, [], [o])

    def _add_demand(self, demand: Demand, run: Run) -> None:
        self._seq += 1
        terms = DemandTerms.from_demand(demand)
        d = DemandState(demand.demand_id, self._seq, terms, terms.quantity_kg)
        self.demands[d.demand_id] = d
        self.waiting.add(d)
        self._dirty[f"d:{d.demand_id}"], self._dirty[META] = d, self._meta
        if terms.rounds:
            self._arrived(d)
        self._settle(run, [d], [])
        self._demand_decided(run, d)

    def _arrived(self, x: OfferState | DemandState) -> None:
        """A new order of a rounds lane joins the lane's draft (rebuilt from the records'
        notes after a restore). A lane without one (after a round or an update) drafts its
        open orders once ``redraft_after`` arrivals, and an eighth of its size, came with no
        such change between them: a draft built sooner could be thrown away by the next
        update, each time at the cost of the whole lane (the round then drafts it)."""
        pool = x.terms.pool or ""  # a rounds lane is never None (terms.lane)
        mark = self._mark(pool)
        draft = self._drafts.get(pool)
        if draft is None and mark.drafted:  # restored: the records say what it took
            draft = self._drafts[pool] = LaneDraft.built(self, pool, mark.epoch)
        if draft is not None:
            self._join(x, mark.epoch)
            draft.arrive(x)
            return
        mark.waited += 1
        self._dirty[META] = self._meta
        size = self.offer_index.pool_size(pool) + self.waiting.active_in(pool)
        if mark.waited >= max(self.config.redraft_after, size // REDRAFT_SHARE):
            self._redraft(pool, mark)

    def _redraft(self, pool: str, mark: LaneMark) -> None:
        """Draft the lane from its open orders as they are now, in arrival order; each one
        notes in its record what the draft took."""
        orders = self.open_orders(pool)
        for x in orders:
            self._join(x, mark.epoch)
        mark.drafted, mark.waited = True, 0
        self._dirty[META] = self._meta
        self._drafts[pool] = LaneDraft.built(self, pool, mark.epoch, orders)

    def _join(self, x: OfferState | DemandState, epoch: int) -> None:
        """Note that the lane's draft of ``epoch`` takes ``x`` with what it has open now."""
        if isinstance(x, OfferState):
            x.drafted = Drafted(epoch, x.available_kg)
            self._dirty[f"o:{x.offer_id}"] = x
        else:
            x.drafted = Drafted(epoch, x.open_kg)
            self._dirty[f"d:{x.demand_id}"] = x

    def _mark(self, pool: str) -> LaneMark:
        mark = self._marks.get(pool)
        if mark is None:
            mark = self._marks[pool] = LaneMark()
        return mark

    def _lane_changed(self, terms: OfferTerms | DemandTerms) -> None:
        """An order of a rounds lane changed in a way its draft cannot absorb (a round's
        proposal, new terms): the draft goes, a new epoch begins, and the lane drafts again
        after enough quiet arrivals or at its round. Releases, withdrawals, cancellations,
        blocked pairs and acceptances keep it: the round reads them from the real book."""
        if terms.rounds:
            pool = terms.pool or ""
            self._drafts.pop(pool, None)
            mark = self._mark(pool)
            if mark.drafted or mark.waited:
                mark.epoch += 1
                mark.drafted, mark.waited = False, 0
                self._dirty[META] = self._meta

    def _demand_decided(self, run: Run, d: DemandState) -> None:
        """After a new or changed demand: report it filled, or why some stays open."""
        self._check_filled(run, d)
        open_kg = d.open_kg
        if d.active and open_kg > 0:
            d.reason = unmatched_reason(self, d)
            run.outcomes.append(Unmatched(d.demand_id, open_kg, d.reason))
        self._judged(d)

    def _judged(self, d: DemandState) -> None:
        """``d``'s reason is current as of now: queue it for when offers change again."""
        d.reason_at = self._offer_changes
        self._dirty[f"d:{d.demand_id}"] = d
        if d.active and not d.filled:
            heappush(self._reasons, (d.reason_at, d.seq, d.demand_id))

    def _refresh_reasons(self, run: Run) -> None:
        """Judge again, stalest first, up to ``reasons_per_tick`` waiting demands whose reason
        predates the last offer-side change; report a reason only when its words changed.

        The queue is lazy: an entry whose stamp is not its demand's ``reason_at`` (judged
        again since), or whose demand is cancelled or filled, is dropped without counting, so
        a book restored from its records (one entry per demand) decides exactly the same."""
        heap, now = self._reasons, self._offer_changes
        left = self.config.reasons_per_tick
        while heap and left > 0:
            stamp, _, did = heap[0]
            if stamp >= now:
                return  # the stalest is current: so is every other
            heappop(heap)
            d = self.demands.get(did)
            if d is None or d.reason_at != stamp or not d.active or d.filled:
                continue
            left -= 1
            open_kg = d.open_kg
            if open_kg > 0:
                text = unmatched_reason(self, d)
                if text != d.reason:
                    d.reason = text
                    run.outcomes.append(Unmatched(did, open_kg, text))
            self._judged(d)

    def _settle(self, run: Run, demands: list[DemandState], offers: list[OfferState]) -> None:
        """Re-match what changed or got quantity back: demands take their best candidates (in
        arrival order), then offers go to the oldest waiting demands."""
        if len(demands) > 1:
            demands = sorted({d.demand_id: d for d in demands}.values(), key=_by_seq)
        for d in demands:
            if not d.terms.rounds:  # a rounds order waits for its round (clearing.py)
                fill_demand(self, run, d)
        if len(offers) > 1:
            offers = sorted({o.offer_id: o for o in offers}.values(), key=_by_seq)
        for o in offers:
            if not o.terms.rounds:
                place_offer(self, run, o)

    def _expire(self, run: Run) -> None:
        heap, now = self._expiry, run.now
        demands: list[DemandState] = []
        offers: list[OfferState] = []
        while heap and heap[0][0] <= now:
            _, _, match_id = heappop(heap)
            m = self.matches.get(match_id)
            if m is None:
                continue  # confirmed or released before it was due
            self._block_pair(m)
            if not m.supplier_accepted:
                self._supplier(m.supplier_id).lapsed += 1
            o, d = self._end(run, m)
            run.outcomes.append(Expired(m.match_id, m.offer_id, m.demand_id, m.quantity_kg))
            demands.append(d)
            offers.append(o)
        if demands:
            self._settle(run, demands, offers)

    def _no_longer_fitting(
        self, pending: dict[str, None], offer: OfferTerms | None, demand: DemandTerms | None
    ) -> list[str]:
        """Pending proposals that an update's new terms make fail a hard constraint (a later
        window, a higher price, a province no longer served, an exclusion): they are released
        rather than left for the parties to accept on terms that no longer hold."""
        unfit = []
        for match_id in pending:
            m = self.matches[match_id]
            ot = offer or self.offers[m.offer_id].terms
            dt = demand or self.demands[m.demand_id].terms
            if failures(ot, dt, m.quantity_kg, m.quantity_kg):
                unfit.append(match_id)
        return unfit

    def _release(
        self, run: Run, m: MatchState, why: ReleaseReason
    ) -> tuple[OfferState, DemandState]:
        o, d = self._end(run, m)
        run.outcomes.append(Released(m.match_id, m.offer_id, m.demand_id, m.quantity_kg, why))
        return o, d

    def _end(self, run: Run, m: MatchState) -> tuple[OfferState, DemandState]:
        """Take a pending match off the book; its quantity returns to both sides."""
        del self.matches[m.match_id]
        o, d = self.offers[m.offer_id], self.demands[m.demand_id]
        del o.pending[m.match_id]
        del d.pending[m.match_id]
        o.reserved_kg -= m.quantity_kg
        d.reserved_kg -= m.quantity_kg
        self.offer_index.sync(o)
        self.waiting.sync(d)
        self._offers_changed()
        dirty = self._dirty
        dirty[f"m:{m.match_id}"], dirty[f"o:{o.offer_id}"], dirty[f"d:{d.demand_id}"] = None, o, d
        return o, d

    def _confirm(self, run: Run, m: MatchState) -> None:
        del self.matches[m.match_id]
        o, d = self.offers[m.offer_id], self.demands[m.demand_id]
        del o.pending[m.match_id]  # what is available or open stays: no draft is dropped
        del d.pending[m.match_id]
        q = m.quantity_kg
        o.reserved_kg -= q
        o.confirmed_kg += q
        d.reserved_kg -= q
        d.confirmed_kg += q
        self._supplier(m.supplier_id).confirmed += 1
        dirty = self._dirty
        dirty[f"m:{m.match_id}"], dirty[f"o:{o.offer_id}"], dirty[f"d:{d.demand_id}"] = None, o, d
        run.outcomes.append(Confirmed(m.match_id, m.offer_id, m.demand_id, q))
        self._check_filled(run, d)

    def _check_filled(self, run: Run, d: DemandState) -> None:
        if d.active and not d.filled and d.confirmed_kg > 0 and d.confirmed_kg >= d.wanted_kg:
            d.filled = True
            self._dirty[f"d:{d.demand_id}"] = d
            run.outcomes.append(DemandFilled(d.demand_id, d.confirmed_kg))

    def _block_pair(self, m: MatchState) -> None:
        pair = self.pairs[(m.offer_id, m.demand_id)]
        pair.blocked = True
        self._dirty[f"p:{m.offer_id}|{m.demand_id}"] = pair
        self._offers_changed()  # "history" counts in the demand's reason

    def _offers_changed(self) -> None:
        """Something an unmatched reason reads changed: offers, their quantities, a pair."""
        self._offer_changes += 1
        self._dirty[META] = self._meta

    def _supplier(self, supplier_id: str) -> SupplierRecord:
        record = self.suppliers.get(supplier_id)
        if record is None:
            record = self.suppliers[supplier_id] = SupplierRecord()
        self._dirty[f"s:{supplier_id}"] = record
        return record  # drafts never read a record (draft.py): none is dropped

    def _meta_record(self) -> dict[str, Any]:
        clock = None if self._clock is None else self._clock.isoformat()
        record: dict[str, Any] = {
            "seq": self._seq,
            "match_seq": self._mseq,
            "clock": clock,
            "offer_changes": self._offer_changes,
            "ticked": None if self._ticked is None else self._ticked.isoformat(),
        }
        if self._rounds:  # records of books that never cleared a round stay as they were
            record["rounds"] = list(self._rounds)
        if self._marks:
            record["lanes"] = {pool: mark.to_record() for pool, mark in self._marks.items()}
        return record


class _Meta:
    """The book's own record (counters and clock) as a dirty entity like the others."""

    __slots__ = ("book",)

    def __init__(self, book: MarketBook) -> None:
        self.book = book

    def to_record(self) -> dict[str, Any]:
        return self.book._meta_record()


def _first_lane(record: dict[str, Any], rounds: bool) -> tuple[str | None, str]:
    """(pool, clearing) an order was first seen with: an update cannot move it."""
    return record.get("pool"), ROUNDS if rounds else "instant"


def _by_seq(item: OfferState | DemandState) -> int:
    return item.seq


_HANDLERS: dict[type, Callable[[MarketBook, Any, Run], None]] = {
    OfferPublished: MarketBook._on_offer_published,
    OfferUpdated: MarketBook._on_offer_updated,
    OfferWithdrawn: MarketBook._on_offer_withdrawn,
    DemandPosted: MarketBook._on_demand_posted,
    DemandUpdated: MarketBook._on_demand_updated,
    DemandCancelled: MarketBook._on_demand_cancelled,
    MatchAccepted: MarketBook._on_match_accepted,
    MatchDeclined: MarketBook._on_match_declined,
    MarketTick: MarketBook._on_market_tick,
}
