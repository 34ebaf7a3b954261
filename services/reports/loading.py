"""What a report reads from the store, for one session or the sessions of a period.

Besides the sessions' own documents it reads what their figures depend on elsewhere: the
matches of their orders (a session's demand may be met by an offer posted outside it), the
orders at the other end of those matches (their origin, their session), and every
organization named, for names and provinces. Lists of ids are sent in chunks, so no single
query grows with the session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.common.store import (
    DELIVERIES,
    DEMANDS,
    MATCHES,
    MEETINGS,
    OFFERS,
    ORGANIZATIONS,
    OUTCOMES,
    PARTICIPANTS,
    SESSIONS,
)
from services.reports.shapes import Documents

Doc = dict[str, Any]
CHUNK = 500
"""Ids per ``$in`` query."""


async def _find(db: AsyncDatabase, collection: str, query: dict[str, Any]) -> list[Doc]:
    return await db[collection].find(query).to_list()


async def _by_values(
    db: AsyncDatabase, collection: str, field: str, values: Iterable[Any]
) -> list[Doc]:
    """Documents whose ``field`` is one of ``values``, a chunk of ids per query."""
    wanted = sorted({v for v in values if v is not None}, key=str)
    found: list[Doc] = []
    for i in range(0, len(wanted), CHUNK):
        found += await _find(db, collection, {field: {"$in": wanted[i : i + CHUNK]}})
    return found


def _unique(*groups: Sequence[Doc]) -> list[Doc]:
    seen: dict[Any, Doc] = {}
    for group in groups:
        for doc in group:
            seen.setdefault(doc["_id"], doc)
    return list(seen.values())


async def sessions_in_period(
    db: AsyncDatabase, scope: dict[str, Any], start: date, end: date, limit: int
) -> list[Doc]:
    """Sessions (within the caller's ``scope``) whose dates overlap [start, end], at most
    ``limit`` + 1 (so the caller can tell there were more). Dates are stored as ISO strings,
    which order as the dates do."""
    query = {
        **scope,
        "dates.start": {"$lte": end.isoformat()},
        "dates.end": {"$gte": start.isoformat()},
    }
    cursor = db[SESSIONS].find(query).sort("_id", 1).limit(limit + 1)
    return await cursor.to_list()


async def documents(db: AsyncDatabase, sessions: Sequence[Doc]) -> Documents:
    """Everything the report of these sessions reads."""
    ids = [s["_id"] for s in sessions]
    participants = await _by_values(db, PARTICIPANTS, "session_id", ids)
    offers = await _by_values(db, OFFERS, "session_id", ids)
    demands = await _by_values(db, DEMANDS, "session_id", ids)
    matches = _unique(
        await _by_values(db, MATCHES, "session_id", ids),
        await _by_values(db, MATCHES, "demand_id", [d["_id"] for d in demands]),
        await _by_values(db, MATCHES, "offer_id", [o["_id"] for o in offers]),
    )
    have_offers = {o["_id"] for o in offers}
    have_demands = {d["_id"] for d in demands}
    # The other end of a match (an offer posted outside these sessions): its origin, and
    # its session, which decides where the match belongs.
    offers += await _by_values(
        db, OFFERS, "_id", {m.get("offer_id") for m in matches} - have_offers
    )
    demands += await _by_values(
        db, DEMANDS, "_id", {m.get("demand_id") for m in matches} - have_demands
    )
    meetings = await _by_values(db, MEETINGS, "session_id", ids)
    outcomes = await _by_values(db, OUTCOMES, "session_id", ids)
    deliveries = await _by_values(db, DELIVERIES, "session_id", ids)
    org_ids = {p.get("org_id") for p in participants}
    org_ids |= {o.get("supplier_id") for o in offers} | {d.get("buyer_id") for d in demands}
    org_ids |= {m.get(side) for m in [*matches, *meetings] for side in ("buyer_id", "supplier_id")}
    organizations = await _by_values(db, ORGANIZATIONS, "_id", org_ids)
    return Documents(
        sessions=list(sessions),
        participants=participants,
        organizations=organizations,
        offers=offers,
        demands=demands,
        matches=matches,
        meetings=meetings,
        outcomes=outcomes,
        deliveries=deliveries,
    )
