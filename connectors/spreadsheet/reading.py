"""Read a catalogue or a purchase plan: XLSX through python-calamine, CSV in the encodings
Vietnamese offices export (UTF-8, UTF-8 with BOM, Windows-1258).

python-calamine (Rust's calamine) was chosen over openpyxl: it reads a 50,000-row sheet about
ten times faster, and it reports merged cells, which title rows and grouped headers use. It
holds one sheet's cells (not the workbook's styles), a few tens of MB for 50,000 rows; rows are
then handed on one at a time.

The header is found, not assumed: a title ("DANH MỤC SẢN PHẨM OCOP...") and blank rows often
come first, so the header is the row among the first ``HEADER_SEARCH_ROWS`` that names the most
known columns; a group header above it (merged over several sub-headers) is kept as the
sub-headers' parent.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from connectors.spreadsheet.columns import header_score

HEADER_SEARCH_ROWS = 30
"""How far down the header is looked for."""
CSV_ENCODINGS = ("utf-8-sig", "cp1258")
"""Tried in order: UTF-8 (with or without BOM) is exact or fails fast; Windows-1258 (the
Vietnamese ANSI code page, Excel's "CSV" on a Vietnamese Windows) decodes any byte."""
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")

Cell = Any  # str, int, float, bool, date, datetime, time or "" from calamine; str from CSV


class UnreadableFile(ValueError):
    """The file cannot be read as a table: says which and what is accepted."""


Merge = tuple[tuple[int, int], tuple[int, int]]


@dataclass
class Sheet:
    """A sheet: its first rows (where the header is looked for) and a way to read all its rows
    again, one at a time, with merged cells filled in."""

    name: str
    kind: str  # "xlsx" or "csv"
    encoding: str | None
    opener: Callable[[], Iterator[list[Cell]]]
    head: list[list[Cell]] = field(default_factory=list)
    header_row: int = 0  # index into head
    parent_row: int | None = None  # the group header above, if any
    merges: list[Merge] = field(default_factory=list)
    height: int | None = None  # rows in the sheet, where known (XLSX)

    @property
    def headers(self) -> list[str]:
        return [cell_text(cell) for cell in self.head[self.header_row]]

    @property
    def parents(self) -> list[str] | None:
        if self.parent_row is None:
            return None
        return [cell_text(cell) for cell in self.head[self.parent_row]]

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """(1-based row number as the spreadsheet shows it, cells) of every row, streamed."""
        by_row: dict[int, list[Merge]] = {}
        for merge in self.merges:
            (r0, _), (r1, _) = merge
            for r in range(r0, min(r1, r0 + 1000) + 1):
                by_row.setdefault(r, []).append(merge)
        above: list[Cell] | None = None
        for index, row in enumerate(self.opener()):
            for i, cell in enumerate(row):  # one spelling of each letter (NFD comes from CP1258)
                if isinstance(cell, str) and not unicodedata.is_normalized("NFC", cell):
                    row[i] = unicodedata.normalize("NFC", cell)
            if index in by_row:
                _fill_row(row, index, by_row[index], above)
            above = row if by_row else None
            yield index + 1, row

    def data(self) -> Iterator[tuple[int, list[Cell]]]:
        """The rows after the header."""
        for number, row in self.rows():
            if number > self.header_row + 1:
                yield number, row


def read_sheet(path: Path, sheet: str | None = None) -> Sheet:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise UnreadableFile(f"{path}: no such file")
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in SUFFIXES:
        return _read_workbook(path, sheet)
    raise UnreadableFile(
        f"{path.name}: unknown kind of file {suffix or '(no extension)'!r}; "
        f"give one of {', '.join(SUFFIXES)}"
    )


def find_header(sheet: Sheet, declared: Mapping[str, str]) -> Sheet:
    """Set ``header_row`` (and ``parent_row``) to the row naming the most known columns."""
    best, best_score = 0, -1
    for index, row in enumerate(sheet.head):
        score = header_score([cell_text(c) for c in row], declared)
        if score > best_score:
            best, best_score = index, score
    if best_score < 2:
        raise UnreadableFile(
            f"sheet {sheet.name!r}: no header row found in the first {HEADER_SEARCH_ROWS} rows "
            "(a row naming at least two known columns, e.g. 'Tên sản phẩm' and 'Số lượng'); "
            "name your columns with --column field=Header"
        )
    sheet.header_row = best
    sheet.parent_row = _group_header(sheet, best)
    return sheet


def _group_header(sheet: Sheet, header: int) -> int | None:
    """The row above the header when one of its cells is merged across several columns (a
    group header), else None."""
    if header == 0:
        return None
    above = header - 1
    for (r0, c0), (r1, c1) in sheet.merges:
        if r0 <= above <= r1 and c1 > c0 and r1 < header:
            return above
    return None


def _read_workbook(path: Path, name: str | None) -> Sheet:
    def open_sheet() -> Any:
        try:
            book = CalamineWorkbook.from_path(str(path))
        except Exception as exc:  # calamine's errors are plain; name the file and the cause
            raise UnreadableFile(f"{path.name}: not a readable spreadsheet ({exc})") from None
        if name is None:
            return book.get_sheet_by_index(0)
        if name in book.sheet_names:
            return book.get_sheet_by_name(name)
        raise UnreadableFile(
            f"{path.name}: no sheet {name!r}; sheets: {', '.join(book.sheet_names)}"
        )

    first = open_sheet()  # calamine holds the sheet's cells: read once, iterated again

    def opener() -> Iterator[list[Cell]]:
        for row in first.iter_rows():
            yield list(row)

    top, left = first.start or (0, 0)
    merges = [
        ((r0 - top, c0 - left), (r1 - top, c1 - left))
        for (r0, c0), (r1, c1) in first.merged_cell_ranges or []
    ]
    sheet = Sheet(first.name, "xlsx", None, opener, merges=merges, height=first.height)
    sheet.head = [row for _, row in itertools.islice(sheet.rows(), HEADER_SEARCH_ROWS)]
    return sheet


def _fill_row(row: list[Cell], index: int, merges: list[Merge], above: list[Cell] | None) -> None:
    """Give each cell of a merged range its value: the range's first cell, on its own row or
    on the row above (a range over several rows: the header "STT" over two rows)."""
    for (r0, c0), (_, c1) in merges:
        if c0 < 0:
            continue
        source = row if index == r0 else above
        value = source[c0] if source is not None and c0 < len(source) else ""
        if len(row) <= c1:
            row.extend([""] * (c1 + 1 - len(row)))
        for c in range(c0, c1 + 1):
            if row[c] in ("", None):
                row[c] = value


def _read_csv(path: Path) -> Sheet:
    raw = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = codecs.decode(raw, encoding)
        except UnicodeDecodeError:
            continue
        break
    else:  # pragma: no cover - cp1258 decodes every byte but five undefined ones
        raise UnreadableFile(f"{path.name}: neither UTF-8 nor Windows-1258 text")
    delimiter = _delimiter(text)
    used = "utf-8" if encoding == "utf-8-sig" and not raw.startswith(codecs.BOM_UTF8) else encoding

    def opener() -> Iterator[list[Cell]]:
        return (list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter))

    sheet = Sheet(path.stem, "csv", used, opener)
    sheet.head = [row for _, row in itertools.islice(sheet.rows(), HEADER_SEARCH_ROWS)]
    return sheet


def _delimiter(text: str) -> str:
    """The separator that splits the first rows into the most rows of one width: Excel writes
    ";" where the decimal mark is ",", as on a Vietnamese Windows, and a title line above
    the table has none (csv.Sniffer gives up on such files)."""
    sample = text[:65536].splitlines()[: HEADER_SEARCH_ROWS + 20]
    best, best_score = ",", (0, 0)
    for candidate in (",", ";", "\t", "|"):
        widths = Counter(len(row) for row in csv.reader(sample, delimiter=candidate))
        width, count = max(widths.items(), key=lambda item: (item[1] * (item[0] > 1), item[0]))
        score = (count if width > 1 else 0, width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def cell_text(cell: Cell) -> str:
    """A cell as text, the way a person reads it (12.0 -> "12")."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()
