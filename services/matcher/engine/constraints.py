"""Hard constraints: named rules an offer and a demand must all pass to be matched.

Each rule is a small function of both sides' terms and the quantity that would be allocated,
so ``explain`` can name exactly what failed and the allocator can check cheaply, in an order
that tries the most selective rules first. Category needs no rule: it is the market itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from .terms import DemandTerms, OfferTerms

Check = Callable[[OfferTerms, DemandTerms, Decimal, Decimal], bool]


@dataclass(frozen=True)
class Rule:
    name: str
    check: Check  # (offer, demand, allocated kg, demand's open kg) -> passes
    failing: str  # completes "N of M open offers ..." for organizers


def first_delivery_day(o: OfferTerms, d: DemandTerms) -> int:
    """The first day the goods could arrive within the delivery window (ordinal)."""
    return max(d.window_start, o.ready_start)


def stars_on_delivery(o: OfferTerms, d: DemandTerms) -> int:
    """OCOP stars still valid on the first delivery day (a rating lapses after 36 months)."""
    until = o.stars_until
    if until is None or first_delivery_day(o, d) >= until:
        return 0
    return o.stars


def _session(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    """Both in the public market (None), or both in the same session-scoped session."""
    return o.pool == d.pool


def _price(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return d.ceiling_per_kg is None or o.price_per_kg <= d.ceiling_per_kg


def _region(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return o.ships_set is None or d.province in o.ships_set


def _dates(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return o.ready_start <= d.window_end and d.window_start <= o.ready_end


def _lot(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    if q <= 0:
        return False
    if o.min_order_kg is not None and q < o.min_order_kg:
        return False
    if d.min_lot_kg is not None and q < d.min_lot_kg:
        return False
    return d.accepts_partial or q >= open_kg


def _stars(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return d.min_stars == 0 or stars_on_delivery(o, d) >= d.min_stars


def _certifications(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return d.required_certifications <= o.certifications


def _payment(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return o.max_deferred_days >= d.payment_days


def _vat_invoice(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return o.vat_invoice or not d.needs_vat_invoice


def _traceability(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return o.traceability or not d.needs_traceability


def _excluded(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    return d.buyer_id not in o.excluded_buyers and o.supplier_id not in d.excluded_suppliers


# Most selective first: pool, price and region are also what the indexes filter on.
RULES: tuple[Rule, ...] = (
    Rule("session", _session, "belong to another pool (a session-scoped session or the market)"),
    Rule("price", _price, "are above the maximum price"),
    Rule("region", _region, "do not deliver to the delivery province"),
    Rule("dates", _dates, "cannot deliver within the delivery window"),
    Rule("lot", _lot, "do not fit the lot sizes (minimum order, minimum lot or whole quantity)"),
    Rule("stars", _stars, "have fewer valid OCOP stars than required"),
    Rule("certifications", _certifications, "lack a required certification"),
    Rule("payment", _payment, "do not accept the deferred payment terms"),
    Rule("vat-invoice", _vat_invoice, "do not issue VAT invoices"),
    Rule("traceability", _traceability, "have no traceability stamps"),
    Rule("excluded", _excluded, "are excluded by the buyer or exclude the buyer"),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)


def terms_fit(o: OfferTerms, d: DemandTerms) -> bool:
    """Every rule that does not depend on quantities, as one expression: the allocator's hot
    path (the named rules above cost ten calls). Tests hold it equal to the rules. The checks
    are pure, so their order is free: the ones that fail most often in a deep book come first
    (payment terms, region, papers), price last as the indexes have already bounded it."""
    ceiling = d.ceiling_per_kg
    return (
        o.max_deferred_days >= d.payment_days
        and (o.ships_set is None or d.province in o.ships_set)
        and d.required_certifications <= o.certifications
        and (o.traceability or not d.needs_traceability)
        and (o.vat_invoice or not d.needs_vat_invoice)
        and o.ready_start <= d.window_end
        and d.window_start <= o.ready_end
        and (d.min_stars == 0 or stars_on_delivery(o, d) >= d.min_stars)
        and (ceiling is None or o.price_per_kg <= ceiling)
        and d.buyer_id not in o.excluded_buyers
        and o.supplier_id not in d.excluded_suppliers
        and o.pool == d.pool  # the indexes file pools apart: checked last, for the rules' sake
    )


def passes(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    """True when every hard constraint holds for allocating ``q`` kg."""
    return terms_fit(o, d) and _lot(o, d, q, open_kg)


def failures(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> list[str]:
    """Names of every failed hard constraint, in rule order ([] = compatible)."""
    return [rule.name for rule in RULES if not rule.check(o, d, q, open_kg)]


def lot_fits(o: OfferTerms, d: DemandTerms, q: Decimal, open_kg: Decimal) -> bool:
    """The quantity-dependent rule alone (terms already passed, quantities moved since)."""
    return _lot(o, d, q, open_kg)
