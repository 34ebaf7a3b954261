"""Translate between Kafka events and the pure core: the core never sees an envelope."""

from __future__ import annotations

import uuid

from schemas.events import (
    AnyEvent,
    DemandCancelled,
    DemandPosted,
    DemandUnmatched,
    DemandUpdated,
    MatchProposed,
    OfferPublished,
    OfferUpdated,
    OfferWithdrawn,
    derived_id,
)
from schemas.matches import Match
from services.matcher.core import MarketBook, Outcome, Proposal, Waiting

SOURCE = "ketnoi-matcher"


def apply(book: MarketBook, event: AnyEvent) -> list[Outcome]:
    """Feed one orders-topic event to the book. Match decisions (accept/decline) are recorded
    but do not change the skeleton book yet: double opt-in is the matching-engine issue."""
    match event:
        case OfferPublished():
            return book.add_offer(event.offer)
        case OfferUpdated():
            return book.update_offer(event.offer)
        case OfferWithdrawn():
            return book.withdraw_offer(event.offer_id)
        case DemandPosted():
            return book.add_demand(event.demand)
        case DemandUpdated():
            return book.update_demand(event.demand)
        case DemandCancelled():
            return book.cancel_demand(event.demand_id)
    return []


def outcome_event(outcome: Outcome, cause: AnyEvent) -> AnyEvent:
    """The event for an outcome; ids derive from the cause, so reprocessing emits the same ids."""
    category = cause.market_key
    common = {
        "occurred_at": cause.occurred_at,
        "source": SOURCE,
        "session_id": cause.session_id,
        "correlation_id": cause.event_id,
    }
    if isinstance(outcome, Proposal):
        match_id = derived_id("match", outcome.offer_id, outcome.demand_id)
        return MatchProposed(
            event_id=uuid.UUID(derived_id("match.proposed", match_id)),
            match=Match(
                match_id=match_id,
                offer_id=outcome.offer_id,
                demand_id=outcome.demand_id,
                supplier_id=outcome.supplier_id,
                buyer_id=outcome.buyer_id,
                category=category,
                quantity_kg=outcome.quantity_kg,
                unit_price_vnd=outcome.unit_price_vnd,
                price_unit=outcome.price_unit,
            ),
            **common,
        )
    assert isinstance(outcome, Waiting)
    return DemandUnmatched(
        event_id=uuid.UUID(derived_id("demand.unmatched", str(cause.event_id))),
        demand_id=outcome.demand_id,
        category=category,
        open_kg=outcome.open_kg,
        reason=outcome.reason,
        **common,
    )
