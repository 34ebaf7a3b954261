"""The reads behind the API's figures; the counting itself is ``services.common.figures``.

An order's figures are computed when it is read, from its match documents (the matches
collection is indexed by ``demand_id``, and ``offer_id`` leads its pair index), not kept as
counters the recorder increments: a redelivered event would count twice, and a match decided
in another session still changes what is open here. A session has at most a few thousand
orders, so its stats load its orders and their matches and count in Python (FerretDB v1.24
computes only the first accumulator of a ``$group``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.common import figures
from services.common.store import DEMANDS, MATCHES, OFFERS, ORGANIZATIONS, PARTICIPANTS
from services.gateway.context import Gateway

CHUNK = 500
"""Ids per ``$in`` query."""
MATCH_FIELDS = {
    name: 1
    for name in ("offer_id", "demand_id", "quantity_kg", "status", "buyer_decision",
                 "supplier_decision", "released_reason", "unit_price_vnd", "price_unit",
                 "category")
}  # fmt: skip
ORDER_FIELDS = {"status": 1, "quantity_kg": 1, "session_id": 1, "origin_province": 1}


async def _find_in(
    collection: AsyncCollection, field: str, ids: Iterable[str], fields: dict[str, int]
) -> list[dict[str, Any]]:
    wanted = sorted(set(ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), CHUNK):
        query = {field: {"$in": wanted[start : start + CHUNK]}}
        found += await collection.find(query, fields).to_list()
    return found


async def with_order_figures(
    gateway: Gateway, items: list[dict[str, Any]], id_field: str
) -> list[dict[str, Any]]:
    """Offers (``id_field`` "offer_id") or demands ("demand_id") as the API shows them, each
    with its reserved, confirmed and open kg and its state, from its matches."""
    matches = await _find_in(
        gateway.db[MATCHES], id_field, (item[id_field] for item in items), MATCH_FIELDS
    )
    mine: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        mine.setdefault(match[id_field], []).append(match)
    for item in items:
        item.update(figures.order_figures_of(item, mine.get(item[id_field], [])).as_dict())
        if "unmatched_reason" in item and item["open_kg"] <= 0:  # about kg no longer open
            item["unmatched_reason"] = None
    return items


async def session_figures(gateway: Gateway, session_id: str) -> dict[str, Any]:
    """Every figure of one session (see ``services.common.figures.session_figures``)."""
    db = gateway.db
    participants = (
        await db[PARTICIPANTS].find({"session_id": session_id}, {"org_id": 1, "party": 1}).to_list()
    )
    orgs = await _find_in(
        db[ORGANIZATIONS], "_id", (str(p.get("org_id")) for p in participants), {"province": 1}
    )
    provinces = {org["_id"]: (org.get("province") or {}).get("name") or "" for org in orgs}
    offers = await db[OFFERS].find({"session_id": session_id}, ORDER_FIELDS).to_list()
    demands = await db[DEMANDS].find({"session_id": session_id}, ORDER_FIELDS).to_list()
    offer_ids, demand_ids = {o["_id"] for o in offers}, {d["_id"] for d in demands}
    matches = await _find_in(db[MATCHES], "demand_id", demand_ids, MATCH_FIELDS)
    matches += await _find_in(db[MATCHES], "offer_id", offer_ids, MATCH_FIELDS)
    # The other side of each match: an offer's origin, a demand's session.
    other_offers = {m["offer_id"] for m in matches} - offer_ids
    other_demands = {m["demand_id"] for m in matches} - demand_ids
    others = await _find_in(db[OFFERS], "_id", other_offers, ORDER_FIELDS)
    others += await _find_in(db[DEMANDS], "_id", other_demands, ORDER_FIELDS)
    return figures.session_figures(
        session_id,
        participants,
        provinces,
        offers,
        demands,
        matches,
        {doc["_id"]: doc for doc in others},
    )
