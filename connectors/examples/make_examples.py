"""Writes the example files of ``connectors/examples/`` (seeded: the same files every time).

- ``ocop-kon-tum.xlsx``: a provincial OCOP catalogue as a Department keeps it (Kon Tum, merged
  into Quảng Ngãi in 2025, so the legacy name): a merged title row, a grouped two-row header,
  the "(1) (2) (3)" numbering row, 220 products from 12 cooperatives in kg, tấn, bao and chai
  (with their "Quy cách"), a totals row, and six deliberately bad rows (``BAD_ROWS``).
- ``ke-hoach-mua-sieu-thi.csv``: a supermarket's monthly purchase plan, exported by Excel on a
  Vietnamese Windows (Windows-1258, ";" separated, dd/mm/yyyy dates, "1.500" thousands).
- ``suppliers.json``: the cooperatives of the catalogue, to register before importing.

Run ``python -m connectors.examples.make_examples`` after changing this file.
"""

from __future__ import annotations

import csv
import io
import json
import random
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).parent
CATALOGUE = HERE / "ocop-kon-tum.xlsx"
PLAN = HERE / "ke-hoach-mua-sieu-thi.csv"
SUPPLIERS = HERE / "suppliers.json"
PRODUCTS = 220
BAD_ROWS = {
    7: "bao without a Quy cách",
    31: "price 'Liên hệ'",
    58: "unknown province",
    103: "the key of the row above it, again",
    150: "no quantity",
}
"""Product index (0-based) -> what is wrong with it."""

SUPPLIER_NAMES = [
    ("htx-dak-ha", "HTX Nông nghiệp Đăk Hà"), ("htx-ngoc-linh", "HTX Sâm Ngọc Linh Tu Mơ Rông"),
    ("htx-mang-den", "HTX Măng Đen Kon Plông"), ("htx-dak-to", "HTX Cà phê Đăk Tô"),
    ("htx-sa-thay", "HTX Mật ong Sa Thầy"), ("htx-ngoc-hoi", "HTX Ngọc Hồi"),
    ("htx-kon-ray", "HTX Kon Rẫy"), ("htx-dak-glei", "HTX Đăk Glei"),
    ("dn-ia-hdrai", "Công ty TNHH Ia H'Drai"), ("htx-tu-mo-rong", "HTX Tu Mơ Rông"),
    ("ho-y-ngoc", "Hộ kinh doanh Y Ngọc"), ("htx-kon-tum", "HTX Dịch vụ Kon Tum"),
]  # fmt: skip
# (name, group, category, unit, pack, price per unit, quantity range)
LINES = [
    ("Cà phê Robusta {p} rang xay", "Thực phẩm", "Cà phê", "kg", "", 180_000, (200, 3000)),
    ("Cà phê nhân {p}", "Thực phẩm", "cà phê", "tấn", "", 95_000_000, (2, 40)),
    ("Sâm dây Ngọc Linh {p}", "Thảo dược", "Sâm", "kg", "", 2_400_000, (5, 60)),
    ("Mật ong rừng {p}", "Thực phẩm", "Mật ong", "chai", "chai 0,5 kg", 160_000, (100, 2000)),
    ("Măng le khô {p}", "Thực phẩm", "Nông sản khô", "kg", "", 420_000, (50, 800)),
    ("Gạo nếp Đăk Hà {p}", "Thực phẩm", "Gạo", "bao", "bao 25 kg", 650_000, (40, 600)),
    ("Hạt mắc ca {p}", "Thực phẩm", "Các loại hạt", "kg", "", 260_000, (100, 1500)),
    ("Chanh dây {p}", "Thực phẩm", "Trái cây tươi", "tạ", "", 1_800_000, (10, 200)),
    ("Tiêu đen {p}", "Thực phẩm", "Gia vị", "kg", "", 150_000, (200, 4000)),
    ("Rượu cần {p}", "Đồ uống", "Rượu", "chai", "chai 1 kg", 220_000, (50, 900)),
]
PLACES = ["Đăk Hà", "Măng Đen", "Ngọc Linh", "Kon Plông", "Đăk Tô", "Sa Thầy", "Ngọc Hồi",
          "Kon Rẫy", "Tu Mơ Rông", "Đăk Glei", "Ia H'Drai"]  # fmt: skip
