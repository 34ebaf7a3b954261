"""A report as an XLSX workbook for further work: a cover sheet with the headline figures,
then one sheet per table, its header frozen and filterable, its last row the totals.

A total that is the sum of its column is written as a ``SUM`` formula (with its value cached,
so readers that do not calculate still see it); a total that is not a sum (a distinct count)
is written as a value.
"""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Format
from xlsxwriter.worksheet import Worksheet

from services.reports.labels import Label
from services.reports.shapes import NUMERIC, Report, Table

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAMES = {
    "cover": Label("Tổng quan", "Summary"),
    "sessions": Label("Phiên", "Sessions"),
    "provinces": Label("Tỉnh thành", "Provinces"),
    "organizations": Label("Đơn vị", "Organizations"),
    "products": Label("Sản phẩm OCOP", "OCOP products"),
    "meetings": Label("Gặp gỡ B2B", "B2B meetings"),
    "deals_by_origin": Label("MoU-HĐ theo tỉnh", "Deals by origin"),
    "deals_by_category": Label("MoU-HĐ theo ngành", "Deals by category"),
    "deliveries": Label("Giao hàng", "Deliveries"),
    "match_status": Label("Kết nối theo trạng thái", "Matches by status"),
    "confirmed_by_origin": Label("Đã chốt theo tỉnh", "Confirmed by origin"),
    "confirmed_by_category": Label("Đã chốt theo ngành", "Confirmed by category"),
    "unmet_demands": Label("Nhu cầu chưa đáp ứng", "Unmet demands"),
}
_NOT_IN_A_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
MIN_WIDTH, MAX_WIDTH = 8, 60


def sheet_name(key: str, lang: str) -> str:
    label = SHEET_NAMES.get(key)
    return _NOT_IN_A_SHEET_NAME.sub("-", label.text(lang) if label else key)[:31]


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        def fmt(**props: Any) -> Format:
            return book.add_format({"font_name": "Arial", "font_size": 10, **props})

        self.title = fmt(bold=True, font_size=14)
        self.header = fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True, valign="top")
        self.text = fmt()
        self.count = fmt(num_format="#,##0")
        self.kg = fmt(num_format="#,##0")
        self.kg_fraction = fmt(num_format="#,##0.000")
        self.vnd = fmt(num_format="#,##0")
        self.date = fmt(num_format="dd/mm/yyyy")
        self.note = fmt(italic=True, font_color="#555555")
        total = {"bold": True, "top": 1, "bg_color": "#F2F2F2"}
        self.total_text = fmt(**total)
        self.total_count = fmt(num_format="#,##0", **total)
        self.total_kg = fmt(num_format="#,##0", **total)
        self.total_kg_fraction = fmt(num_format="#,##0.000", **total)

    def number(self, kind: str, value: float, total: bool = False) -> Format:
        if kind == "kg" and float(value) != int(value):
            return self.total_kg_fraction if total else self.kg_fraction
        if total:
            return self.total_kg if kind == "kg" else self.total_count
        return {"kg": self.kg, "vnd": self.vnd}.get(kind, self.count)


def workbook(report: Report, lang: str = "vi") -> bytes:
    """The whole workbook, in memory (a report is thousands of rows at most)."""
    out = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    book = xlsxwriter.Workbook(out, options)
    formats = _Formats(book)
    _cover(book.add_worksheet(sheet_name("cover", lang)), report, lang, formats)
    for table in report.tables:
        _table(book.add_worksheet(sheet_name(table.key, lang)), table, lang, formats)
    book.close()
    return out.getvalue()


def _cover(sheet: Worksheet, report: Report, lang: str, f: _Formats) -> None:
    sheet.write_string(0, 0, report.title.text(lang), f.title)
    made = Label("Lập lúc", "Generated at").text(lang)
    sheet.write_string(1, 0, f"{made}: {report.generated_at:%d/%m/%Y %H:%M} UTC", f.note)
    sessions = Label("Phiên trong báo cáo", "Sessions in the report").text(lang)
    sheet.write_string(2, 0, f"{sessions}: {', '.join(report.session_ids) or '-'}", f.note)
    sheet.write_string(4, 0, Label("Chỉ tiêu", "Figure").text(lang), f.header)
    sheet.write_string(4, 1, Label("Giá trị", "Value").text(lang), f.header)
    for i, figure in enumerate(report.headline, start=5):
        sheet.write_string(i, 0, figure.title.text(lang), f.text)
        sheet.write_number(i, 1, figure.value, f.number(figure.kind, figure.value))
    sheet.set_column(0, 0, 44)
    sheet.set_column(1, 1, 20)


def _table(sheet: Worksheet, table: Table, lang: str, f: _Formats) -> None:
    widths = [len(c.title.text(lang)) for c in table.columns]
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, column.title.text(lang), f.header)
    for r, row in enumerate(table.rows, start=1):
        for col, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            widths[col] = max(widths[col], _write(sheet, r, col, column.kind, value, lang, f))
    last = len(table.rows) + 1
    for col, (column, value) in enumerate(zip(table.columns, table.totals, strict=True)):
        if column.kind in NUMERIC and isinstance(value, int | float):
            cell_format = f.number(column.kind, value, total=True)
            if table.rows and column.key not in table.distinct:
                first, end = xl_rowcol_to_cell(1, col), xl_rowcol_to_cell(last - 1, col)
                sheet.write_formula(last, col, f"=SUM({first}:{end})", cell_format, value)
            else:
                sheet.write_number(last, col, value, cell_format)
        else:
            text = value.text(lang) if isinstance(value, Label) else str(value or "")
            sheet.write_string(last, col, text, f.total_text)
            widths[col] = max(widths[col], len(text))
    if table.note is not None:
        sheet.write_string(last + 2, 0, table.note.text(lang), f.note)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(last - 1, 1), len(table.columns) - 1)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(MAX_WIDTH, max(MIN_WIDTH, width + 2)))


def _write(sheet: Worksheet, row: int, col: int, kind: str, value: Any, lang: str,
           f: _Formats) -> int:  # fmt: skip
    """Write one cell; the width its text needs."""
    if value is None:
        sheet.write_blank(row, col, None, f.text)
        return 0
    if kind in NUMERIC and isinstance(value, int | float):
        sheet.write_number(row, col, value, f.number(kind, value))
        return len(f"{value:,.0f}") + 1
    if kind == "date" and isinstance(value, str):
        try:
            sheet.write_datetime(row, col, date.fromisoformat(value), f.date)
            return 10
        except ValueError:
            pass
    text = value.text(lang) if isinstance(value, Label) else str(value)
    sheet.write_string(row, col, text, f.text)
    return len(text)
