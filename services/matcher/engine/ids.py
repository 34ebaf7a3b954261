"""Match ids: the derived id of ("match", offer, demand, n), so a replay or a retry of the
same events names the same proposals."""

from __future__ import annotations

from schemas.events import derived_id


def match_id(offer_id: str, demand_id: str, n: int) -> str:
    """The id of the pair's ``n``-th proposal (n counts from 0)."""
    return derived_id("match", offer_id, demand_id, str(n))