PROVINCE_SPELLINGS = ["Kon Tum", "tỉnh Kon Tum", "Kon Tum", "KON TUM", "Kontum", "Quảng Ngãi"]


def catalogue_rows(
    seed: int = 7, count: int = PRODUCTS, *, spoiled: bool = True
) -> list[list[object]]:
    """The catalogue's rows (``spoiled``: with the deliberate problems of ``BAD_ROWS``)."""
    rng = random.Random(seed)
    rows = []
    width = max(4, len(str(count)))
    for index in range(count):
        name, group, category, unit, pack, price, (low, high) = LINES[index % len(LINES)]
        supplier_id, supplier = SUPPLIER_NAMES[index % len(SUPPLIER_NAMES)]
        stars = rng.choice([3, 3, 3, 4, 4, 5])
        start = date(2026, 12, 1) + timedelta(days=rng.randrange(0, 20))
        row: list[object] = [
            index + 1, f"KT-{index + 1:0{width}d}", name.format(p=PLACES[index % len(PLACES)]),
            group, category, f"{stars} sao", date(2024, rng.randrange(1, 13), 15),
            supplier, supplier_id, rng.choice(PROVINCE_SPELLINGS),
            rng.randrange(low, high), unit, pack, f"{price:,}".replace(",", "."),
            start, start + timedelta(days=rng.choice([30, 60, 90])), "",
        ]  # fmt: skip
        rows.append(row)
    if not spoiled:
        return rows
    bad = {
        7: lambda r: r.__setitem__(12, ""),  # bao, no Quy cách
        31: lambda r: r.__setitem__(13, "Liên hệ"),
        58: lambda r: r.__setitem__(9, "Atlantis"),
        103: lambda r: r.__setitem__(1, rows[102][1]),
        150: lambda r: r.__setitem__(10, ""),
    }
    for index, spoil in bad.items():
        rows[index][11] = "bao" if index == 7 else rows[index][11]
        spoil(rows[index])
        rows[index][16] = "(lỗi cố ý)"  # a note, as a person marks a row
    return rows


HEADER_GROUPS = [("STT", 1), ("Sản phẩm", 6), ("Chủ thể", 3), ("Cung ứng", 3), ("Giá", 1),
                 ("Thời gian cung ứng", 2), ("Ghi chú", 1)]  # fmt: skip
HEADERS = ["STT", "Mã SP", "Tên sản phẩm", "Nhóm", "Ngành hàng", "Hạng sao", "Ngày công nhận",
           "Tên chủ thể", "Mã chủ thể", "Tỉnh", "Số lượng", "ĐVT", "Quy cách",
           "Giá bán buôn (đ/ĐVT)", "Từ ngày", "Đến ngày", "Ghi chú"]  # fmt: skip


def write_catalogue(path: Path = CATALOGUE) -> None:
    book = xlsxwriter.Workbook(str(path))
    page = book.add_worksheet("Danh mục OCOP")
    title = book.add_format({"bold": True, "align": "center", "font_size": 14})
    head = book.add_format({"bold": True, "align": "center", "border": 1, "text_wrap": True})
    day = book.add_format({"num_format": "dd/mm/yyyy"})
    width = len(HEADERS)
    page.merge_range(0, 0, 0, width - 1, "DANH MỤC SẢN PHẨM OCOP TỈNH KON TUM NĂM 2026", title)
    page.merge_range(1, 0, 1, width - 1, "(Kèm theo Kế hoạch kết nối cung cầu của Sở Công Thương)")
    column = 0
    for text, span in HEADER_GROUPS:  # row 4 groups, row 5 names; single columns span both
        if span == 1:
            page.merge_range(3, column, 4, column, HEADERS[column], head)
        else:
            page.merge_range(3, column, 3, column + span - 1, text, head)
            for offset in range(span):
                page.write(4, column + offset, HEADERS[column + offset], head)
        column += span
    page.write_row(5, 0, [f"({i + 1})" for i in range(width)])
    for number, row in enumerate(catalogue_rows()):
        for col, value in enumerate(row):
            if isinstance(value, date):
                page.write_datetime(6 + number, col, value, day)
            else:
                page.write(6 + number, col, value)
    page.write(6 + PRODUCTS, 0, "Tổng cộng")
    page.write(6 + PRODUCTS, 10, f"{PRODUCTS} sản phẩm")
    page.set_column(0, width - 1, 16)
    book.close()


