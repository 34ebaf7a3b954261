"""Closing a session: what it publishes for its orders, by scope, with ids a retry repeats."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from schemas.events import DemandCancelled, OfferWithdrawn
from services.gateway.closing import CLOSED_REASON, pool_endings


class _Cursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, key: str, direction: int) -> _Cursor:
        return _Cursor(sorted(self.docs, key=lambda d: d[key], reverse=direction < 0))

    async def to_list(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self.docs]


def _fits(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for field, wanted in query.items():
        if isinstance(wanted, dict):
            if doc.get(field) not in wanted["$in"]:
                return False
        elif doc.get(field) != wanted:
            return False
    return True


class _Collection:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def find(self, query: dict[str, Any], fields: dict[str, int] | None = None) -> _Cursor:
        return _Cursor([d for d in self.docs if _fits(d, query)])


def _gateway(offers: list, demands: list, matches: list) -> Any:
    db = {"offers": _Collection(offers), "demands": _Collection(demands),
          "matches": _Collection(matches)}  # fmt: skip
    return SimpleNamespace(db=db)


def _offer(oid: str, **kw: Any) -> dict[str, Any]:
    return {"_id": oid, "session_id": "s1", "pool": "s1", "status": "open", "quantity_kg": 4000.0,
            "product": {"category": "tea"}, **kw}  # fmt: skip


def _demand(did: str, **kw: Any) -> dict[str, Any]:
    return {"_id": did, "session_id": "s1", "pool": "s1", "status": "open", "quantity_kg": 3000.0,
            "criteria": {"category": "tea"}, **kw}  # fmt: skip


def _confirmed(oid: str, did: str, kg: float) -> dict[str, Any]:
    return {"_id": f"m-{oid}-{did}", "offer_id": oid, "demand_id": did, "quantity_kg": kg,
            "status": "confirmed"}  # fmt: skip


OFFERS = [
    _offer("o-open"),
    _offer("o-gone", status="withdrawn"),
    _offer("o-market", pool=None),  # posted before the session had a scope: not in its pool
    _offer("o-other", session_id="s2", pool="s2"),
]
DEMANDS = [_demand("d-filled"), _demand("d-open")]
MATCHES = [_confirmed("o-open", "d-filled", 3000.0)]


def _endings(scope: str) -> list[OfferWithdrawn | DemandCancelled]:
    gateway = _gateway(OFFERS, DEMANDS, MATCHES)
    session = {"_id": "s1", "scope": scope, "status": "open"}
    return asyncio.run(pool_endings(gateway, session, "api:org:key"))


def test_a_market_scoped_close_leaves_every_order_open():
    assert _endings("market") == []


def test_a_session_scoped_close_ends_what_is_open_in_its_pool_only():
    events = _endings("session")
    ended = [e.offer_id if isinstance(e, OfferWithdrawn) else e.demand_id for e in events]
    assert ended == ["o-open", "d-open"]
    assert [type(e) for e in events] == [OfferWithdrawn, DemandCancelled]
    assert all(e.reason == CLOSED_REASON and e.session_id == "s1" for e in events)
    assert all(e.category == "tea" for e in events)


def test_a_retried_close_publishes_the_same_event_ids():
    first, again = _endings("session"), _endings("session")
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == len(first)
