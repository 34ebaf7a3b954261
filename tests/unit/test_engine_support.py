"""Helpers for the engine tests (no tests here): a feed that builds events with a fixed base
time and ``uuid.UUID(int=n)`` ids, applies them and checks the invariants after each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas import events as ev
from services.matcher.engine import MarketBook, MatchConfig, Outcome, Proposed
from tests.factories import demand, offer

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
MARKET = "fresh-fruit"
STEP = timedelta(minutes=1)


def kg(tonnes: str) -> Decimal:
    return Decimal(tonnes) * 1000


class Feed:
    """Builds orders-topic events in time order and feeds them to one book."""

    def __init__(self, config: MatchConfig | None = None, book: MarketBook | None = None):
        self.book = book or MarketBook(MARKET, config or MatchConfig())
        self.n = 0
        self.now = T0
        self.events: list[Any] = []

    def event(self, cls: type, advance: timedelta = STEP, **body: Any) -> Any:
        self.n += 1
        self.now += advance
        return cls(event_id=uuid.UUID(int=self.n), occurred_at=self.now, source="test", **body)

    def send(self, event: Any) -> list[Outcome]:
        self.events.append(event)
        outcomes = self.book.apply(event)
        self.book.check_invariants()
        return outcomes

    def apply(self, cls: type, advance: timedelta = STEP, **body: Any) -> list[Outcome]:
        return self.send(self.event(cls, advance, **body))

    # -- shorthands ---------------------------------------------------------------------------
    def offer(self, offer_id: str, amount: str = "8", **kw: Any) -> list[Outcome]:
        return self.apply(ev.OfferPublished, offer=offer(offer_id, amount, **kw))

    def update_offer(self, offer_id: str, amount: str, revision: int, **kw: Any):
        return self.apply(ev.OfferUpdated, offer=offer(offer_id, amount, revision=revision, **kw))

    def withdraw(self, offer_id: str) -> list[Outcome]:
        return self.apply(ev.OfferWithdrawn, offer_id=offer_id, category=MARKET)

    def demand(self, demand_id: str, amount: str = "3", **kw: Any) -> list[Outcome]:
        return self.apply(ev.DemandPosted, demand=demand(demand_id, amount, **kw))

    def update_demand(self, demand_id: str, amount: str, revision: int, **kw: Any):
        body = demand(demand_id, amount, revision=revision, **kw)
        return self.apply(ev.DemandUpdated, demand=body)

    def cancel(self, demand_id: str) -> list[Outcome]:
        return self.apply(ev.DemandCancelled, demand_id=demand_id, category=MARKET)

    def accept(self, match_id: str, party: str, org_id: str = "org") -> list[Outcome]:
        return self.apply(
            ev.MatchAccepted, match_id=match_id, category=MARKET, party=party, org_id=org_id
        )

    def decline(self, match_id: str, party: str, org_id: str = "org") -> list[Outcome]:
        return self.apply(
            ev.MatchDeclined, match_id=match_id, category=MARKET, party=party, org_id=org_id
        )

    def tick(self, advance: timedelta) -> list[Outcome]:
        return self.apply(ev.MarketTick, advance=advance, category=MARKET)


def proposals(outcomes: list[Outcome]) -> list[Proposed]:
    return [o for o in outcomes if isinstance(o, Proposed)]


def allocation(outcomes: list[Outcome]) -> list[tuple[str, Decimal]]:
    """(offer id, kg) of each proposal, in order."""
    return [(p.offer_id, p.quantity_kg) for p in proposals(outcomes)]
