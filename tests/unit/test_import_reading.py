"""Spreadsheet import, reading side: headers as people write them, encodings, title rows and
merged headers, Vietnamese numbers and packages, and the result file's round trip."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from rich.console import Console

from connectors.examples import make_examples
from connectors.spreadsheet import cells
from connectors.spreadsheet.cells import CellError
from connectors.spreadsheet.columns import OFFER_COLUMNS, map_columns
from connectors.spreadsheet.importer import Importer, Options, source_name
from connectors.spreadsheet.reading import UnreadableFile, read_sheet
from connectors.spreadsheet.results import write_result
from connectors.spreadsheet.rows import Defaults, Row
from schemas.orders import OfferSubmission

HEADER = ["Mã SP", "Tên sản phẩm", "Ngành hàng", "Hạng sao", "Tỉnh", "Số lượng", "ĐVT",
          "Giá (đ/kg)", "Từ ngày", "Đến ngày", "Mã chủ thể", "Ngày công nhận"]  # fmt: skip
ROW = ["CF-1", "Cà phê Robusta Đăk Hà", "Cà phê", "4 sao", "Kon Tum", "1.500", "kg", "180.000",
       "01/12/2026", "31/12/2026", "htx-dak-ha", "15/03/2025"]  # fmt: skip
ASCII_HEADER = ["ma sp", "TEN SAN PHAM", "nganh hang", "Hang sao", "tinh", "so luong", "dvt",
                "gia (d/kg)", "tu ngay", "den ngay", "ma chu the", "NGAY CONG NHAN"]  # fmt: skip


def read(path: Path, kind: str = "offers", **defaults: object) -> list[Row]:
    options = Options(kind=kind, path=path, defaults=Defaults(**defaults), show_progress=False)  # type: ignore[arg-type]
    _, rows = Importer(options, None, Console(quiet=True)).read()  # type: ignore[arg-type]
    return rows


def write_csv(path: Path, rows: list[list[str]], encoding: str, sep: str = ",") -> Path:
    text = "\r\n".join(sep.join(row) for row in rows) + "\r\n"
    path.write_bytes(
        make_examples.to_cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    )
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    page = book.add_worksheet()
    for r, row in enumerate(rows):
        page.write_row(r, 0, row)
    book.close()
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1258"])
@pytest.mark.parametrize("sep", [",", ";"])
def test_csv_in_every_encoding_and_separator_reads_the_same(tmp_path, encoding, sep):
    path = write_csv(tmp_path / "plan.csv", [HEADER, ROW], encoding, sep)
    [row] = read(path)
    assert row.ok, row.problems
    assert row.body["product"]["name"] == "Cà phê Robusta Đăk Hà"  # NFC again after cp1258
    assert row.body["quantity"] == {"amount": "1500", "unit": "kg"}
    offer = OfferSubmission.model_validate(row.body)  # what the gateway will check again
    assert offer.origin_province.legacy_name == "Kon Tum" and offer.product.category == "coffee"
    assert row.key == "CF-1"


def test_headers_without_diacritics_or_in_capitals_map_the_same(tmp_path):
    plain = read(write_csv(tmp_path / "a.csv", [HEADER, ROW], "utf-8"))
    folded = read(write_csv(tmp_path / "b.csv", [ASCII_HEADER, ROW], "utf-8"))
    assert plain[0].body == folded[0].body and plain[0].fingerprint == folded[0].fingerprint


def test_a_title_row_and_a_merged_group_header_above_are_found(tmp_path):
    path = tmp_path / "catalogue.xlsx"
    book = xlsxwriter.Workbook(str(path))
    page = book.add_worksheet()
    page.merge_range(0, 0, 0, 5, "DANH MỤC SẢN PHẨM OCOP")
    page.merge_range(2, 0, 3, 0, "Mã SP")  # over two rows
    page.merge_range(2, 1, 2, 2, "Sản phẩm")  # a group over "Tên" and "Ngành hàng"
    page.write_row(3, 1, ["Tên", "Ngành hàng", "Số lượng", "ĐVT", "Giá (đ/kg)"])
    page.write_row(4, 0, ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"])
    page.write_row(5, 0, ["CF-1", "Cà phê", "coffee", 12.5, "tấn", 95000])
    page.write_row(6, 0, ["Tổng cộng", "", "", 12.5])
    book.close()
    rows = read(path, party_id="htx-a", province="Kon Tum",
                start=date(2026, 12, 1), end=date(2026, 12, 31))  # fmt: skip
    assert [r.number for r in rows] == [6]  # numbering and totals rows skipped
    [row] = rows
    assert row.ok, row.problems
    assert row.body["quantity"] == {"amount": "12.5", "unit": "tan"}
    assert row.key == "CF-1"


def test_a_users_column_map_wins_over_the_declared_one():
    mapped = map_columns(["Sản lượng (tấn)", "Số lượng"], OFFER_COLUMNS,
                         overrides={"quantity": "Sản lượng (tấn)"})  # fmt: skip
    assert mapped.fields == {"quantity": 0}
    assert mapped.unknown == ["Số lượng"]


def test_without_a_header_the_error_says_how_to_name_columns(tmp_path):
    path = write_csv(tmp_path / "x.csv", [["a", "b"], ["1", "2"]], "utf-8")
    with pytest.raises(UnreadableFile, match="--column field=Header"):
        read(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.500", "1500"), ("1.500.000 đ", "1500000"), ("12,5", "12.5"), ("1,500.25", "1500.25"),
     ("1.500,25", "1500.25"), ("0.5", "0.5"), (12.0, "12"), (7, "7"), ("25.000 VNĐ", "25000")],
)  # fmt: skip
def test_vietnamese_and_english_number_notations(text, expected):
    assert cells.number(text, "x") == Decimal(expected)


def test_text_that_is_not_a_number_names_the_column():
    with pytest.raises(CellError, match="Giá: 'Liên hệ' is not a number"):
        cells.number("Liên hệ", "Giá")


@pytest.mark.parametrize(
    ("text", "unit", "kg"),
    [("bao 50 kg", "bao", "50"), ("Bao: 25kg", "bao", "25"), ("24 kg/thùng", "thung", "24"),
     ("chai 0,5 kg", "chai", "0.5"), ("két 20 kg", "ket", "20"), ("500 g", None, "0.5"),
     ("sọt 30 kg", "sot", "30"), ("bì 10 kg", "bi", "10")],
)  # fmt: skip
def test_package_declarations(text, unit, kg):
    package, weight = cells.pack(text, "Quy cách")
    assert (package.code if package else None) == unit and weight == Decimal(kg)


def test_sacks_become_kilograms_and_their_price_a_price_per_kg(tmp_path):
    header = ["Tên sản phẩm", "Ngành hàng", "Số lượng", "ĐVT", "Quy cách", "Giá (đ/bao)"]
    path = write_csv(tmp_path / "rice.csv", [header,
                     ["Gạo nếp", "gạo", "20", "bao", "bao 50 kg", "650.000"]], "utf-8")  # fmt: skip
    [row] = read(path, party_id="htx-a", province="Kon Tum", start=date(2026, 12, 1),
                 end=date(2026, 12, 31))  # fmt: skip
    assert row.ok, row.problems
    assert row.body["quantity"] == {"amount": "1000", "unit": "kg"}
    assert (row.body["unit_price_vnd"], row.body["price_unit"]) == (13000, "kg")


def test_a_sack_without_a_declared_weight_is_refused_with_how_to_declare_it(tmp_path):
    header = ["Tên sản phẩm", "Ngành hàng", "Số lượng", "ĐVT", "Giá (đ/kg)"]
    path = write_csv(tmp_path / "rice.csv", [header, ["Gạo", "gạo", "20", "bao", "13000"]],
                     "utf-8")  # fmt: skip
    [row] = read(path, party_id="htx-a", province="Kon Tum", start=date(2026, 12, 1),
                 end=date(2026, 12, 31))  # fmt: skip
    assert not row.ok
    [problem] = row.problems
    assert "'bao' is a package (sack)" in problem and "Quy cách" in problem
    assert "hộp" not in problem  # it once answered "did you mean 'hộp'?"
    # the file-wide declaration is the other way
    [fixed] = read(path, party_id="htx-a", province="Kon Tum", start=date(2026, 12, 1),
                   end=date(2026, 12, 31), pack="bao 50 kg")  # fmt: skip
    assert fixed.ok and fixed.body["quantity"]["amount"] == "1000"


def test_contract_problems_are_named_by_their_column(tmp_path):
    bad = list(ROW)
    bad[4] = "Atlantis"
    bad[2] = "đồ chơi"
    [row] = read(write_csv(tmp_path / "x.csv", [HEADER, bad], "utf-8"))
    text = " | ".join(row.problems)
    assert "Tỉnh: unknown province 'Atlantis'" in text
    assert text.count("Ngành hàng:") == 1


def test_a_rule_across_fields_is_named_by_the_column_it_asks_for(tmp_path):
    header, row = HEADER[:-1], ROW[:-1]  # stars without the date of the rating
    [refused] = read(write_csv(tmp_path / "x.csv", [header, row], "utf-8"))
    [problem] = refused.problems
    assert problem.startswith("product.ocop_rated_on: ocop_rated_on is required")
    assert "no column for it" in problem


def test_example_catalogue_reads_with_exactly_its_deliberate_problems():
    rows = read(make_examples.CATALOGUE)
    assert len(rows) == make_examples.PRODUCTS
    refused = {r.number - 7 for r in rows if not r.ok}  # data starts on sheet row 7
    assert refused == set(make_examples.BAD_ROWS)


def test_the_result_file_round_trip_keeps_rows_and_adds_the_problem_column(tmp_path):
    source = tmp_path / "catalogue.xlsx"
    source.write_bytes(make_examples.CATALOGUE.read_bytes())
    sheet = read_sheet(source)
    options = Options(kind="offers", path=source, show_progress=False)
    importer = Importer(options, None, Console(quiet=True))  # type: ignore[arg-type]
    sheet, rows = importer.read()
    problems = {r.number: "; ".join(r.problems) for r in rows if not r.ok}
    result = write_result(sheet, problems, tmp_path / "catalogue.result.xlsx")
    page = CalamineWorkbook.from_path(str(result)).get_sheet_by_index(0)
    written = list(page.iter_rows())
    header = [str(c) for c in written[sheet.header_row]]
    assert header[-1] == "problem"
    flagged = {i + 1: r[-1] for i, r in enumerate(written) if i > sheet.header_row and r[-1]}
    assert flagged == problems
    # Imported again, the problem column is ignored and the same rows read the same.
    again = read(result)
    assert [(r.number, r.fingerprint) for r in again] == [(r.number, r.fingerprint) for r in rows]


def test_source_names_come_from_file_names():
    assert source_name(Path("Danh mục OCOP Kon Tum 2026.xlsx")) == "danh-muc-ocop-kon-tum-2026"
