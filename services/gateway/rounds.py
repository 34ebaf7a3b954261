"""An organizer closing a clearing round of a session that clears in rounds.

A round closes by a ``market.tick`` with ``closes_round`` on the ``orders`` topic, under the
market's key, as the matcher's ticker writes it: the matcher takes it in the market's order,
so a replay clears the same orders. The gateway sends one per market that has open orders in
the session's pool, each limited to that pool (``round_pool``): other sessions and the public
market are not cleared early. A retry without an ``Idempotency-Key`` closes another round,
which is harmless (it allocates only what the first left open); with the key, the retry gets
the first answer and sends nothing.
"""

from __future__ import annotations

from typing import Any

from schemas.events import MarketTick, utcnow
from services.common.store import DEMANDS, OFFERS
from services.gateway.context import Gateway
from services.gateway.idempotency import Ids
from services.gateway.problems import ApiProblem, FieldProblem


def require_rounds(session: dict[str, Any]) -> None:
    """409 unless the session's orders clear in rounds (scope "session", clearing "rounds")."""
    scope, clearing = session.get("scope") or "market", session.get("clearing") or "instant"
    if (scope, clearing) != ("session", "rounds"):
        raise ApiProblem(
            409,
            f"session {session['_id']!r} has scope {scope!r} and clearing {clearing!r}: its "
            "orders match on arrival or in the public market's rounds, so it has no rounds to "
            "close (create a session with scope 'session' and clearing 'rounds')",
            errors=[FieldProblem(path="clearing", problem=clearing, allowed=["rounds"])],
        )


async def pool_markets(gateway: Gateway, session_id: str) -> list[str]:
    """The markets (category codes) of the session's pool's open offers and demands."""
    query = {"pool": session_id, "status": "open"}
    offers = await gateway.db[OFFERS].distinct("product.category", query)
    demands = await gateway.db[DEMANDS].distinct("criteria.category", query)
    return sorted({m for m in [*offers, *demands] if isinstance(m, str)})


def round_ticks(ids: Ids, session_id: str, markets: list[str], source: str) -> list[MarketTick]:
    """One tick per market closing the session's round (its pool only)."""
    now = utcnow()
    return [
        MarketTick(event_id=ids.event(index), occurred_at=now, source=source,
                   session_id=session_id, category=market, closes_round=True,
                   round_pool=session_id)
        for index, market in enumerate(markets)
    ]  # fmt: skip
