"""A small trade-connection stream modelled on the seed article: provinces sell, Hải Phòng buys.

Province names are given as clerks type them: legacy (pre-2025) names, with and without
diacritics, with prefixes; quantities in tấn, tạ, yến and kg; prices per kg or per tạ.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from schemas.fields import VIETNAM
from services.common.figures import value_vnd

SLOT = timedelta(minutes=20)


def _window(today: date, start: int, end: int) -> dict[str, str]:
    return {"start": (today + timedelta(days=start)).isoformat(),
            "end": (today + timedelta(days=end)).isoformat()}  # fmt: skip


def offers(today: date) -> list[dict[str, Any]]:
    season = _window(today, 0, 90)
    return [
        {"supplier_id": "htx-ca-phe-dak-ha", "origin_province": "Tỉnh Kon Tum",
         "product": {"name": "Cà phê Robusta Đăk Hà", "category": "coffee", "ocop_stars": 4,
                     "ocop_rated_on": "2025-03-15", "certifications": ["VietGAP"]},
         "quantity": {"amount": "8", "unit": "tấn"}, "unit_price_vnd": 95_000,
         "available": season, "issues_vat_invoice": True, "max_deferred_payment_days": 30},
        {"supplier_id": "htx-arabica-son-la", "origin_province": "Son La",
         "product": {"name": "Cà phê Arabica Sơn La", "category": "cà phê", "ocop_stars": 3,
                     "ocop_rated_on": "2024-11-02"},
         "quantity": {"amount": "5", "unit": "tan"}, "unit_price_vnd": 120_000,
         "available": season},
        {"supplier_id": "htx-mien-dong-cao-bang", "origin_province": "Cao Bằng",
         "product": {"name": "Miến dong Cao Bằng", "category": "rice-noodles", "ocop_stars": 4,
                     "ocop_rated_on": "2025-06-20"},
         "quantity": {"amount": "30", "unit": "tạ"}, "unit_price_vnd": 85_000,
         "available": season, "has_traceability_stamps": True},
        {"supplier_id": "htx-vai-thieu-luc-ngan", "origin_province": "tinh bac giang",
         "product": {"name": "Vải thiều Lục Ngạn", "category": "fresh-fruit",
                     "certifications": ["GlobalG.A.P.", "VietGAP"]},
         "quantity": {"amount": "12", "unit": "tấn"}, "unit_price_vnd": 35_000,
         "available": _window(today, 0, 30), "lead_time_days": 2},
        {"supplier_id": "htx-nhan-long-hung-yen", "origin_province": "Hưng Yên",
         "product": {"name": "Nhãn lồng Hưng Yên", "category": "fresh-fruit", "ocop_stars": 3,
                     "ocop_rated_on": "2024-08-01"},
         "quantity": {"amount": "600", "unit": "yến"}, "unit_price_vnd": 4_500_000,
         "price_unit": "tạ", "available": _window(today, 0, 30)},
    ]  # fmt: skip


def demands(today: date) -> list[dict[str, Any]]:
    delivery = _window(today, 7, 30)
    return [
        {"buyer_id": "sieu-thi-hai-phong-3",
         "criteria": {"category": "coffee", "required_certifications": ["hữu cơ"]},
         "quantity": {"amount": "1", "unit": "tấn"}, "delivery_province": "Hải Phòng",
         "delivery_window": delivery, "requires_vat_invoice": True},
        {"buyer_id": "sieu-thi-hai-phong-1", "criteria": {"category": "coffee"},
         "quantity": {"amount": "3", "unit": "tấn"}, "max_unit_price_vnd": 100_000,
         "delivery_province": "TP. Hải Phòng", "delivery_window": delivery,
         "payment_terms_days": 30},
        {"buyer_id": "trung-tam-thuong-mai-hai-duong", "criteria": {"category": "fresh-fruit"},
         "quantity": {"amount": "50", "unit": "tạ"}, "max_unit_price_vnd": 40_000,
         "delivery_province": "Hải Dương", "delivery_window": delivery},
        {"buyer_id": "cho-dau-moi-hai-phong", "criteria": {"category": "Gạo, bún, miến, phở"},
         "quantity": {"amount": "2000", "unit": "kg"}, "max_unit_price_vnd": 90_000,
         "delivery_province": "Hai Phong", "delivery_window": delivery},
        {"buyer_id": "sieu-thi-hai-phong-2", "criteria": {"category": "coffee"},
         "quantity": {"amount": "10", "unit": "tấn"}, "delivery_province": "Hải Phòng",
         "delivery_window": delivery},
        {"buyer_id": "chuoi-cua-hang-hai-phong", "criteria": {"category": "fresh-fruit"},
         "quantity": {"amount": "200", "unit": "yến"}, "max_unit_price_vnd": 5_000_000,
         "price_unit": "tạ", "delivery_province": "Thành phố Hải Phòng",
         "delivery_window": delivery},
    ]  # fmt: skip


ORGANIZER = "so-cong-thuong-hai-phong"


def organizations() -> list[dict[str, Any]]:
    """The organizer, the suppliers of ``offers`` and the buyers of ``demands``."""
    return [
        {"org_id": ORGANIZER, "name": "Sở Công Thương Hải Phòng", "kind": "organizer",
         "province": "Hải Phòng"},
        {"org_id": "htx-ca-phe-dak-ha", "name": "HTX Cà phê Đăk Hà", "kind": "cooperative",
         "province": "Kon Tum"},
        {"org_id": "htx-arabica-son-la", "name": "HTX Cà phê Arabica Sơn La",
         "kind": "cooperative", "province": "Sơn La"},
        {"org_id": "htx-mien-dong-cao-bang", "name": "HTX Miến dong Cao Bằng",
         "kind": "cooperative", "province": "Cao Bằng"},
        {"org_id": "htx-vai-thieu-luc-ngan", "name": "HTX Vải thiều Lục Ngạn",
         "kind": "cooperative", "province": "Bắc Giang"},
        {"org_id": "htx-nhan-long-hung-yen", "name": "HTX Nhãn lồng Hưng Yên",
         "kind": "cooperative", "province": "Hưng Yên"},
        {"org_id": "sieu-thi-hai-phong-1", "name": "Siêu thị Hải Phòng 1",
         "kind": "supermarket-chain", "province": "Hải Phòng"},
        {"org_id": "sieu-thi-hai-phong-2", "name": "Siêu thị Hải Phòng 2",
         "kind": "supermarket-chain", "province": "Hải Phòng"},
        {"org_id": "sieu-thi-hai-phong-3", "name": "Siêu thị Hải Phòng 3",
         "kind": "supermarket-chain", "province": "Hải Phòng"},
        {"org_id": "trung-tam-thuong-mai-hai-duong", "name": "Trung tâm Thương mại Hải Dương",
         "kind": "trade-centre", "province": "Hải Dương"},
        {"org_id": "cho-dau-moi-hai-phong", "name": "Chợ đầu mối Hải Phòng",
         "kind": "wholesale-market", "province": "Hải Phòng"},
        {"org_id": "chuoi-cua-hang-hai-phong", "name": "Chuỗi cửa hàng nông sản Hải Phòng",
         "kind": "retailer", "province": "Hải Phòng"},
    ]  # fmt: skip


def session(today: date) -> dict[str, Any]:
    return {
        "name": "Hội nghị kết nối cung cầu Hải Phòng và các tỉnh",
        "host_province": "Hải Phòng",
        "dates": _window(today, 0, 1),
        "venue": "Trung tâm Hội nghị Thành phố",
        "invited_provinces": ["Kon Tum", "Sơn La", "Cao Bằng", "Bắc Giang", "Hưng Yên"],
        "organizer_id": ORGANIZER,
    }


def meeting_plan(today: date) -> dict[str, Any]:
    """Four 20-minute slots from 09:00 (Vietnam time) on the session's first day, four tables."""
    start = datetime.combine(today, time(9, 0), tzinfo=VIETNAM)
    slots = [
        {"start": (start + i * SLOT).isoformat(), "end": (start + (i + 1) * SLOT).isoformat()}
        for i in range(4)
    ]
    return {"slots": slots, "tables": 4}


def contract(match: dict[str, Any], today: date) -> dict[str, Any]:
    """The contract a confirmed match becomes: its quantity at its price, delivered next month."""
    kg = int(match["quantity_kg"])
    value = value_vnd(kg, match["unit_price_vnd"], match["price_unit"])
    return {
        "kind": "contract",
        "volume": {"amount": str(kg), "unit": "kg"},
        "value_vnd": value,
        "delivery": _window(today, 7, 37),
    }
