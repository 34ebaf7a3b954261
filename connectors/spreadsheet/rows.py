"""One spreadsheet row -> one offer or demand submission, checked by the API's own models.

A row is in or out: every problem found (a cell that cannot be read, then the contract's own
field-level problems, named by the column they came from) goes in the row's ``problem`` cell
and nothing of the row is sent. Packages (bao, bì, sọt, két, thùng, hộp, chai, gói) are traded
by weight: a row's "Quy cách" (or the file's ``--pack``) declares the net weight, and quantity
and price are converted to kg; without it the row is refused with how to declare it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from connectors.spreadsheet import cells
from connectors.spreadsheet.cells import CellError
from connectors.spreadsheet.columns import KEY, ColumnMap, header_unit
from connectors.spreadsheet.reading import Cell, cell_text
from schemas.orders import DemandSubmission, OfferSubmission
from schemas.problems import explain
from schemas.reference.text import fold
from schemas.reference.units import Unit

READING_RULES = 1
"""Bump when a cell is read differently (a new number format, a unit): ledgers' cell digests
then no longer match, and the next re-import reads every row again."""

TOTAL_ROWS = frozenset({"tong", "tong cong", "cong", "tong so", "total"})
"""A first cell like these marks a totals row, not an item."""


@dataclass(frozen=True)
class Defaults:
    """Per-file values for what the sheet leaves out (command-line options)."""

    party_id: str | None = None  # --supplier / --buyer
    province: str | None = None
    category: str | None = None
    pack: str | None = None  # "bao 50 kg"
    start: date | None = None
    end: date | None = None
    unit: str | None = None


@dataclass
class Row:
    """A row read: its number in the sheet, its key, and either a submission or problems."""

    number: int
    key: str | None = None
    body: dict[str, Any] | None = None  # the submission as JSON, external_ref not yet set
    fingerprint: str | None = None
    problems: list[str] = field(default_factory=list)
    price_rounded: bool = False
    cells: str | None = None  # ``RowReader.cells_digest`` of the row as read

    @property
    def ok(self) -> bool:
        return self.body is not None and not self.problems


class RowReader:
    """Builds submissions of one kind ("offers" or "demands") from a sheet's rows."""

    def __init__(self, kind: str, columns: ColumnMap, defaults: Defaults) -> None:
        self.kind = kind
        self.columns = columns
        self.defaults = defaults
        self.model: type[BaseModel] = OfferSubmission if kind == "offers" else DemandSubmission
        self._paths = _PATH_COLUMNS[kind]
        quantity = columns.fields.get("quantity")
        self.quantity_unit = (
            header_unit(columns.headers[quantity]) if quantity is not None else None
        )
        self._indexes = [columns.fields[name] for name in sorted(columns.fields)]
        self._context = repr((kind, defaults))
        headers = [columns.headers[i] for i in self._indexes]
        self._cells_context = repr(
            (READING_RULES, kind, defaults, sorted(columns.fields.items()), headers)
        ).encode()

    def cells_digest(self, row: Sequence[Cell]) -> str:
        """The hash of the row's cells as they are, with everything else that decides what
        they read as (the column map, the headers, the defaults, the reading rules): equal
        digests read the same, so an unchanged row of a re-import costs a hash, not its
        reading. A row only saved again (a retyped cell) differs here and is read, and then
        compared by its fingerprint."""
        width = len(row)
        said = repr([row[i] if i < width else None for i in self._indexes]).encode()
        return hashlib.blake2b(self._cells_context + said, digest_size=16).hexdigest()

    def skip(self, cells_: Sequence[Cell]) -> bool:
        """Blank rows, a totals row, and the "(1) (2) (3)" column-number row under a header."""
        first = next((c for c in cells_ if c not in ("", None)), None)
        if first is None:
            return True
        if isinstance(first, str) and fold(first) in TOTAL_ROWS:
            return True
        if not (isinstance(first, str) and first.startswith("(")) and first not in (1, 1.0):
            return False
        numbered = [cell_text(c).strip("()") for c in cells_ if c not in ("", None)]
        return (
            len(numbered) >= 3
            and all(t.isdigit() for t in numbered)
            and [int(t) for t in numbered] == list(range(1, len(numbered) + 1))
        )

    def key(self, row: Sequence[Cell]) -> str | None:
        index = self.columns.fields.get(KEY)
        cell = row[index] if index is not None and index < len(row) else None
        return cell_text(cell) if cells.present(cell) else None

    def build(self, number: int, row: Sequence[Cell]) -> Row:
        """The row read into a submission, not yet checked by the contract, with its
        fingerprint: the hash of what it says (the submission and the file's defaults), not of
        how its cells are typed, so a file saved again (a date cell become a date serial,
        180000 become "180.000") reads as unchanged. Equal fingerprints need no second look:
        an unchanged row of a re-import costs its reading and a hash, not a validation."""
        result = Row(number, key=self.key(row))
        get = self._getter(row)
        try:
            build = self._offer if self.kind == "offers" else self._demand
            result.body = build(get, result)
            said = repr(result.body)
        except CellError as exc:
            result.problems.append(str(exc))
            width = len(row)
            said = repr([row[i] if i < width else None for i in self._indexes])
        result.fingerprint = hashlib.sha256(f"{self._context}{said}".encode()).hexdigest()[:32]
        return result

    def check(self, row: Row) -> Row:
        """The contract's verdict on a built row: its problems named by their columns, and no
        body left when there is one (the gateway checks the body again, with the same
        models)."""
        if row.body is None:
            return row
        try:
            self.model.model_validate(row.body)
        except ValidationError as exc:
            row.problems.extend(self.named(p.path, p.problem) for p in explain(exc))
            row.body = None
        return row

    def read(self, number: int, row: Sequence[Cell]) -> Row:
        """Built and checked."""
        return self.check(self.build(number, row))

    # -- per kind ------------------------------------------------------------------------------

    def _offer(self, get: Callable[[str], Cell], row: Row) -> dict[str, Any]:
        d = self.defaults
        quantity, kg_per_unit, unit = self._quantity(get, "quantity")
        body: dict[str, Any] = {
            "supplier_id": _text_or(get("supplier_id"), d.party_id),
            "product": {
                "name": _text_or(get("product_name"), None),
                "category": _category(get, d.category),
            },
            "origin_province": _text_or(get("origin_province"), d.province),
            "quantity": quantity,
            "available": self._window(get),
        }
        stars = get("ocop_stars")
        if cells.present(stars):
            body["product"]["ocop_stars"] = cells.stars(stars, self._header("ocop_stars"))
        rated = get("ocop_rated_on")
        if cells.present(rated):
            rated_on = cells.day(rated, self._header("ocop_rated_on"))
            body["product"]["ocop_rated_on"] = rated_on.isoformat()
        certifications = get("certifications")
        if cells.present(certifications):
            body["product"]["certifications"] = cells.listing(certifications)
        price = get("unit_price")
        if cells.present(price):
            body["unit_price_vnd"], body["price_unit"] = self._price(
                price, "unit_price", unit, kg_per_unit, row
            )
        else:
            body["unit_price_vnd"] = None  # the contract names it as missing
        ships = get("ships_to")
        if cells.present(ships):
            body["ships_to"] = cells.listing(ships)
        minimum = get("min_order")
        if cells.present(minimum):
            body["min_order"] = self._amount(minimum, "min_order", unit, kg_per_unit)
        lead = get("lead_time_days")
        if cells.present(lead):
            body["lead_time_days"] = cells.whole(lead, self._header("lead_time_days"))
        return body

    def _demand(self, get: Callable[[str], Cell], row: Row) -> dict[str, Any]:
        d = self.defaults
        quantity, kg_per_unit, unit = self._quantity(get, "quantity")
        criteria: dict[str, Any] = {"category": _category(get, d.category)}
        name = get("product_name")
        if cells.present(name):
            criteria["keywords"] = [cell_text(name)]
        stars = get("min_ocop_stars")
        if cells.present(stars):
            criteria["min_ocop_stars"] = cells.stars(stars, self._header("min_ocop_stars"))
        certifications = get("certifications")
        if cells.present(certifications):
            criteria["required_certifications"] = cells.listing(certifications)
        body: dict[str, Any] = {
            "buyer_id": _text_or(get("buyer_id"), d.party_id),
            "criteria": criteria,
            "quantity": quantity,
            "delivery_province": _text_or(get("delivery_province"), d.province),
            "delivery_window": self._window(get),
        }
        price = get("max_unit_price")
        if cells.present(price):
            body["max_unit_price_vnd"], body["price_unit"] = self._price(
                price, "max_unit_price", unit, kg_per_unit, row
            )
        terms = get("payment_terms_days")
        if cells.present(terms):
            body["payment_terms_days"] = cells.whole(terms, self._header("payment_terms_days"))
        lot = get("min_lot")
        if cells.present(lot):
            body["min_lot"] = self._amount(lot, "min_lot", unit, kg_per_unit)
        return body

    # -- parts ---------------------------------------------------------------------------------

    def _quantity(
        self, get: Callable[[str], Cell], name: str
    ) -> tuple[dict[str, str], Decimal | None, Unit | None]:
        """{amount, unit} by weight, and the kg per unit when the row's unit is a package."""
        amount_cell = get(name)
        if not cells.present(amount_cell):
            raise CellError(f"{self._header(name)}: empty; expected the quantity")
        amount = cells.number(amount_cell, self._header(name))
        unit_cell = get("unit")
        unit_text = (
            cell_text(unit_cell)
            if cells.present(unit_cell)
            else self.quantity_unit or self.defaults.unit
        )
        if not unit_text:
            raise CellError(
                f"{self._header('unit')}: no unit; add a column 'ĐVT' (kg, tấn, tạ, yến, or a "
                "package such as bao with its 'Quy cách') or give --unit"
            )
        unit = cells.unit(unit_text, self._header("unit"))
        if unit.is_weight:
            return {"amount": _plain(amount), "unit": unit.code}, None, unit
        kg_per_unit = self._net_weight(get, unit)
        return {"amount": _plain(amount * kg_per_unit), "unit": "kg"}, kg_per_unit, unit

    def _net_weight(self, get: Callable[[str], Cell], unit: Unit) -> Decimal:
        declared = get("pack")
        text = cell_text(declared) if cells.present(declared) else self.defaults.pack
        if not text:
            raise CellError(
                f"{self._header('unit')}: {unit.name_vi!r} is a package ({unit.name_en}) whose "
                f"net weight is not declared; add a column 'Quy cách' with e.g. "
                f"'{unit.name_vi} 50 kg', or give --pack '{unit.name_vi} 50 kg' for the file"
            )
        package, kg = cells.pack(text, self._header("pack"))
        if package is not None and package != unit:
            raise CellError(
                f"{self._header('pack')}: {text!r} declares a {package.name_vi}, but the row's "
                f"unit is {unit.name_vi}"
            )
        return kg

    def _amount(
        self, cell: Cell, name: str, unit: Unit | None, kg_per_unit: Decimal | None
    ) -> dict[str, str]:
        amount = cells.number(cell, self._header(name))
        if kg_per_unit is not None:
            return {"amount": _plain(amount * kg_per_unit), "unit": "kg"}
        return {"amount": _plain(amount), "unit": unit.code if unit else "kg"}

    def _price(
        self, cell: Cell, name: str, unit: Unit | None, kg_per_unit: Decimal | None, row: Row
    ) -> tuple[int, str]:
        """(whole VND, weight unit): per the header's unit ("Giá (đ/bao)"), else the row's."""
        what = self._header(name)
        price = Decimal(cells.whole_vnd(cell, what))
        stated = self.columns.price_unit
        price_unit = cells.unit(stated, what) if stated else unit
        if price_unit is None or price_unit.is_weight:
            return int(price), price_unit.code if price_unit else "kg"
        if kg_per_unit is None or (unit is not None and price_unit != unit):
            raise CellError(
                f"{what}: a price per {price_unit.name_vi} needs the rows to be in "
                f"{price_unit.name_vi} with a declared 'Quy cách'; or give the price per kg"
            )
        per_kg = price / kg_per_unit
        whole_vnd = per_kg.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        row.price_rounded = whole_vnd != per_kg
        return int(whole_vnd), "kg"

    def _window(self, get: Callable[[str], Cell]) -> dict[str, Any]:
        both = get("window")
        if cells.present(both):
            start, end = cells.window(both, self._header("window"))
            return {"start": start.isoformat(), "end": end.isoformat()}
        start_cell, end_cell = get("start"), get("end")
        start = (cells.day(start_cell, self._header("start")) if cells.present(start_cell)
                 else self.defaults.start)  # fmt: skip
        end = (cells.day(end_cell, self._header("end")) if cells.present(end_cell)
               else self.defaults.end)  # fmt: skip
        if start is None or end is None:
            raise CellError(
                "no dates: add columns 'Từ ngày' and 'Đến ngày' (or 'Thời gian cung ứng' as "
                "01/12/2026 - 31/12/2026), or give --from and --to for the file"
            )
        return {"start": start.isoformat(), "end": end.isoformat()}

    def _getter(self, row: Sequence[Cell]) -> Callable[[str], Cell]:
        fields = self.columns.fields

        def get(name: str) -> Cell:
            index = fields.get(name)
            return row[index] if index is not None and index < len(row) else None

        return get

    def _header(self, name: str) -> str:
        return (
            self.columns.header_of(name) if name in self.columns.fields else _LABELS.get(name, name)
        )

    def named(self, path: str, message: str) -> str:
        """A contract problem with the column it came from: "Giá (đ/kg): ..." A rule across
        fields (reported on the model: "product") is named by the field it mentions."""
        mentioned = [p for p, _ in self._paths if p.startswith(path + ".") and
                     p.rsplit(".", 1)[-1] in message]  # fmt: skip
        if mentioned:  # the first named in the message ("X is required when Y ...": X)
            path = min(mentioned, key=lambda p: message.index(p.rsplit(".", 1)[-1]))
        for prefix, name in self._paths:
            if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
                if name in self.columns.fields:
                    return f"{self._header(name)}: {message}"
                option = _OPTIONS.get(name)
                hint = f"; or give {option}" if option else ""
                return f"{path}: {message} (no column for it{hint})"
        return f"{path}: {message}"


