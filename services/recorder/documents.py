"""How each event becomes idempotent writes to the read model.

Every write is an upsert keyed by the entity id. Guards make replays and redeliveries harmless:
an older revision never overwrites a newer one, and nothing reopens a demand once it is filled.
A demand's ``match_status`` is the matcher's latest word: ``open`` (with its reason, and the kg
that reason is about as ``unmatched_open_kg``), ``proposed`` (its latest change was a
proposal), ``filled`` (confirmed matches cover it). An order's current reserved, confirmed and
open kg are not stored: they follow from its matches (``services/common/figures.py``), and a
counter kept here would count a redelivered event twice.
"""

from __future__ import annotations

from typing import Any

from schemas.events import (
    AnyEvent,
    DemandCancelled,
    DemandFilled,
    DemandPosted,
    DemandUnmatched,
    DemandUpdated,
    MarketTick,
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
from services.common.store import DEMANDS, MATCHES, OFFERS, ORGANIZATIONS, PARTICIPANTS, SESSIONS
from services.recorder.programme import PROGRAMME_EVENTS, programme_writes
from services.recorder.writes import Write, envelope_fields, participant_id


def _match_meta(event: AnyEvent) -> dict[str, Any]:
    """A decision or an outcome keeps the match's session as its proposal recorded it: the
    event that caused an expiry (a market tick) or a release (another order's change) carries
    no session, or another one."""
    meta = envelope_fields(event)
    del meta["session_id"]
    return meta


def _entity(model: Any, id_field: str) -> dict[str, Any]:
    fields = model.model_dump(mode="json", exclude={id_field})
    fields["quantity_kg"] = float(model.quantity_kg)  # numeric, for sorting and sums
    return fields


def writes_for(event: AnyEvent) -> list[Write]:
    meta = envelope_fields(event)
    match event:
        case OfferPublished() | OfferUpdated():
            offer = event.offer
            fields = {**_entity(offer, "offer_id"), **meta, "status": "open"}
            return [Write(OFFERS, offer.offer_id, fields, newer_than_stored=offer.revision)]
        case OfferWithdrawn():
            fields = {"status": "withdrawn", "withdrawn_reason": event.reason, **meta}
            return [Write(OFFERS, event.offer_id, fields)]
        case DemandPosted() | DemandUpdated():
            demand = event.demand
            fields = {**_entity(demand, "demand_id"), **meta, "status": "open"}
            return [Write(DEMANDS, demand.demand_id, fields, newer_than_stored=demand.revision)]
        case DemandCancelled():
            fields = {"status": "cancelled", "cancelled_reason": event.reason, **meta}
            return [Write(DEMANDS, event.demand_id, fields)]
        case MatchProposed():
            match = event.match
            fields = match.model_dump(mode="json", exclude={"match_id"})
            fields.update(quantity_kg=float(match.quantity_kg), status="proposed", **meta)
            return [
                Write(MATCHES, match.match_id, fields),
                Write(DEMANDS, match.demand_id, {"match_status": "proposed",
                                                 "unmatched_reason": None},
                      unless={"match_status": "filled"}),
            ]  # fmt: skip
        case MatchAccepted() | MatchDeclined():
            decision = "accepted" if isinstance(event, MatchAccepted) else "declined"
            fields = {f"{event.party.value}_decision": decision, **_match_meta(event)}
            if isinstance(event, MatchDeclined):
                fields[f"{event.party.value}_decline_reason"] = event.reason
            return [Write(MATCHES, event.match_id, fields)]
        case MatchConfirmed() | MatchExpired() | MatchReleased():
            status = {MatchConfirmed: "confirmed", MatchExpired: "expired",
                      MatchReleased: "released"}[type(event)]  # fmt: skip
            fields = {"status": status, **_match_meta(event)}
            if isinstance(event, MatchReleased):
                fields["released_reason"] = event.reason
            return [Write(MATCHES, event.match_id, fields)]
        case DemandFilled():
            fields = {"match_status": "filled", "filled_kg": float(event.filled_kg)}
            return [Write(DEMANDS, event.demand_id, fields)]
        case MarketTick():
            return []  # the matcher's clock: nothing to record
        case DemandUnmatched():
            fields = {"match_status": "open", "unmatched_reason": event.reason,
                      "unmatched_open_kg": float(event.open_kg)}  # fmt: skip
            return [Write(DEMANDS, event.demand_id, fields, unless={"match_status": "filled"})]
        case SessionCreated():
            # A session's events share its partition, so "created" is never applied after
            # "opened" except on a redelivery, which re-applies "opened" right after it.
            session = event.session
            fields = {**session.model_dump(mode="json", exclude={"session_id"}), **meta}
            return [Write(SESSIONS, session.session_id, {**fields, "status": "scheduled"})]
        case ParticipantRegistered():
            fields = {"session_id": event.session_id, "org_id": event.org_id,
                      "party": event.party.value, **meta}  # fmt: skip
            return [Write(PARTICIPANTS, participant_id(event.session_id, event.org_id), fields)]
        case SessionOpened():
            session = event.session
            fields = {**session.model_dump(mode="json", exclude={"session_id"}), **meta}
            return [Write(SESSIONS, session.session_id, {**fields, "status": "open"})]
        case SessionClosed():
            return [Write(SESSIONS, event.session_id, {"status": "closed", **meta})]
        case OrganizationRegistered():
            org = event.organization
            fields = {**org.model_dump(mode="json", exclude={"org_id"}), **meta}
            return [Write(ORGANIZATIONS, org.org_id, fields)]
        case _ if isinstance(event, PROGRAMME_EVENTS):  # meetings, outcomes, deliveries
            return programme_writes(event)
    raise ValueError(f"no read-model mapping for event type {event.type!r}")
