"""Compact, immutable terms of an offer or demand: only what matching reads, precomputed.

Built once per publish/update from the pydantic model (prices per kg, province codes, dates as
ordinals), so the hot loops compare plain numbers, and stored as a small JSON record so a
restore needs no pydantic validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any

from schemas.fields import Quantity
from schemas.orders import Demand, Offer
from schemas.products import (
    OCOP_RATING_VALID_MONTHS,
    add_months,  # the rating's own lapse rule
)
from schemas.reference import price_per_kg, to_kg

INF = float("inf")


@lru_cache(maxsize=65536)
def _per_kg(unit_price_vnd: object, unit: str) -> Decimal:
    """``price_per_kg``, cached: catalogues repeat the same few prices and units. Takes any
    object, so a wrong one gets the reference's ValueError, compiled or not."""
    if type(unit_price_vnd) is not int or unit_price_vnd < 0:
        return price_per_kg(unit_price_vnd, unit)  # type: ignore[arg-type]  # raises its error
    return _tidy(Decimal(unit_price_vnd) / _kg_per_unit(unit))


@lru_cache(maxsize=256)
def _kg_per_unit(unit: str) -> Decimal:
    """Kilograms in one ``unit``: the slow part of ``price_per_kg`` (it folds Vietnamese text),
    looked up once per unit instead of once per new price."""
    return to_kg(1, unit)