def _category(get: Callable[[str], Cell], default: str | None) -> str | None:
    """The category column; without one, an OCOP group column ("Nhóm") stands in for it
    (some lists name their categories there; a true group is refused, naming the taxonomy)."""
    cell = get("category")
    return _text_or(cell if cells.present(cell) else get("ocop_group"), default)


def _text_or(cell: Cell, default: str | None) -> str | None:
    return cell_text(cell) if cells.present(cell) else default


def _plain(amount: Decimal) -> str:
    """A decimal as the contract takes it: at most 3 decimals, no exponent."""
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return format(amount.normalize(), "f")


_LABELS = {"unit": "ĐVT", "pack": "Quy cách", "start": "Từ ngày", "end": "Đến ngày"}
_OPTIONS = {
    "supplier_id": "--supplier",
    "buyer_id": "--buyer",
    "origin_province": "--province",
    "delivery_province": "--province",
    "category": "--category",
}
_PATH_COLUMNS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "offers": (
        ("supplier_id", "supplier_id"), ("product.name", "product_name"),
        ("product.category", "category"),
        ("product.ocop_group", "ocop_group"), ("product.ocop_stars", "ocop_stars"),
        ("product.ocop_rated_on", "ocop_rated_on"), ("product.certifications", "certifications"),
        ("product", "product_name"), ("origin_province", "origin_province"),
        ("quantity", "quantity"), ("unit_price_vnd", "unit_price"), ("price_unit", "unit_price"),
        ("available", "start"), ("ships_to", "ships_to"), ("min_order", "min_order"),
        ("lead_time_days", "lead_time_days"),
    ),
    "demands": (
        ("buyer_id", "buyer_id"), ("criteria.category", "category"),
        ("criteria.keywords", "product_name"), ("criteria.min_ocop_stars", "min_ocop_stars"),
        ("criteria.required_certifications", "certifications"),
        ("quantity", "quantity"), ("max_unit_price_vnd", "max_unit_price"),
        ("price_unit", "max_unit_price"), ("delivery_province", "delivery_province"),
        ("delivery_window", "start"), ("payment_terms_days", "payment_terms_days"),
        ("min_lot", "min_lot"),
    ),
}  # fmt: skip