PLAN_HEADERS = [
    "Mã hàng",
    "Tên hàng",
    "Ngành hàng",
    "Hạng sao tối thiểu",
    "Số lượng",
    "ĐVT",
    "Giá mua tối đa (đ/kg)",
    "Nơi giao",
    "Từ ngày",
    "Đến ngày",
    "Công nợ (ngày)",
]


def plan_rows(seed: int = 11) -> list[list[str]]:
    rng = random.Random(seed)
    wanted = [("Cà phê rang xay", "Cà phê", "kg", 170_000), ("Mật ong rừng", "Mật ong", "kg",
              330_000), ("Gạo nếp", "Gạo, bún, miến, phở", "tấn", 28_000),
              ("Hạt mắc ca", "Các loại hạt", "kg", 250_000), ("Tiêu đen", "Gia vị", "kg",
              160_000), ("Măng khô", "Nông sản khô, sấy", "tạ", 430_000)]  # fmt: skip
    rows = []
    for index in range(24):
        name, category, unit, ceiling = wanted[index % len(wanted)]
        start = date(2026, 12, 5) + timedelta(days=7 * (index // len(wanted)))
        amount = rng.randrange(500, 5000) if unit == "kg" else rng.randrange(2, 30)
        rows.append([
            f"CM-{index + 1:03d}", name, category, str(rng.choice([0, 3, 4])),
            f"{amount:,}".replace(",", "."), unit, f"{ceiling:,}".replace(",", "."),
            rng.choice(["TP. Hồ Chí Minh", "TP.HCM", "Bình Dương", "Đồng Nai"]),
            start.strftime("%d/%m/%Y"), (start + timedelta(days=6)).strftime("%d/%m/%Y"),
            str(rng.choice([0, 15, 30])),
        ])  # fmt: skip
    return rows


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Vietnamese as Windows-1258 holds it: letters with their shape marks precomposed (â, ơ,
    ư, đ ...), the five tone marks as combining characters after them."""
    out = []
    for char in unicodedata.normalize("NFD", text):
        if char in _TONES or not out or not unicodedata.combining(char):
            out.append(char)
        else:  # a shape mark: compose it with its letter (tones sorted before it stay after)
            base = len(out) - 1
            while base > 0 and out[base] in _TONES:
                base -= 1
            out[base] = unicodedata.normalize("NFC", out[base] + char)
    return "".join(out).encode("cp1258")


def write_plan(path: Path = PLAN) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["KẾ HOẠCH MUA HÀNG THÁNG 12/2026 - SIÊU THỊ CO.OP"])
    writer.writerow([])
    writer.writerow(PLAN_HEADERS)
    writer.writerows(plan_rows())
    path.write_bytes(to_cp1258(buffer.getvalue()))


def write_suppliers(path: Path = SUPPLIERS) -> None:
    orgs = [{"org_id": org_id, "name": name, "kind": "household" if org_id.startswith("ho-")
             else "enterprise" if org_id.startswith("dn-") else "cooperative",
             "province": "Kon Tum"} for org_id, name in SUPPLIER_NAMES]  # fmt: skip
    path.write_text(json.dumps(orgs, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_plain_catalogue(path: Path, rows: list[list[object]]) -> None:
    """A header and rows, streamed to disk (xlsxwriter's constant memory): the benchmark's
    50,000-row catalogue."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    page = book.add_worksheet("Danh mục OCOP")
    day = book.add_format({"num_format": "dd/mm/yyyy"})
    page.write_row(0, 0, HEADERS)
    for number, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, date):
                page.write_datetime(number, col, value, day)
            else:
                page.write(number, col, value)
    book.close()


if __name__ == "__main__":
    write_catalogue()
    write_plan()
    write_suppliers()
    for path in (CATALOGUE, PLAN, SUPPLIERS):
        print(f"wrote {path}")
