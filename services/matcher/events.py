"""Translate between Kafka events and the pure core: the core never sees an envelope."""

from __future__ import annotations

import uuid

from schemas.events import (
    AnyEvent,
    DemandPosted,
    DemandUnmatched,
    Match,
    MatchProposed,
    OfferPublished,
    derived_id,
)
from services.matcher.core import MarketBook, Outcome, Proposal, Waiting

SOURCE = "ketnoi-matcher"


def apply(book: MarketBook, event: AnyEvent) -> list[Outcome]:
    if isinstance(event, OfferPublished):
        return book.add_offer(event.offer)
    if isinstance(event, DemandPosted):
        return book.add_demand(event.demand)
    return []


def outcome_event(outcome: Outcome, cause: OfferPublished | DemandPosted) -> AnyEvent:
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
