"""The session a match is recorded in, by the one rule (``figures.match_session``): its
demand's, else its offer's.

A proposal's event carries the session of whatever caused it: the demand's when the demand
arrived last, the offer's when the offer did, none when a market tick re-proposed after an
expiry. Recorded as is, an organizer would not find in ``/v1/matches`` a match its monitor and
stats count. So the proposal's session is taken from the orders stored (two reads by ``_id``),
before the proposal is written. Both orders are normally stored by then: the matcher proposes
only after it consumed them. If the demand is not (the recorder lagging on the orders topic),
the event's session stands.
"""

from __future__ import annotations

import dataclasses

from pymongo.asynchronous.database import AsyncDatabase

from schemas.events import AnyEvent, MatchProposed
from services.common.figures import match_session
from services.common.store import DEMANDS, MATCHES, OFFERS
from services.recorder.writes import Write


async def placed(store: AsyncDatabase, event: AnyEvent, writes: list[Write]) -> list[Write]:
    """``writes`` with the proposal's ``session_id`` set by the rule."""
    if not isinstance(event, MatchProposed):
        return writes
    match = event.match
    demand = await store[DEMANDS].find_one({"_id": match.demand_id}, {"session_id": 1})
    offer = await store[OFFERS].find_one({"_id": match.offer_id}, {"session_id": 1})
    if demand is None:
        return writes  # its session is unknown: the event's stands
    offer_session = offer.get("session_id") if offer is not None else event.session_id
    session = match_session(demand.get("session_id"), offer_session)
    return [
        dataclasses.replace(w, fields={**w.fields, "session_id": session})
        if w.collection == MATCHES and w.doc_id == match.match_id
        else w
        for w in writes
    ]
