"""The report's workbook, written and read back with python-calamine: a cover, one sheet per
table, each ending with its totals; the header frozen and filterable."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

import pytest
from python_calamine import CalamineWorkbook

from services.reports.labels import Label
from services.reports.model import Documents, Report, Scope, build
from services.reports.xlsx import sheet_name, workbook
from tests.unit.test_report_model import DOCS, NOW


@pytest.fixture(scope="module")
def report() -> Report:
    return build(DOCS, Scope("period", start=date(2026, 1, 1), end=date(2026, 6, 30)), NOW)


def _read(data: bytes) -> CalamineWorkbook:
    return CalamineWorkbook.from_filelike(io.BytesIO(data))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_one_sheet_per_table_after_the_cover(report, lang):
    book = _read(workbook(report, lang))
    names = [sheet_name("cover", lang)] + [sheet_name(t.key, lang) for t in report.tables]
    assert book.sheet_names == names
    assert len(set(names)) == len(names) and all(len(n) <= 31 for n in names)
    cover = book.get_sheet_by_name(names[0]).to_python()
    assert cover[0][0] == report.title.text(lang)
    figures = {row[0]: row[1] for row in cover[5:]}
    assert figures[Label("Giá trị đã chốt (VND)", "Confirmed value (VND)").text(lang)] == (
        report.figure("confirmed_vnd")
    )


def test_every_sheet_reads_back_as_its_table_with_the_totals_last(report):
    book = _read(workbook(report, "vi"))
    for table in report.tables:
        rows = book.get_sheet_by_name(sheet_name(table.key, "vi")).to_python()
        assert rows[0] == [c.title.vi for c in table.columns], table.key
        body, totals = rows[1 : 1 + len(table.rows)], rows[1 + len(table.rows)]
        assert len(body) == len(table.rows)
        assert str(totals[0]).startswith("Tổng cộng"), table.key
        for i, column in enumerate(table.columns):
            if column.kind in ("count", "kg", "vnd"):
                assert totals[i] == pytest.approx(table.totals[i]), (table.key, column.key)
                assert [r[i] for r in body] == pytest.approx([r[i] for r in table.rows])
        if table.note is not None:
            assert rows[len(table.rows) + 3][0] == table.note.vi


def test_dates_are_dates_and_money_stays_whole(report):
    book = _read(workbook(report, "vi"))
    table = report.table("sessions")
    rows = book.get_sheet_by_name(sheet_name("sessions", "vi")).to_python()
    start = table.column("start")
    assert rows[1][start] == date(2026, 3, 1)
    value = rows[1][table.column("value_vnd")]
    assert value == 960_000_000 and float(value).is_integer()


def test_sums_are_formulas_with_their_values_and_the_header_is_frozen_and_filtered(report):
    data = workbook(report, "vi")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sessions = archive.read("xl/worksheets/sheet2.xml").decode()
        products = archive.read("xl/worksheets/sheet5.xml").decode()
        styles = archive.read("xl/styles.xml").decode()
    assert 'state="frozen"' in sessions and "<autoFilter" in sessions
    rows = len(report.table("sessions").rows)
    assert re.search(rf"<f>SUM\(G2:G{rows + 1}\)</f><v>\d+</v>", sessions)
    # the suppliers' total of the products is a distinct count: a value, not a formula
    suppliers = "ABCDE"[report.table("products").column("suppliers")]
    last = len(report.table("products").rows) + 2
    cell = re.search(rf'<c r="{suppliers}{last}"[^>]*>(.*?)</c>', products)
    assert cell is not None and "<f>" not in cell.group(1)
    assert "#,##0" in styles


def test_an_empty_report_still_has_every_sheet_and_totals(report):
    empty = build(Documents(sessions=[]), Scope("period", start=date(2030, 1, 1),
                                                end=date(2030, 1, 31)), NOW)  # fmt: skip
    book = _read(workbook(empty, "en"))
    assert len(book.sheet_names) == 1 + len(empty.tables)
    rows = book.get_sheet_by_name(sheet_name("match_status", "en")).to_python()
    assert rows[-1][0] == "Total" and rows[-1][1] == 0


def test_text_that_looks_like_a_formula_is_kept_as_text():
    hostile = {**DOCS.organizations[0], "name": '=HYPERLINK("http://x","y")'}
    docs = Documents(**{**{n: getattr(DOCS, n) for n in DOCS.__dataclass_fields__},
                        "organizations": [hostile, *DOCS.organizations[1:]]})  # fmt: skip
    report = build(docs, Scope("period", start=date(2026, 1, 1), end=date(2026, 6, 30)), NOW)
    data = workbook(report, "vi")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet4.xml").decode()
    assert "HYPERLINK" not in sheet  # a shared string, not a formula
    rows = _read(data).get_sheet_by_name(sheet_name("organizations", "vi")).to_python()
    assert hostile["name"] in [r[0] for r in rows]
