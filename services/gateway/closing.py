"""What closing a session does to its orders, by the session's scope.

Scope "market": nothing; its orders stay open in the public market. Scope "session": its closed
pool ends with it: each offer of the pool still open is withdrawn and each demand cancelled,
unless it is filled (confirmed in full: withdrawing would change nothing but its state).
Pending proposals of those orders are released by the matcher; confirmed matches stay.

Every event id derives from the session and the order, so a retried close publishes the same
events again and consumers apply each once; the gateway publishes them before
``session.closed``, so a close that fails half-way leaves the session open, to be retried.
"""

from __future__ import annotations

import uuid
from typing import Any

from schemas.events import DemandCancelled, OfferWithdrawn, derived_id, utcnow
from services.common.store import DEMANDS, OFFERS
from services.gateway import figure_reads
from services.gateway.context import Gateway

CLOSED_REASON = "phiên đã đóng / session closed"
_FIELDS = {"status": 1, "quantity_kg": 1, "product": 1, "criteria": 1}


def _event_id(session_id: str, kind: str, order_id: str) -> uuid.UUID:
    """The same for every close of ``session_id``: a retry converges on the first."""
    return uuid.UUID(derived_id("session.closed", session_id, kind, order_id))


async def _still_open(
    gateway: Gateway, collection: str, session_id: str, id_field: str
) -> list[dict[str, Any]]:
    """The pool's orders not ended by their owner and not filled, with their category."""
    query = {"session_id": session_id, "pool": session_id, "status": "open"}
    docs = await gateway.db[collection].find(query, _FIELDS).sort("_id", 1).to_list()
    items = [{id_field: doc.pop("_id"), **doc} for doc in docs]
    await figure_reads.with_order_figures(gateway, items, id_field)
    return [item for item in items if item.get("state") != "filled"]


async def pool_endings(
    gateway: Gateway, session: dict[str, Any], source: str
) -> list[OfferWithdrawn | DemandCancelled]:
    """The withdrawals and cancellations closing ``session`` (its stored document) publishes:
    none unless its scope is "session"."""
    if session.get("scope") != "session":
        return []
    session_id = session["_id"]
    common = {"source": source, "session_id": session_id, "reason": CLOSED_REASON}
    events: list[OfferWithdrawn | DemandCancelled] = []
    for offer in await _still_open(gateway, OFFERS, session_id, "offer_id"):
        category = (offer.get("product") or {}).get("category")
        if category is None:  # only a withdrawal was recorded: nothing to withdraw
            continue
        events.append(
            OfferWithdrawn(
                event_id=_event_id(session_id, "offer", offer["offer_id"]),
                occurred_at=utcnow(),
                offer_id=offer["offer_id"],
                category=category,
                **common,
            )
        )
    for demand in await _still_open(gateway, DEMANDS, session_id, "demand_id"):
        category = (demand.get("criteria") or {}).get("category")
        if category is None:
            continue
        events.append(
            DemandCancelled(
                event_id=_event_id(session_id, "demand", demand["demand_id"]),
                occurred_at=utcnow(),
                demand_id=demand["demand_id"],
                category=category,
                **common,
            )
        )
    return events