def _tidy(value: Decimal) -> Decimal:
    """What ``schemas.reference`` does to a price per kg (tests hold ``_per_kg`` equal to it)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


@lru_cache(maxsize=65536)
def _to_kg(amount: Decimal, unit: str) -> Decimal:
    return to_kg(amount, unit)


def kg_of(quantity: Quantity) -> Decimal:
    """``quantity.kg``, cached: the unit lookup folds Vietnamese text, which is slow."""
    return _to_kg(quantity.amount, quantity.unit)


def milli(price_per_kg: Decimal) -> int:
    """Price per kg in thousandths of a VND, rounded down: the offer index's integer order
    (monotone in the exact price, so "<= ceiling" never loses an offer)."""
    return int((price_per_kg * 1000).to_integral_value(rounding=ROUND_FLOOR))


@lru_cache(maxsize=4096)
def _iso(day: int) -> str:
    """An ordinal as ISO text, cached: books hold a few hundred distinct days."""
    return date.fromordinal(day).isoformat()


def _day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def _kg(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


ROUNDS = "rounds"


def lane(pool: str | None, clearing: str) -> str | None:
    """The pool an order pairs in, as the engine files it: its session's (or the market's,
    None) for instant orders, and a lane of its own for orders cleared in rounds, so instant
    matching never sees them and a round never takes an instant order (ids never contain
    "/", so a lane never equals a session's id)."""
    return pool if clearing != ROUNDS else f"{pool or ''}/{ROUNDS}"


@dataclass(frozen=True, slots=True)
class OfferTerms:
    supplier_id: str
    revision: int
    quantity_kg: Decimal
    unit_price_vnd: int
    price_unit: str
    price_per_kg: Decimal
    price_f: float  # for the waiting-demand index and scores; rules compare the Decimal
    price_milli: int  # for the offer index
    origin: str
    ships_to: tuple[str, ...] | None  # sorted province codes; None = anywhere
    ships_set: frozenset[str] | None
    min_order_kg: Decimal | None
    ready_start: int  # first day goods can arrive (available.start + lead time), ordinal
    ready_end: int
    max_deferred_days: int
    vat_invoice: bool
    traceability: bool
    excluded_buyers: frozenset[str]
    stars: int
    stars_until: int | None  # ordinal of the day the rating lapses
    certifications: frozenset[str]
    pool: str | None  # the lane: the closed pool (a session-scoped session's id; None = the
    # market), apart per clearing mode (see ``lane``); the session's own id is record["pool"]
    rounds: bool  # cleared in rounds (clearing.py), never on arrival
    record: dict[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_offer(cls, offer: Offer) -> OfferTerms:
        """The terms and their record, built side by side (``from_record`` of the record gives
        equal terms: a test holds them so), without parsing back what was just formatted."""
        product = offer.product
        lead = offer.lead_time_days
        ready_start = offer.available.start.toordinal() + lead
        ready_end = offer.available.end.toordinal() + lead
        until = None
        if product.ocop_rated_on is not None:
            until = add_months(product.ocop_rated_on, OCOP_RATING_VALID_MONTHS).toordinal()
        ships = None
        if offer.ships_to is not None:
            ships = tuple(sorted({p.code for p in offer.ships_to}))
        quantity = kg_of(offer.quantity)
        min_order = None if offer.min_order is None else kg_of(offer.min_order)
        excluded = sorted(set(offer.excluded_buyers))
        certifications = sorted(str(c) for c in product.certifications)
        price, unit = offer.unit_price_vnd, offer.price_unit
        per_kg = _per_kg(price, unit)
        record: dict[str, Any] = {
            "supplier": offer.supplier_id,
            "revision": offer.revision,
            "quantity_kg": str(quantity),
            "unit_price_vnd": price,
            "price_unit": unit,
            "origin": offer.origin_province.code,
            "ships_to": None if ships is None else list(ships),
            "min_order_kg": None if min_order is None else str(min_order),
            "ready": [_iso(ready_start), _iso(ready_end)],
            "max_deferred_days": offer.max_deferred_payment_days,
            "vat_invoice": offer.issues_vat_invoice,
            "traceability": offer.has_traceability_stamps,
            "excluded_buyers": excluded,
            "stars": product.ocop_stars,
            "stars_until": None if until is None else _iso(until),
            "certifications": certifications,
        }
        if offer.pool is not None:  # records of the public market stay as they always were
            record["pool"] = offer.pool
        if offer.clearing != "instant":  # so do those of instant orders
            record["clearing"] = offer.clearing
        return cls(
            supplier_id=record["supplier"],
            revision=record["revision"],
            quantity_kg=quantity,
            unit_price_vnd=price,
            price_unit=unit,
            price_per_kg=per_kg,
            price_f=float(per_kg),
            price_milli=milli(per_kg),
            origin=record["origin"],
            ships_to=ships,
            ships_set=None if ships is None else frozenset(ships),
            min_order_kg=min_order,
            ready_start=ready_start,
            ready_end=ready_end,
            max_deferred_days=record["max_deferred_days"],
            vat_invoice=record["vat_invoice"],
            traceability=record["traceability"],
            excluded_buyers=frozenset(excluded),
            stars=record["stars"],
            stars_until=until,
            certifications=frozenset(certifications),
            pool=lane(offer.pool, offer.clearing),
            rounds=offer.clearing == ROUNDS,
            record=record,
        )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> OfferTerms:
        per_kg = _per_kg(r["unit_price_vnd"], r["price_unit"])
        ships = None if r["ships_to"] is None else tuple(r["ships_to"])
        return cls(
            supplier_id=r["supplier"],
            revision=r["revision"],
            quantity_kg=Decimal(r["quantity_kg"]),
            unit_price_vnd=r["unit_price_vnd"],
            price_unit=r["price_unit"],
            price_per_kg=per_kg,
            price_f=float(per_kg),
            price_milli=milli(per_kg),
            origin=r["origin"],
            ships_to=ships,
            ships_set=None if ships is None else frozenset(ships),
            min_order_kg=_kg(r["min_order_kg"]),
            ready_start=_day(r["ready"][0]),
            ready_end=_day(r["ready"][1]),
            max_deferred_days=r["max_deferred_days"],
            vat_invoice=r["vat_invoice"],
            traceability=r["traceability"],
            excluded_buyers=frozenset(r["excluded_buyers"]),
            stars=r["stars"],
            stars_until=None if r["stars_until"] is None else _day(r["stars_until"]),
            certifications=frozenset(r["certifications"]),
            pool=lane(r.get("pool"), r.get("clearing", "instant")),  # pre-pool records: market
            rounds=r.get("clearing") == ROUNDS,
            record=r,
        )


@dataclass(frozen=True, slots=True)
class DemandTerms:
    buyer_id: str
    revision: int
    quantity_kg: Decimal
    max_unit_price_vnd: int | None
    price_unit: str
    ceiling_per_kg: Decimal | None
    ceiling_f: float  # +inf without a ceiling; index order only
    ceiling_milli: int | None
    province: str
    window_start: int  # delivery window, ordinals
    window_end: int
    payment_days: int
    needs_vat_invoice: bool
    needs_traceability: bool
    accepts_partial: bool
    min_lot_kg: Decimal | None
    min_stars: int
    required_certifications: frozenset[str]
    excluded_suppliers: frozenset[str]
    pool: str | None  # as OfferTerms.pool: only offers of the same lane may fill it
    rounds: bool
    record: dict[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_demand(cls, demand: Demand) -> DemandTerms:
        """As ``OfferTerms.from_offer``: terms and record side by side."""
        window = demand.delivery_window
        quantity = kg_of(demand.quantity)
        min_lot = None if demand.min_lot is None else kg_of(demand.min_lot)
        price, unit = demand.max_unit_price_vnd, demand.price_unit
        ceiling = None if price is None else _per_kg(price, unit)
        criteria = demand.criteria
        required = sorted(str(c) for c in criteria.required_certifications)
        excluded = sorted(set(demand.excluded_suppliers))
        record: dict[str, Any] = {
            "buyer": demand.buyer_id,
            "revision": demand.revision,
            "quantity_kg": str(quantity),
            "max_unit_price_vnd": price,
            "price_unit": unit,
            "province": demand.delivery_province.code,
            "window": [window.start.isoformat(), window.end.isoformat()],
            "payment_days": demand.payment_terms_days,
            "needs_vat_invoice": demand.requires_vat_invoice,
            "needs_traceability": demand.requires_traceability,
            "accepts_partial": demand.accepts_partial,
            "min_lot_kg": None if min_lot is None else str(min_lot),
            "min_stars": criteria.min_ocop_stars,
            "required_certifications": required,
            "excluded_suppliers": excluded,
        }
        if demand.pool is not None:
            record["pool"] = demand.pool
        if demand.clearing != "instant":
            record["clearing"] = demand.clearing
        return cls(
            buyer_id=record["buyer"],
            revision=record["revision"],
            quantity_kg=quantity,
            max_unit_price_vnd=price,
            price_unit=unit,
            ceiling_per_kg=ceiling,
            ceiling_f=INF if ceiling is None else float(ceiling),
            ceiling_milli=None if ceiling is None else milli(ceiling),
            province=record["province"],
            window_start=window.start.toordinal(),
            window_end=window.end.toordinal(),
            payment_days=record["payment_days"],
            needs_vat_invoice=record["needs_vat_invoice"],
            needs_traceability=record["needs_traceability"],
            accepts_partial=record["accepts_partial"],
            min_lot_kg=min_lot,
            min_stars=record["min_stars"],
            required_certifications=frozenset(required),
            excluded_suppliers=frozenset(excluded),
            pool=lane(demand.pool, demand.clearing),
            rounds=demand.clearing == ROUNDS,
            record=record,
        )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> DemandTerms:
        price = r["max_unit_price_vnd"]
        ceiling = None if price is None else _per_kg(price, r["price_unit"])
        return cls(
            buyer_id=r["buyer"],
            revision=r["revision"],
            quantity_kg=Decimal(r["quantity_kg"]),
            max_unit_price_vnd=price,
            price_unit=r["price_unit"],
            ceiling_per_kg=ceiling,
            ceiling_f=INF if ceiling is None else float(ceiling),
            ceiling_milli=None if ceiling is None else milli(ceiling),
            province=r["province"],
            window_start=_day(r["window"][0]),
            window_end=_day(r["window"][1]),
            payment_days=r["payment_days"],
            needs_vat_invoice=r["needs_vat_invoice"],
            needs_traceability=r["needs_traceability"],
            accepts_partial=r["accepts_partial"],
            min_lot_kg=_kg(r["min_lot_kg"]),
            min_stars=r["min_stars"],
            required_certifications=frozenset(r["required_certifications"]),
            excluded_suppliers=frozenset(r["excluded_suppliers"]),
            pool=lane(r.get("pool"), r.get("clearing", "instant")),
            rounds=r.get("clearing") == ROUNDS,
            record=r,
        )
