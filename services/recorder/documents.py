"""How each event becomes an idempotent upsert: (collection, _id, fields to $set)."""

from __future__ import annotations

from typing import Any

from schemas.events import AnyEvent, DemandPosted, DemandUnmatched, MatchProposed, OfferPublished
from services.common.store import DEMANDS, MATCHES, OFFERS

Upsert = tuple[str, str, dict[str, Any]]


def _recorded(event: AnyEvent) -> dict[str, Any]:
    return {
        "last_event_id": str(event.event_id),
        "occurred_at": event.occurred_at,
        "source": event.source,
        "session_id": event.session_id,
    }


def upserts_for(event: AnyEvent) -> list[Upsert]:
    """Each document is keyed by its entity id; replaying an event rewrites the same fields."""
    if isinstance(event, OfferPublished):
        offer = event.offer
        fields = offer.model_dump(mode="json", exclude={"offer_id"})
        fields["quantity_kg"] = float(offer.quantity_kg)
        return [(OFFERS, offer.offer_id, {**fields, **_recorded(event), "status": "open"})]
    if isinstance(event, DemandPosted):
        demand = event.demand
        fields = demand.model_dump(mode="json", exclude={"demand_id"})
        fields["quantity_kg"] = float(demand.quantity_kg)
        # match_status is owned by the matcher's events; set it only if absent (see recorder).
        return [(DEMANDS, demand.demand_id, {**fields, **_recorded(event)})]
    if isinstance(event, MatchProposed):
        match = event.match
        fields = match.model_dump(mode="json", exclude={"match_id"})
        fields["quantity_kg"] = float(match.quantity_kg)
        return [
            (MATCHES, match.match_id, {**fields, **_recorded(event)}),
            (DEMANDS, match.demand_id, {"match_status": "matched", "unmatched_reason": None}),
        ]
    if isinstance(event, DemandUnmatched):
        return [
            (
                DEMANDS,
                event.demand_id,
                {
                    "match_status": "open",
                    "unmatched_reason": event.reason,
                    "open_kg": float(event.open_kg),
                },
            )
        ]
    return []
