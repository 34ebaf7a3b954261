"""The open book of one market and the walking-skeleton matching rule.

Pure Python: no Kafka, Faust or MongoDB import, so it can be unit-tested and replayed alone.
Rule (the full engine with partial fills, scoring and double opt-in is a later issue): a demand
is matched whole to the cheapest open offer of its market that has enough quantity left and a
price per kg within the demand's ceiling; ties go to the offer published first. A matched
quantity leaves the offer's remaining stock at once, so no kilogram is promised twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from schemas.orders import Demand, Offer
from schemas.reference.units import price_per_kg


@dataclass
class BookOffer:
    offer_id: str
    supplier_id: str
    offered_kg: Decimal
    remaining_kg: Decimal
    unit_price_vnd: int
    price_unit: str
    price_per_kg: Decimal
    seq: int


@dataclass
class BookDemand:
    demand_id: str
    buyer_id: str
    quantity_kg: Decimal
    max_price_per_kg: Decimal | None
    seq: int


@dataclass(frozen=True)
class Proposal:
    """Match ``quantity_kg`` of an offer to a demand."""

    offer_id: str
    demand_id: str
    supplier_id: str
    buyer_id: str
    quantity_kg: Decimal
    unit_price_vnd: int
    price_unit: str


@dataclass(frozen=True)
class Waiting:
    """A demand stays open; ``reason`` names the constraint that nothing in the book met."""

    demand_id: str
    open_kg: Decimal
    reason: str


Outcome = Proposal | Waiting


class MarketBook:
    """Open offers and demands of one market (one product category)."""

    def __init__(self) -> None:
        self.offers: dict[str, BookOffer] = {}
        self.demands: dict[str, BookDemand] = {}
        self.closed_demands: set[str] = set()
        self.seq = 0

    # -- events ----------------------------------------------------------------------------
    def add_offer(self, offer: Offer) -> list[Outcome]:
        if offer.offer_id in self.offers:
            return []  # a duplicate delivery changes nothing
        self.seq += 1
        self.offers[offer.offer_id] = BookOffer(
            offer_id=offer.offer_id,
            supplier_id=offer.supplier_id,
            offered_kg=offer.quantity_kg,
            remaining_kg=offer.quantity_kg,
            unit_price_vnd=offer.unit_price_vnd,
            price_unit=offer.price_unit,
            price_per_kg=price_per_kg(offer.unit_price_vnd, offer.price_unit),
            seq=self.seq,
        )
        return self._fill_waiting()

    def update_offer(self, offer: Offer) -> list[Outcome]:
        """New terms for an offer; what is already promised stays promised."""
        entry = self.offers.get(offer.offer_id)
        if entry is None:
            return []  # fully allocated or withdrawn: nothing left to change
        promised = entry.offered_kg - entry.remaining_kg
        entry.offered_kg = offer.quantity_kg
        entry.remaining_kg = max(Decimal(0), offer.quantity_kg - promised)
        entry.unit_price_vnd = offer.unit_price_vnd
        entry.price_unit = offer.price_unit
        entry.price_per_kg = price_per_kg(offer.unit_price_vnd, offer.price_unit)
        if entry.remaining_kg == 0:
            del self.offers[offer.offer_id]
        return self._fill_waiting()

    def withdraw_offer(self, offer_id: str) -> list[Outcome]:
        self.offers.pop(offer_id, None)
        return []

    def _fill_waiting(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for demand in sorted(self.demands.values(), key=lambda d: d.seq):
            proposal = self._try_fill(demand)
            if proposal is not None:
                outcomes.append(proposal)
        return outcomes

    def add_demand(self, demand: Demand) -> list[Outcome]:
        if demand.demand_id in self.demands or demand.demand_id in self.closed_demands:
            return []
        self.seq += 1
        entry = BookDemand(
            demand.demand_id, demand.buyer_id, demand.quantity_kg, _ceiling(demand), self.seq
        )
        self.demands[entry.demand_id] = entry
        return self._decide(entry)

    def update_demand(self, demand: Demand) -> list[Outcome]:
        """New terms for a demand still open; a matched demand is not reopened."""
        entry = self.demands.get(demand.demand_id)
        if entry is None:
            return []
        entry.quantity_kg = demand.quantity_kg
        entry.max_price_per_kg = _ceiling(demand)
        return self._decide(entry)

    def cancel_demand(self, demand_id: str) -> list[Outcome]:
        if self.demands.pop(demand_id, None) is not None:
            self.closed_demands.add(demand_id)
        return []

    def _decide(self, entry: BookDemand) -> list[Outcome]:
        proposal = self._try_fill(entry)
        if proposal is not None:
            return [proposal]
        return [Waiting(entry.demand_id, entry.quantity_kg, self._why_unfilled(entry))]

    # -- rule ------------------------------------------------------------------------------
    def _fits(self, offer: BookOffer, demand: BookDemand) -> bool:
        if offer.remaining_kg < demand.quantity_kg:
            return False
        return demand.max_price_per_kg is None or offer.price_per_kg <= demand.max_price_per_kg

    def _try_fill(self, demand: BookDemand) -> Proposal | None:
        candidates = [o for o in self.offers.values() if self._fits(o, demand)]
        if not candidates:
            return None
        best = min(candidates, key=lambda o: (o.price_per_kg, o.seq))
        best.remaining_kg -= demand.quantity_kg
        if best.remaining_kg == 0:
            del self.offers[best.offer_id]
        del self.demands[demand.demand_id]
        self.closed_demands.add(demand.demand_id)
        return Proposal(
            offer_id=best.offer_id,
            demand_id=demand.demand_id,
            supplier_id=best.supplier_id,
            buyer_id=demand.buyer_id,
            quantity_kg=demand.quantity_kg,
            unit_price_vnd=best.unit_price_vnd,
            price_unit=best.price_unit,
        )

    def _why_unfilled(self, demand: BookDemand) -> str:
        if not self.offers:
            return "no open offer in this category"
        largest = max(o.remaining_kg for o in self.offers.values())
        if largest < demand.quantity_kg:
            return f"no offer has enough quantity (largest open: {largest} kg)"
        return "every offer with enough quantity is above the maximum price"

    # -- state (stored in a Faust table as JSON) --------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "offers": [_jsonable(asdict(o)) for o in self.offers.values()],
            "demands": [_jsonable(asdict(d)) for d in self.demands.values()],
            "closed_demands": sorted(self.closed_demands),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> MarketBook:
        book = cls()
        if not state:
            return book
        book.seq = state["seq"]
        for raw in state["offers"]:
            offer = BookOffer(**_decimals(raw, "offered_kg", "remaining_kg", "price_per_kg"))
            book.offers[offer.offer_id] = offer
        for raw in state["demands"]:
            demand = BookDemand(**_decimals(raw, "quantity_kg", "max_price_per_kg"))
            book.demands[demand.demand_id] = demand
        book.closed_demands = set(state["closed_demands"])
        return book


def _ceiling(demand: Demand) -> Decimal | None:
    if demand.max_unit_price_vnd is None:
        return None
    return price_per_kg(demand.max_unit_price_vnd, demand.price_unit)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def _decimals(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: Decimal(v) if k in names and v is not None else v for k, v in row.items()}
