"""Fold the platform's events into one live board per trade-connection session.

Pure: events in, boards out, no Kafka or web import, so it is tested alone and a replay from the
first offset rebuilds the same boards.

The monitor reads four topics, and Kafka orders messages only within a partition: an acceptance
(orders topic) can be read before the proposal it accepts (matches topic), a proposal before its
offer. So nothing here assumes an order. Each match and demand remembers the *contribution* it
last made to its session's totals; any change recomputes it, takes the old one out and puts the
new one in. Applying an event twice is the same as once (the matcher re-sends its outputs after
a crash, with the same event ids).

What each figure means (a match's status and stages, reserved and open kilograms, value) is
defined once in ``services.common.figures``, which the API's stats and order reads use too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from schemas.events import (
    AnyEvent,
    DemandCancelled,
    DemandFilled,
    DemandPosted,
    DemandUnmatched,
    DemandUpdated,
    MatchAccepted,
    MatchConfirmed,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MatchReleased,
    OfferPublished,
    OfferUpdated,
    OfferWithdrawn,
    OrganizationRegistered,
    ParticipantRegistered,
    SessionClosed,
    SessionCreated,
    SessionOpened,
)
from services.common import figures

T = TypeVar("T")
TOTALS = figures.FUNNEL
"""Match counts per session; a match counts once in ``proposals`` and in each stage it reached."""


@dataclass(slots=True)
class OfferInfo:
    offer_id: str
    session_id: str | None = None
    supplier_id: str = ""
    product: str = ""
    category: str = ""
    origin: str = ""
    quantity_kg: float = 0.0
    revision: int = 0
    withdrawn: bool = False
    counted: tuple[str, float] | None = None  # (session, kg) last added to a board


@dataclass(slots=True)
class DemandInfo:
    demand_id: str
    session_id: str | None = None
    buyer_id: str = ""
    category: str = ""
    keywords: tuple[str, ...] = ()
    quantity_kg: float = 0.0
    delivery: str = ""
    posted_at: datetime | None = None
    revision: int = 0
    cancelled: bool = False
    filled: bool = False  # the matcher said so once (a later increase reopens it: see unmet)
    reason: str | None = None  # the matcher's latest word on why it stays open
    confirmed_kg: float = 0.0  # sums of its matches' contributions
    pending_kg: float = 0.0  # "reserved" in the figures' words
    counted: tuple[str, float] | None = None

    @property
    def known(self) -> bool:
        return self.revision > 0

    @property
    def order_figures(self) -> figures.OrderFigures:
        ended = "cancelled" if self.cancelled else None
        return figures.order_figures(self.quantity_kg, ended, self.pending_kg, self.confirmed_kg)

    @property
    def open_kg(self) -> float:
        return self.order_figures.open_kg

    @property
    def unmet(self) -> bool:
        """Posted, not cancelled, and with kilograms nobody is proposed for yet (state open or
        partly matched): what the organizer's "not yet met" list shows."""
        return self.known and self.order_figures.state in ("open", "partly_matched")


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one match adds to its session's board."""

    session_id: str
    demand_id: str
    stages: tuple[int, ...]  # one 0/1 per name in TOTALS
    pending_kg: float
    confirmed_kg: float
    value_vnd: int
    origin: str
    category: str

    @property
    def confirmed(self) -> int:
        return self.stages[TOTALS.index("confirmed")]


@dataclass(slots=True)
class MatchInfo:
    match_id: str
    offer_id: str = ""
    demand_id: str = ""
    supplier_id: str = ""
    buyer_id: str = ""
    category: str = ""
    quantity_kg: float = 0.0
    unit_price_vnd: int | None = None
    price_unit: str = "kg"
    score: float | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    proposed_at: datetime | None = None
    updated_at: datetime | None = None
    decisions: dict[str, str] = field(default_factory=dict)  # party -> accepted | declined
    outcome: str | None = None  # confirmed | expired | released
    release_reason: str | None = None
    counted: Contribution | None = None

    @property
    def status(self) -> str:
        return figures.match_status(self.outcome, self.decisions.values(), self.release_reason)

    @property
    def value_vnd(self) -> int:
        return figures.value_vnd(self.quantity_kg, self.unit_price_vnd, self.price_unit)

    def stages(self) -> tuple[int, ...]:
        return figures.funnel(self.status, self.decisions.values())


