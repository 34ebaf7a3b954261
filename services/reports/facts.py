"""The definitions a report takes from the rest of the platform, in one place: a match's status,
value and session and an order's open quantity (``services/common/figures.py``), what both
parties of a meeting agreed and what one side claims (``services/programme/outcomes.py``), and
when an OCOP rating still holds (``schemas/products.py``). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from schemas.products import OCOP_RATING_VALID_MONTHS, add_months
from services.common import figures
from services.common.figures import OrderFigures, kg
from services.programme.outcomes import agreement, delivery_agreement, is_deal

Doc = Mapping[str, Any]
DEAL_KINDS = ("mou", "contract")
__all__ = ["OrderFigures", "kg"]


def match_state(match: Doc) -> str:
    """proposed | accepted (by one side) | confirmed | declined | expired | released."""
    return figures.match_status_of(match)


def match_value_vnd(match: Doc) -> int:
    return figures.value_vnd(
        float(match.get("quantity_kg") or 0), match.get("unit_price_vnd"), match.get("price_unit")
    )


def session_of_match(match: Doc, demands: Mapping[str, Doc], offers: Mapping[str, Doc]) -> Any:
    """A match belongs to its demand's session (the buyer came to it), else its offer's."""
    demand = demands.get(str(match.get("demand_id"))) or {}
    offer = offers.get(str(match.get("offer_id"))) or {}
    return figures.match_session(demand.get("session_id"), offer.get("session_id"))


def order_figures(order: Doc, matches: Iterable[Doc]) -> OrderFigures:
    """Reserved, confirmed and open kilograms of an offer or a demand, from all its matches."""
    return figures.order_figures_of(order, matches)


def ocop_stars_on(product: Doc, day: date | None) -> int:
    """Stars still valid on ``day`` (a rating lapses 36 months after it was given)."""
    stars = product.get("ocop_stars") or 0
    if not isinstance(stars, int) or isinstance(stars, bool) or stars <= 0:
        return 0
    try:
        rated_on = date.fromisoformat(str(product.get("ocop_rated_on"))[:10])
    except ValueError:
        return 0
    if day is not None and day >= add_months(rated_on, OCOP_RATING_VALID_MONTHS):
        return 0
    return stars


def _statements(doc: Doc | None) -> dict[str, Doc]:
    found = (doc or {}).get("statements") or {}
    return {p: s for p in ("buyer", "supplier") if isinstance(s := found.get(p), Mapping)}


def has_statement(outcome: Doc | None) -> bool:
    """Whether either party recorded the meeting's outcome (the meeting was held)."""
    return bool(_statements(outcome))


def deal_of(outcome: Doc) -> tuple[str, bool, float, int] | None:
    """(kind, agreed by both, kg, VND) of an outcome that states an MoU or a contract; None
    for "no deal" or no statement. Not agreed: a claim, at the larger of the deal claims, so
    a dispute counts once and never smaller than either side says."""
    statements = _statements(outcome)
    settled = agreement(statements)
    if settled.agreed is not None:
        if not is_deal(settled.agreed):
            return None
        terms = settled.agreed
        return str(terms["kind"]), True, _kg(terms.get("volume_kg")), _vnd(terms.get("value_vnd"))
    claims = [statements[p] for p in settled.claimed_by if statements[p].get("kind") in DEAL_KINDS]
    if not claims:
        return None
    top = max(claims, key=lambda s: (_kg(s.get("volume_kg")), _vnd(s.get("value_vnd"))))
    return str(top["kind"]), False, _kg(top.get("volume_kg")), _vnd(top.get("value_vnd"))


def delivery_of(delivery: Doc) -> tuple[bool, float, int] | None:
    """(confirmed by both sides, kg, VND) of a delivery; None when nobody stated it. Not
    confirmed: the larger of the claims."""
    statements = _statements(delivery)
    if not statements:
        return None
    settled = delivery_agreement(statements)
    if settled.agreed is not None:
        terms = settled.agreed
        return True, _kg(terms.get("quantity_kg")), _vnd(terms.get("value_vnd"))
    claims = [(_kg(s.get("quantity_kg")), _vnd(s.get("value_vnd"))) for s in statements.values()]
    volume, value = max(claims)
    return False, volume, value


def _kg(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _vnd(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
