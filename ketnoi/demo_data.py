"""A small trade-connection stream modelled on the seed article: provinces sell, Hải Phòng buys.

Province names are given as clerks type them: legacy (pre-2025) names, with and without
diacritics, with prefixes; quantities in tấn, tạ, yến and kg.
"""

from __future__ import annotations

from typing import Any

OFFERS: list[dict[str, Any]] = [
    {"supplier_id": "htx-ca-phe-dak-ha", "product_name": "Cà phê Robusta Đăk Hà",
     "category": "coffee", "origin_province": "Tỉnh Kon Tum",
     "quantity": {"amount": "8", "unit": "tấn"}, "unit_price_vnd": 95_000},
    {"supplier_id": "htx-arabica-son-la", "product_name": "Cà phê Arabica Sơn La",
     "category": "cà phê", "origin_province": "Son La",
     "quantity": {"amount": "5", "unit": "tan"}, "unit_price_vnd": 120_000},
    {"supplier_id": "htx-mien-dong-cao-bang", "product_name": "Miến dong Cao Bằng",
     "category": "rice-noodles", "origin_province": "Cao Bằng",
     "quantity": {"amount": "30", "unit": "tạ"}, "unit_price_vnd": 85_000},
    {"supplier_id": "htx-vai-thieu-luc-ngan", "product_name": "Vải thiều Lục Ngạn",
     "category": "fresh-fruit", "origin_province": "tinh bac giang",
     "quantity": {"amount": "12", "unit": "tấn"}, "unit_price_vnd": 35_000},
    {"supplier_id": "htx-nhan-long-hung-yen", "product_name": "Nhãn lồng Hưng Yên",
     "category": "fresh-fruit", "origin_province": "Hưng Yên",
     "quantity": {"amount": "600", "unit": "yến"}, "unit_price_vnd": 4_500_000,
     "price_unit": "tạ"},
]  # fmt: skip

DEMANDS: list[dict[str, Any]] = [
    {"buyer_id": "sieu-thi-hai-phong-1", "category": "coffee",
     "quantity": {"amount": "3", "unit": "tấn"}, "max_unit_price_vnd": 100_000,
     "delivery_province": "TP. Hải Phòng"},
    {"buyer_id": "trung-tam-thuong-mai-hai-duong", "category": "fresh-fruit",
     "quantity": {"amount": "50", "unit": "tạ"}, "max_unit_price_vnd": 40_000,
     "delivery_province": "Hải Dương"},
    {"buyer_id": "cho-dau-moi-hai-phong", "category": "Gạo, bún, miến, phở",
     "quantity": {"amount": "2000", "unit": "kg"}, "max_unit_price_vnd": 90_000,
     "delivery_province": "Hai Phong"},
    {"buyer_id": "sieu-thi-hai-phong-2", "category": "coffee",
     "quantity": {"amount": "10", "unit": "tấn"}, "delivery_province": "Hải Phòng"},
    {"buyer_id": "chuoi-cua-hang-hai-phong", "category": "fresh-fruit",
     "quantity": {"amount": "200", "unit": "yến"}, "max_unit_price_vnd": 5_000_000,
     "price_unit": "tạ", "delivery_province": "Thành phố Hải Phòng"},
]  # fmt: skip
