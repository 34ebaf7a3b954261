"""Can an offer serve a demand? The hard commercial constraints of the domain brief, on contracts.

This is the scenario's yardstick for how matchable a generated stream is ("many demands can be
served, some cannot, for the reasons organizers report"). It reads only the contracts, so tuning
a scenario does not depend on the matcher's implementation, which also ranks and allocates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from schemas.orders import Demand, Offer
from schemas.reference import price_per_kg


def failed_constraints(
    offer: Offer, demand: Demand, quantity_kg: Decimal | None = None
) -> list[str]:
    """Names of the constraints that stop ``offer`` serving ``quantity_kg`` (default: all)."""
    q = demand.quantity_kg if quantity_kg is None else quantity_kg
    failed: list[str] = []
    if offer.market_key != demand.market_key:
        failed.append("category")
    if offer.quantity_kg < q:
        failed.append("quantity")
    if demand.max_unit_price_vnd is not None and price_per_kg(
        offer.unit_price_vnd, offer.price_unit
    ) > price_per_kg(demand.max_unit_price_vnd, demand.price_unit):
        failed.append("price")
    if offer.ships_to is not None and demand.delivery_province.code not in {
        p.code for p in offer.ships_to
    }:
        failed.append("region")
    lead = timedelta(days=offer.lead_time_days)
    ready_start, ready_end = offer.available.start + lead, offer.available.end + lead
    window = demand.delivery_window
    if not (ready_start <= window.end and window.start <= ready_end):
        failed.append("dates")
    too_small = (offer.min_order is not None and q < offer.min_order.kg) or (
        demand.min_lot is not None and q < demand.min_lot.kg
    )
    if too_small or (not demand.accepts_partial and q < demand.quantity_kg):
        failed.append("lot")
    stars = offer.product.ocop_stars_on(max(window.start, ready_start))
    if stars < demand.criteria.min_ocop_stars:
        failed.append("stars")
    if not set(demand.criteria.required_certifications) <= set(offer.product.certifications):
        failed.append("certifications")
    if offer.max_deferred_payment_days < demand.payment_terms_days:
        failed.append("payment")
    if demand.requires_vat_invoice and not offer.issues_vat_invoice:
        failed.append("vat-invoice")
    if demand.requires_traceability and not offer.has_traceability_stamps:
        failed.append("traceability")
    return failed


@dataclass
class Coverage:
    """How the demands of a stream could be served by all of its offers (ignoring allocation)."""

    whole: int = 0  # one offer can serve the whole quantity
    partial: int = 0  # several compatible offers together hold enough (partial fills allowed)
    none: int = 0
    blockers: Counter[str] = field(default_factory=Counter)  # why offers of the market fail

    @property
    def demands(self) -> int:
        return self.whole + self.partial + self.none

    @property
    def servable_share(self) -> float:
        return (self.whole + self.partial) / self.demands if self.demands else 0.0


def coverage(offers: Iterable[Offer], demands: Iterable[Demand]) -> Coverage:
    by_market: dict[str, list[Offer]] = {}
    for offer in offers:
        by_market.setdefault(offer.market_key, []).append(offer)
    result = Coverage()
    for demand in demands:
        market = by_market.get(demand.market_key, [])
        if any(not failed_constraints(o, demand) for o in market):
            result.whole += 1
            continue
        held = sum(o.quantity_kg for o in market if not _fails_share(o, demand))
        if demand.accepts_partial and held >= demand.quantity_kg:
            result.partial += 1
            continue
        result.none += 1
        for offer in market:
            result.blockers.update(_fails_share(offer, demand))
    return result


def _fails_share(offer: Offer, demand: Demand) -> list[str]:
    """What stops ``offer`` serving its share: all it holds, or the rest of the demand."""
    return failed_constraints(offer, demand, min(offer.quantity_kg, demand.quantity_kg))