BUCKET = ("confirmed_kg", "pending_kg", "value_vnd", "confirmed")
"""What a province-of-origin or category bucket adds up, in this order."""


@dataclass
class Board:
    """One session as its organizer watches it."""

    session_id: str
    organizer_id: str | None = None
    name: str = ""
    status: str = "scheduled"
    host_province: str = ""
    dates: tuple[str, str] | None = None
    venue: str | None = None
    parties: dict[str, str] = field(default_factory=dict)  # org id -> buyer | supplier
    offers: int = 0
    offered_kg: float = 0.0
    demands: int = 0
    demanded_kg: float = 0.0
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOTALS, 0))
    pending_kg: float = 0.0
    confirmed_kg: float = 0.0
    value_vnd: int = 0
    by_origin: dict[str, list[float]] = field(default_factory=dict)  # see BUCKET
    by_category: dict[str, list[float]] = field(default_factory=dict)
    match_ids: dict[str, None] = field(default_factory=dict)  # in the order they joined
    demand_ids: set[str] = field(default_factory=set)
    dirty_matches: set[str] = field(default_factory=set)
    dirty_demands: set[str] = field(default_factory=set)
    changed: bool = False

    def add(self, c: Contribution, sign: int) -> None:
        for name, stage in zip(TOTALS, c.stages, strict=True):
            self.totals[name] += sign * stage
        self.pending_kg += sign * c.pending_kg
        self.confirmed_kg += sign * c.confirmed_kg
        self.value_vnd += sign * c.value_vnd
        for buckets, key in ((self.by_origin, c.origin), (self.by_category, c.category)):
            bucket = buckets.setdefault(key, [0.0] * len(BUCKET))
            for i, amount in enumerate((c.confirmed_kg, c.pending_kg, c.value_vnd, c.confirmed)):
                bucket[i] += sign * amount
            if all(abs(amount) < 1e-9 for amount in bucket):
                del buckets[key]
        self.changed = True


