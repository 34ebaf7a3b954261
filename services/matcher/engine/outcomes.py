"""What one event made the engine decide; the wiring turns each into a matches-topic event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from schemas.events import ReleaseReason

__all__ = ["ReleaseReason"]  # the contract's reasons: one list for the engine and the events


@dataclass(frozen=True)
class Proposed:
    """``quantity_kg`` of an offer is reserved for a demand until both parties accept."""

    match_id: str
    offer_id: str
    demand_id: str
    supplier_id: str
    buyer_id: str
    quantity_kg: Decimal
    unit_price_vnd: int
    price_unit: str
    score: float
    breakdown: dict[str, float]
    expires_at: datetime
    reason: str


@dataclass(frozen=True)
class Confirmed:
    """Both parties accepted: the reserved quantity is promised for good."""

    match_id: str
    offer_id: str
    demand_id: str
    quantity_kg: Decimal


@dataclass(frozen=True)
class Expired:
    """Not accepted by both in time: the quantity returned to the book."""

    match_id: str
    offer_id: str
    demand_id: str
    quantity_kg: Decimal


@dataclass(frozen=True)
class Released:
    """A pending proposal ended without confirmation; its quantity returned to the book."""

    match_id: str
    offer_id: str
    demand_id: str
    quantity_kg: Decimal
    reason: ReleaseReason


@dataclass(frozen=True)
class DemandFilled:
    """Confirmed matches now cover the whole demand."""

    demand_id: str
    filled_kg: Decimal


@dataclass(frozen=True)
class Unmatched:
    """A new or changed demand keeps ``open_kg`` open; ``reason`` says what blocks it."""

    demand_id: str
    open_kg: Decimal
    reason: str


Outcome = Proposed | Confirmed | Expired | Released | DemandFilled | Unmatched
