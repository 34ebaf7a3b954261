"""How good a compatible pair is: 0-100 points from five criteria, with the breakdown shown
to both parties so a proposal explains itself (buyer attention is the scarce resource).

A ``Scorer`` serves one demand: what depends on the demand alone (its ceiling, its distance
row, its open quantity) is computed once, because a demand scores up to ``candidate_limit``
offers per event. Candidates are ranked on the unrounded total; a proposal reports the parts
rounded to 0.01 and their sum.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from schemas.reference import distance_km, province_by_code

from .constraints import stars_on_delivery
from .records import SupplierRecord
from .terms import DemandTerms, OfferTerms

# criterion -> maximum points; the order is the breakdown's order and breaks ties in `reason`.
CRITERIA: dict[str, float] = {
    "price": 30.0,  # headroom under the ceiling; half the ceiling or less earns all of it
    "distance": 25.0,  # origin to delivery province centre; 0 km all, >= 1,500 km none
    "stars": 15.0,  # 5 per valid OCOP star above the required minimum
    "share": 20.0,  # share of the demand's open quantity this offer covers
    "record": 10.0,  # supplier's confirmed vs lapsed proposals in this book; unknown = 5
}
NO_CEILING_PRICE_POINTS = 15.0
FAR_KM = 1500.0
POINTS_PER_STAR = 5.0
LABELS = {
    "price": "price",
    "distance": "short distance",
    "stars": "OCOP stars",
    "share": "quantity covered",
    "record": "supplier's record",
}
_PRICE, _DISTANCE, _STARS, _SHARE, _RECORD = CRITERIA.values()


@cache
def province_km(origin: str, destination: str) -> float:
    """Distance between two province centres (34 x 34 pairs at most, so cached)."""
    return distance_km(province_by_code(origin), province_by_code(destination))


@cache
def _distance_row(destination: str) -> dict[str, float]:
    """Distance points from every origin to one delivery province, filled as origins appear."""
    return {}


def distance_points(origin: str, destination: str) -> float:
    row = _distance_row(destination)
    points = row.get(origin)
    if points is None:
        points = row[origin] = _DISTANCE * max(0.0, 1.0 - province_km(origin, destination) / FAR_KM)
    return points


class Scorer:
    """Scores offers for one demand and its open quantity at the start of an allocation."""

    __slots__ = ("_ceiling", "_demand", "_open", "_row", "_suppliers")

    def __init__(
        self, d: DemandTerms, open_kg: Decimal, suppliers: dict[str, SupplierRecord]
    ) -> None:
        self._demand = d
        self._ceiling = None if d.ceiling_per_kg is None else float(d.ceiling_per_kg)
        self._open = float(open_kg)
        self._suppliers = suppliers
        self._row = _distance_row(d.province)

    def parts(self, o: OfferTerms, quantity_kg: Decimal) -> tuple[float, ...]:
        """Unrounded points per criterion, in CRITERIA order."""
        d, ceiling = self._demand, self._ceiling
        if ceiling is None:
            price = NO_CEILING_PRICE_POINTS
        elif ceiling > 0:
            headroom = 2.0 * (ceiling - o.price_f) / ceiling
            price = _PRICE if headroom >= 1.0 else (_PRICE * headroom if headroom > 0 else 0.0)
        else:
            price = 0.0
        distance = self._row.get(o.origin)
        if distance is None:
            distance = distance_points(o.origin, d.province)
        above = stars_on_delivery(o, d) - d.min_stars if o.stars else 0
        stars = min(_STARS, POINTS_PER_STAR * above) if above > 0 else 0.0
        share = min(_SHARE, _SHARE * float(quantity_kg) / self._open) if self._open > 0 else 0.0
        supplier = self._suppliers.get(o.supplier_id)
        if supplier is None:
            record = _RECORD / 2
        else:  # Laplace-smoothed success rate: unknown suppliers start at the middle
            total = supplier.confirmed + supplier.lapsed + 2
            record = _RECORD * (supplier.confirmed + 1) / total
        return price, distance, stars, share, record

    def rank(self, o: OfferTerms, quantity_kg: Decimal) -> float:
        """The unrounded total, to order candidates."""
        price, distance, stars, share, record = self.parts(o, quantity_kg)
        return price + distance + stars + share + record

    def score(self, o: OfferTerms, quantity_kg: Decimal) -> tuple[float, dict[str, float]]:
        """Score and breakdown (parts rounded to 0.01; the score is their sum)."""
        breakdown = {
            name: round(value, 2)
            for name, value in zip(CRITERIA, self.parts(o, quantity_kg), strict=True)
        }
        return round(sum(breakdown.values()), 2), breakdown


def score(
    o: OfferTerms,
    d: DemandTerms,
    quantity_kg: Decimal,
    open_kg: Decimal,
    suppliers: dict[str, SupplierRecord] | SupplierRecord | None = None,
) -> tuple[float, dict[str, float]]:
    """Score one pair (a convenience over ``Scorer`` for a single offer)."""
    if isinstance(suppliers, SupplierRecord):
        suppliers = {o.supplier_id: suppliers}
    return Scorer(d, open_kg, suppliers or {}).score(o, quantity_kg)


_REASON_ITEMS = tuple((name, top, LABELS[name], f"{top:g}") for name, top in CRITERIA.items())


def reason(breakdown: dict[str, float]) -> str:
    """A short sentence naming the two strongest criteria (relative to their maximum); ties go
    to the criterion listed first (the position breaks them, so no key function is needed)."""
    order = sorted([(-breakdown[item[0]] / item[1], i) for i, item in enumerate(_REASON_ITEMS)])
    parts = []
    for _, i in order[:2]:
        name, _, label, top = _REASON_ITEMS[i]
        parts.append(f"{label} ({breakdown[name]:g}/{top})")
    return f"Strongest on {parts[0]} and {parts[1]}."