class Projection:
    """Every session's board, and what the boards need to know about offers, demands and
    organizations (names, origins) whatever session those belong to."""

    def __init__(self) -> None:
        self.boards: dict[str, Board] = {}
        self.offers: dict[str, OfferInfo] = {}
        self.demands: dict[str, DemandInfo] = {}
        self.matches: dict[str, MatchInfo] = {}
        self.org_names: dict[str, str] = {}
        self.org_provinces: dict[str, str] = {}
        self._links: dict[str, set[str]] = {}  # offer or demand id -> its match ids
        self.applied = 0

    # -- reading ---------------------------------------------------------------------------

    def board(self, session_id: str) -> Board | None:
        return self.boards.get(session_id)

    def sessions_of(self, organizer_id: str | None) -> list[Board]:
        """Sessions an organizer runs (``None``: every session, for the platform admin)."""
        return [
            b
            for b in self.boards.values()
            if b.organizer_id and (organizer_id is None or b.organizer_id == organizer_id)
        ]

    def org_name(self, org_id: str) -> str:
        return self.org_names.get(org_id, org_id)

    # -- writing ---------------------------------------------------------------------------

    def apply(self, event: AnyEvent) -> None:
        self.applied += 1
        match event:
            case OfferPublished() | OfferUpdated():
                self._offer(event)
            case OfferWithdrawn():
                offer = self._offer_info(event.offer_id)
                offer.withdrawn = True
                self._refresh_offer(offer)
            case DemandPosted() | DemandUpdated():
                self._demand(event)
            case DemandCancelled():
                demand = self._demand_info(event.demand_id)
                demand.cancelled = True
                self._refresh_demand(demand)
            case DemandFilled():
                demand = self._demand_info(event.demand_id)
                demand.filled = True
                self._refresh_demand(demand)
            case DemandUnmatched():
                demand = self._demand_info(event.demand_id)
                demand.reason = event.reason
                self._refresh_demand(demand)
            case MatchProposed():
                self._proposed(event)
            case MatchAccepted() | MatchDeclined():
                m = self._match_info(event.match_id)
                decision = "accepted" if isinstance(event, MatchAccepted) else "declined"
                if m.decisions.get(event.party.value) != decision:
                    m.decisions[event.party.value] = decision
                    m.updated_at = _later(m.updated_at, event.occurred_at)
                self._refresh_match(m)
            case MatchConfirmed() | MatchExpired() | MatchReleased():
                self._outcome(event)
            case SessionCreated() | SessionOpened():
                s = event.session
                board = self._board(s.session_id)
                board.organizer_id = s.organizer_id
                board.name = s.name
                board.host_province = s.host_province.name
                board.dates = (s.dates.start.isoformat(), s.dates.end.isoformat())
                board.venue = s.venue
                if isinstance(event, SessionOpened) and board.status != "closed":
                    board.status = "open"
                board.changed = True
            case SessionClosed():
                board = self._board(event.session_id)
                board.status = "closed"
                board.changed = True
            case ParticipantRegistered():
                board = self._board(event.session_id)
                board.parties[event.org_id] = event.party.value
                board.changed = True
            case OrganizationRegistered():
                org = event.organization
                self.org_names[org.org_id] = org.name
                self.org_provinces[org.org_id] = org.province.name
            case _:
                pass  # market ticks and anything else change no board

    def _board(self, session_id: str) -> Board:
        return _entry(self.boards, session_id, Board)

    def _offer_info(self, offer_id: str) -> OfferInfo:
        return _entry(self.offers, offer_id, OfferInfo)

    def _demand_info(self, demand_id: str) -> DemandInfo:
        return _entry(self.demands, demand_id, DemandInfo)

    def _match_info(self, match_id: str) -> MatchInfo:
        return _entry(self.matches, match_id, MatchInfo)

    def _offer(self, event: OfferPublished | OfferUpdated) -> None:
        o = event.offer
        offer = self._offer_info(o.offer_id)
        if o.revision < offer.revision:
            return  # an older revision read late
        offer.session_id = offer.session_id or event.session_id
        offer.supplier_id = o.supplier_id
        offer.product = o.product.name
        offer.category = o.product.category
        offer.origin = o.origin_province.name
        offer.quantity_kg = float(o.quantity_kg)
        offer.revision = o.revision
        self._refresh_offer(offer)

    def _demand(self, event: DemandPosted | DemandUpdated) -> None:
        d = event.demand
        demand = self._demand_info(d.demand_id)
        if d.revision < demand.revision:
            return
        demand.session_id = demand.session_id or event.session_id
        demand.buyer_id = d.buyer_id
        demand.category = d.criteria.category
        demand.keywords = tuple(d.criteria.keywords)
        demand.quantity_kg = float(d.quantity_kg)
        demand.delivery = d.delivery_province.name
        if demand.posted_at is None or isinstance(event, DemandPosted):
            demand.posted_at = event.occurred_at
        demand.revision = d.revision
        self._refresh_demand(demand)

    def _proposed(self, event: MatchProposed) -> None:
        p = event.match
        m = self._match_info(p.match_id)
        m.offer_id, m.demand_id = p.offer_id, p.demand_id
        m.supplier_id, m.buyer_id, m.category = p.supplier_id, p.buyer_id, p.category
        m.quantity_kg = float(p.quantity_kg)
        m.unit_price_vnd, m.price_unit = p.unit_price_vnd, p.price_unit
        m.score, m.breakdown = p.score, dict(p.score_breakdown)
        m.proposed_at = event.occurred_at
        m.updated_at = _later(m.updated_at, event.occurred_at)
        self._link(m)
        self._refresh_match(m)

    def _outcome(self, event: MatchConfirmed | MatchExpired | MatchReleased) -> None:
        m = self._match_info(event.match_id)
        m.offer_id, m.demand_id = event.offer_id, event.demand_id
        m.category = m.category or event.category
        m.quantity_kg = m.quantity_kg or float(event.quantity_kg)
        if m.outcome is None:
            m.outcome = {MatchConfirmed: "confirmed", MatchExpired: "expired",
                         MatchReleased: "released"}[type(event)]  # fmt: skip
            if isinstance(event, MatchReleased):
                m.release_reason = event.reason
            m.updated_at = _later(m.updated_at, event.occurred_at)
        self._link(m)
        self._refresh_match(m)

    def _link(self, m: MatchInfo) -> None:
        for entity_id in (m.offer_id, m.demand_id):
            self._links.setdefault(entity_id, set()).add(m.match_id)

    # -- contributions ---------------------------------------------------------------------

    def _session_of(self, m: MatchInfo) -> str | None:
        """A match belongs to its demand's session (the buyer came to it), else its offer's."""
        demand, offer = self.demands.get(m.demand_id), self.offers.get(m.offer_id)
        return figures.match_session(
            demand.session_id if demand is not None else None,
            offer.session_id if offer is not None else None,
        )

    def _refresh_match(self, m: MatchInfo, touched: bool = True) -> None:
        """Recount a match; its row is sent again if it was ``touched`` or its count moved."""
        session = self._session_of(m)
        new = None
        if session is not None and m.quantity_kg > 0:
            offer = self.offers.get(m.offer_id)
            status = m.status
            kg = m.quantity_kg
            new = Contribution(
                session_id=session,
                demand_id=m.demand_id,
                stages=m.stages(),
                pending_kg=kg if status in figures.RESERVING else 0.0,
                confirmed_kg=kg if status == "confirmed" else 0.0,
                value_vnd=m.value_vnd if status == "confirmed" else 0,
                origin=offer.origin if offer is not None and offer.origin else "",
                category=m.category,
            )
        old = m.counted
        if old is not None and old != new:
            self._count(m, old, -1)
        if new is not None and old != new:
            self._count(m, new, +1)
        m.counted = new
        if new is not None and (touched or new != old):
            board = self._board(new.session_id)
            board.dirty_matches.add(m.match_id)
            board.match_ids.setdefault(m.match_id)
            board.changed = True

    def _count(self, m: MatchInfo, c: Contribution, sign: int) -> None:
        board = self._board(c.session_id)
        board.add(c, sign)
        if sign < 0 and c.session_id != self._session_of(m):
            board.match_ids.pop(m.match_id, None)
        demand = self._demand_info(c.demand_id)
        demand.confirmed_kg += sign * c.confirmed_kg
        demand.pending_kg += sign * c.pending_kg
        self._mark_demand(demand)

    def _recount(self, old: tuple[str, float] | None, new: tuple[str, float] | None,
                 count: str, kg: str) -> None:  # fmt: skip
        """Move an order's (session, kg) from one board's totals to another's."""
        if new == old:
            return
        for c, sign in ((old, -1), (new, +1)):
            if c is not None:
                board = self._board(c[0])
                setattr(board, count, getattr(board, count) + sign)
                setattr(board, kg, getattr(board, kg) + sign * c[1])
                board.changed = True

    def _refresh_offer(self, offer: OfferInfo) -> None:
        new = None
        if offer.session_id and offer.revision > 0 and not offer.withdrawn:
            new = (offer.session_id, offer.quantity_kg)
        self._recount(offer.counted, new, "offers", "offered_kg")
        offer.counted = new
        for match_id in self._links.get(offer.offer_id, ()):
            self._refresh_match(self.matches[match_id])

    def _refresh_demand(self, demand: DemandInfo) -> None:
        new = None
        if demand.session_id and demand.known and not demand.cancelled:
            new = (demand.session_id, demand.quantity_kg)
        self._recount(demand.counted, new, "demands", "demanded_kg")
        demand.counted = new
        if demand.session_id:
            self._board(demand.session_id).demand_ids.add(demand.demand_id)
        self._mark_demand(demand)
        for match_id in self._links.get(demand.demand_id, ()):
            self._refresh_match(self.matches[match_id], touched=False)

    def _mark_demand(self, demand: DemandInfo) -> None:
        if demand.session_id:
            board = self._board(demand.session_id)
            board.dirty_demands.add(demand.demand_id)
            board.changed = True


def _entry(table: dict[str, T], key: str, make: Callable[[str], T]) -> T:
    found = table.get(key)
    if found is None:
        found = table[key] = make(key)
    return found


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
