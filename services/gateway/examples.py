"""Request examples for /docs ("Try it out" works as is) and for schemathesis' examples phase,
which then drives the accepted (202) paths, not only the refusals."""

from __future__ import annotations

from typing import Any

OFFER: dict[str, Any] = {
    "supplier_id": "htx-dak-ha",
    "product": {
        "name": "Cà phê Robusta Đăk Hà",
        "category": "cà phê",
        "ocop_stars": 4,
        "ocop_rated_on": "2025-03-01",
        "certifications": ["VietGAP"],
    },
    "origin_province": "Tỉnh Kon Tum",
    "quantity": {"amount": "8", "unit": "tấn"},
    "unit_price_vnd": 95_000,
    "price_unit": "kg",
    "min_order": {"amount": "5", "unit": "tạ"},
    "available": {"start": "2026-12-01", "end": "2027-02-28"},
    "lead_time_days": 3,
    "max_deferred_payment_days": 30,
    "issues_vat_invoice": True,
    "has_traceability_stamps": True,
}

DEMAND: dict[str, Any] = {
    "buyer_id": "sieu-thi-hai-phong",
    "criteria": {"category": "coffee", "min_ocop_stars": 3},
    "quantity": {"amount": "20", "unit": "tạ"},
    "max_unit_price_vnd": 100_000,
    "price_unit": "kg",
    "delivery_province": "Hải Phòng",
    "delivery_window": {"start": "2026-12-10", "end": "2027-01-15"},
    "payment_terms_days": 30,
    "requires_vat_invoice": True,
}

SESSION: dict[str, Any] = {
    "name": "Hội nghị kết nối cung cầu Hải Phòng - Kon Tum",
    "host_province": "TP. Hải Phòng",
    "dates": {"start": "2026-12-05", "end": "2026-12-06"},
    "venue": "Trung tâm Hội nghị thành phố",
    "invited_provinces": ["Quảng Ngãi", "Cao Bằng", "Sơn La"],
}

SESSION_IN_ROUNDS: dict[str, Any] = {**SESSION, "scope": "session", "clearing": "rounds"}
"""A session whose orders match only each other, in clearing rounds (POST .../rounds)."""

PARTICIPANT: dict[str, Any] = {"org_id": "htx-dak-ha", "party": "supplier"}

ORGANIZATION: dict[str, Any] = {
    "org_id": "htx-dak-ha",
    "name": "HTX Nông nghiệp Đăk Hà",
    "kind": "cooperative",
    "province": "Kon Tum",
    "tax_code": "6101234567",
}


def one(summary: str, value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"example": {"summary": summary, "value": value}}
