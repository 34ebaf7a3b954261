"""Turn the engine's outcomes into matches-topic events with deterministic ids.

An output's event id derives from what it reports (and, for "still open", from the event that
caused it), so reprocessing an input after a crash produces byte-identical outputs that
consumers recognise as duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.events import (
    AnyEvent,
    DemandFilled,
    DemandUnmatched,
    MatchConfirmed,
    MatchExpired,
    MatchProposed,
    MatchReleased,
    derived_id,
    event_type_name,
)
from schemas.matches import Match
from services.matcher.engine import (
    Confirmed,
    Expired,
    Outcome,
    Proposed,
    Released,
    Unmatched,
)
from services.matcher.engine import DemandFilled as Filled

SOURCE = "ketnoi-matcher"


def output_events(outcomes: Iterable[Outcome], cause: AnyEvent) -> list[AnyEvent]:
    """Event ids go in as text: the models parse them in pydantic's core, not uuid.UUID."""
    market = cause.market_key
    common = {
        "occurred_at": cause.occurred_at,
        "source": SOURCE,
        "session_id": cause.session_id,
        "correlation_id": cause.event_id,
    }
    events: list[AnyEvent] = []
    for outcome in outcomes:
        match outcome:
            case Proposed():
                events.append(MatchProposed(
                    event_id=derived_id("match.proposed", outcome.match_id),
                    match=Match(
                        match_id=outcome.match_id, offer_id=outcome.offer_id,
                        demand_id=outcome.demand_id, supplier_id=outcome.supplier_id,
                        buyer_id=outcome.buyer_id, category=market,
                        quantity_kg=outcome.quantity_kg, unit_price_vnd=outcome.unit_price_vnd,
                        price_unit=outcome.price_unit, score=round(outcome.score, 2),
                        score_breakdown={k: round(v, 2) for k, v in outcome.breakdown.items()},
                        expires_at=outcome.expires_at, reason=outcome.reason,
                    ),
                    **common,
                ))  # fmt: skip
            case Confirmed() | Expired() | Released():
                kind = {Confirmed: MatchConfirmed, Expired: MatchExpired,
                        Released: MatchReleased}[type(outcome)]  # fmt: skip
                extra = {"reason": outcome.reason} if isinstance(outcome, Released) else {}
                events.append(kind(
                    event_id=derived_id(event_type_name(kind), outcome.match_id),
                    match_id=outcome.match_id, category=market, offer_id=outcome.offer_id,
                    demand_id=outcome.demand_id, quantity_kg=outcome.quantity_kg,
                    **extra, **common,
                ))  # fmt: skip
            case Filled():
                events.append(DemandFilled(
                    event_id=derived_id("demand.filled", outcome.demand_id),
                    demand_id=outcome.demand_id, category=market, filled_kg=outcome.filled_kg,
                    **common,
                ))  # fmt: skip
            case Unmatched():
                events.append(DemandUnmatched(
                    event_id=derived_id("demand.unmatched", outcome.demand_id, str(cause.event_id)),
                    demand_id=outcome.demand_id, category=market, open_kg=outcome.open_kg,
                    reason=outcome.reason, **common,
                ))  # fmt: skip
            case _:
                raise TypeError(f"unknown outcome {outcome!r}")
    return events
