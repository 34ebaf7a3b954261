"""The result file: the input as read, with a ``problem`` column a person fills in by fixing
the row. Imported again, the column is ignored and the fixed rows go in (the others are
unchanged, so nothing is sent twice).

XLSX is written with xlsxwriter in constant-memory mode (rows go to disk as they are written:
a 50,000-row result needs no more memory than a small one); CSV as UTF-8 with a BOM, which
Excel opens correctly on a Vietnamese Windows (Windows-1258 cannot hold every precomposed
Vietnamese letter, so the input's code page is not reused).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path

import xlsxwriter

from connectors.spreadsheet.columns import PROBLEM
from connectors.spreadsheet.reading import Cell, Sheet, cell_text


def result_path(source: Path) -> Path:
    suffix = ".csv" if source.suffix.lower() == ".csv" else ".xlsx"
    return source.with_name(f"{source.stem}.result{suffix}")


def write_result(sheet: Sheet, problems: Mapping[int, str], path: Path) -> Path:
    """Write every row of ``sheet`` with its problem (by 1-based row number) in a column after
    the header's last; the header row names it ``problem``."""
    width = len(sheet.head[sheet.header_row]) if sheet.head else 0
    existing = next(
        (i for i, h in enumerate(sheet.headers) if h.strip().casefold() == PROBLEM), None
    )
    column = existing if existing is not None else width
    header_number = sheet.header_row + 1
    if path.suffix.lower() == ".csv":
        _write_csv(sheet, problems, path, column, header_number)
    else:
        _write_xlsx(sheet, problems, path, column, header_number)
    return path


def _with_problem(row: list[Cell], column: int, text: str) -> list[Cell]:
    cells = list(row) + [""] * max(0, column + 1 - len(row))
    cells[column] = text
    return cells


def _write_csv(
    sheet: Sheet, problems: Mapping[int, str], path: Path, column: int, header: int
) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        for number, row in sheet.rows():
            text = PROBLEM if number == header else problems.get(number, "")
            writer.writerow([cell_text(c) if not isinstance(c, str) else c
                             for c in _with_problem(row, column, text)])  # fmt: skip


def _write_xlsx(
    sheet: Sheet, problems: Mapping[int, str], path: Path, column: int, header: int
) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        page = book.add_worksheet(sheet.name[:31] or "Sheet1")
        dates = book.add_format({"num_format": "dd/mm/yyyy"})
        bold = book.add_format({"bold": True})
        flagged = book.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE"})
        page.set_column(column, column, 60)
        for number, row in sheet.rows():
            index = number - 1
            text = PROBLEM if number == header else problems.get(number, "")
            for c, cell in enumerate(_with_problem(row, column, text)):
                if c == column:
                    if text:
                        page.write_string(index, c, text, bold if number == header else flagged)
                elif isinstance(cell, datetime | date) and not isinstance(cell, time):
                    page.write_datetime(index, c, cell, dates)
                elif isinstance(cell, bool):
                    page.write_boolean(index, c, cell)
                elif isinstance(cell, int | float):
                    page.write_number(index, c, cell)
                elif cell not in ("", None):
                    page.write_string(index, c, str(cell))
    finally:
        book.close()
