"""Valid request bodies and entities for tests; override only what a test is about."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from schemas.orders import Demand, Offer

TODAY = date(2026, 11, 27)


def window(start: int = 0, end: int = 60) -> dict[str, str]:
    return {
        "start": (TODAY + timedelta(days=start)).isoformat(),
        "end": (TODAY + timedelta(days=end)).isoformat(),
    }


def offer_body(
    amount: str = "8",
    unit: str = "tấn",
    category: str = "fresh-fruit",
    price: int = 50_000,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "supplier_id": "htx-luc-ngan",
        "origin_province": "Bắc Giang",
        "product": {"name": "Vải thiều Lục Ngạn", "category": category},
        "quantity": {"amount": amount, "unit": unit},
        "unit_price_vnd": price,
        "available": window(),
    }
    return {**body, **overrides}


def demand_body(
    amount: str = "3",
    unit: str = "tấn",
    category: str = "fresh-fruit",
    ceiling: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "buyer_id": "sieu-thi-hai-phong",
        "criteria": {"category": category},
        "quantity": {"amount": amount, "unit": unit},
        "max_unit_price_vnd": ceiling,
        "delivery_province": "Hải Phòng",
        "delivery_window": window(7, 30),
    }
    return {**body, **overrides}


def offer(offer_id: str, amount: str = "8", unit: str = "tấn", **kw: Any) -> Offer:
    body = offer_body(amount, unit, **kw)
    return Offer.model_validate({**body, "offer_id": offer_id, "supplier_id": f"s-{offer_id}"})


def demand(demand_id: str, amount: str = "3", unit: str = "tấn", **kw: Any) -> Demand:
    body = demand_body(amount, unit, **kw)
    return Demand.model_validate({**body, "demand_id": demand_id, "buyer_id": f"b-{demand_id}"})
