"""The declared column map: which spreadsheet headers feed which field of an offer or a demand.

Headers are written by people, so each field lists the ways Vietnamese catalogues and purchase
plans name it; they are compared folded (no diacritics, case or punctuation), so "Tên sản
phẩm", "TEN SAN PHAM" and "Ten san pham:" are one header. A unit in a price header ("Giá
(đ/kg)", "Đơn giá (VNĐ/bao)") is the price's unit. A map given by the user (``--column
field=Header`` or a JSON file) is tried before the declared one, so an unusual sheet needs no
code change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from schemas.reference.text import compact, fold

KEY = "key"
"""The row's own key in its source (a product code): what a re-import recognises it by."""
PROBLEM = "problem"
"""The result file's added column; recognised (and ignored) when the file is imported again."""

_COMMON: dict[str, tuple[str, ...]] = {
    KEY: (
        "mã sản phẩm",
        "mã sp",
        "mã hàng",
        "mã hàng hóa",
        "mã",
        "mã số",
        "product code",
        "code",
        "sku",
        "key",
    ),
    "product_name": (
        "tên sản phẩm",
        "tên hàng",
        "tên hàng hóa",
        "tên mặt hàng",
        "mặt hàng",
        "sản phẩm",
        "tên",
        "product",
        "product name",
        "name",
    ),
    "category": (
        "ngành hàng",
        "nhóm hàng",
        "loại",
        "loại sản phẩm",
        "loại hàng",
        "danh mục",
        "phân nhóm",
        "category",
    ),
    "ocop_group": ("nhóm", "nhóm sản phẩm", "nhóm ocop", "bộ sản phẩm", "ocop group"),
    "quantity": (
        "số lượng",
        "sản lượng",
        "khối lượng",
        "sl",
        "số lượng cung ứng",
        "sản lượng cung ứng",
        "số lượng cần mua",
        "nhu cầu",
        "quantity",
        "amount",
    ),
    "unit": ("đvt", "đơn vị tính", "đơn vị", "dvt", "unit"),
    "pack": ("quy cách", "quy cách đóng gói", "đóng gói", "bao bì", "pack", "packaging"),
    "start": ("từ ngày", "ngày bắt đầu", "bắt đầu", "from", "start"),
    "end": ("đến ngày", "ngày kết thúc", "kết thúc", "to", "end"),
    "window": (
        "thời gian cung ứng",
        "thời gian giao hàng",
        "thời gian giao",
        "thời gian",
        "window",
    ),
    "certifications": ("chứng nhận", "tiêu chuẩn", "chứng nhận tiêu chuẩn", "certifications"),
    "ignored": (
        "stt",
        "tt",
        "số tt",
        "số thứ tự",
        "ghi chú",
        "note",
        "notes",
        "địa chỉ",
        "điện thoại",
        "sđt",
        "người liên hệ",
        "liên hệ",
        "tên chủ thể",
        "chủ thể",
        "tên htx",
        "đơn vị sản xuất",
        "nhà cung cấp",
        "tên nhà cung cấp",
        PROBLEM,
        "lỗi",
    ),
}
OFFER_COLUMNS: dict[str, tuple[str, ...]] = {
    **_COMMON,
    "supplier_id": (
        "mã chủ thể",
        "mã htx",
        "mã nhà cung cấp",
        "mã ncc",
        "mã đơn vị",
        "supplier id",
        "supplier_id",
        "supplier",
    ),
    "ocop_stars": (
        "hạng sao",
        "số sao",
        "sao",
        "hạng ocop",
        "xếp hạng",
        "xếp hạng ocop",
        "ocop",
        "stars",
        "ocop stars",
    ),
    "ocop_rated_on": (
        "ngày công nhận",
        "ngày xếp hạng",
        "ngày được công nhận",
        "ngày cấp",
        "ocop rated on",
        "rated on",
    ),
    "origin_province": (
        "tỉnh",
        "tỉnh thành",
        "tỉnh tp",
        "tỉnh thành phố",
        "địa phương",
        "xuất xứ",
        "nơi sản xuất",
        "origin",
        "origin province",
        "province",
    ),
    "unit_price": ("giá", "đơn giá", "giá bán", "giá bán buôn", "giá sỉ", "price", "unit price"),
    "ships_to": ("giao đến", "nơi giao", "phạm vi giao", "phạm vi cung ứng", "ships to"),
    "min_order": ("đơn hàng tối thiểu", "tối thiểu", "số lượng tối thiểu", "min order"),
    "lead_time_days": (
        "thời gian chuẩn bị",
        "thời gian chuẩn bị ngày",
        "lead time",
        "lead time days",
    ),
}
DEMAND_COLUMNS: dict[str, tuple[str, ...]] = {
    **_COMMON,
    "buyer_id": (
        "mã siêu thị",
        "mã đơn vị mua",
        "mã người mua",
        "mã khách hàng",
        "buyer id",
        "buyer_id",
        "buyer",
    ),
    "min_ocop_stars": (
        "hạng sao tối thiểu",
        "sao tối thiểu",
        "ocop tối thiểu",
        "min ocop stars",
        "hạng sao",
    ),
    "delivery_province": (
        "nơi giao",
        "giao tại",
        "nơi nhận",
        "địa điểm giao",
        "tỉnh nhận",
        "tỉnh",
        "delivery province",
        "province",
    ),
    "max_unit_price": (
        "giá tối đa",
        "giá trần",
        "giá mua",
        "đơn giá",
        "giá",
        "giá mua tối đa",
        "max price",
        "price",
    ),
    "payment_terms_days": (
        "công nợ",
        "công nợ ngày",
        "thời hạn thanh toán",
        "thanh toán",
        "payment terms",
        "payment terms days",
    ),
    "min_lot": ("lô tối thiểu", "số lượng tối thiểu", "tối thiểu", "min lot"),
}
_ROW_UNIT = frozenset({"dvt", "don vi tinh", "don vi", "unit"})
_PRICE_UNIT = re.compile(r"(?<![^\W\d_])(?:đồng|vnđ|vnd|dong|đ|d)\s*/\s*([^\s)\]]+)", re.IGNORECASE)


@dataclass
class ColumnMap:
    """Field -> column index of one sheet, found from its header row(s)."""

    fields: dict[str, int] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)  # the header text of every column
    price_unit: str | None = None  # from "Giá (đ/kg)"
    unknown: list[str] = field(default_factory=list)  # headers mapped to nothing

    def header_of(self, name: str) -> str:
        index = self.fields.get(name)
        return self.headers[index] if index is not None else name


_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def _keys(text: str) -> set[str]:
    """The header's folded forms, also without its parenthesised part ("Sản lượng (tấn)")."""
    keys = set()
    for variant in (_PRICE_UNIT.sub(" ", text), _PARENTHESES.sub(" ", text)):
        folded = fold(variant)
        keys |= {folded, compact(folded)}
    return keys - {""}


def header_unit(header: str) -> str | None:
    """The unit a header states in parentheses: "Sản lượng (tấn)" -> "tấn"."""
    match = _PARENTHESES.search(header)
    return match.group(0)[1:-1].strip() or None if match else None


def alias_table(declared: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Folded header -> field, the first field naming it winning (fields are in priority
    order: an offer's "tỉnh" is its origin, a demand's its delivery province)."""
    table: dict[str, str] = {}
    for name, aliases in declared.items():
        for alias in aliases:
            for key in _keys(alias):
                table.setdefault(key, name)
    return table


def load_overrides(pairs: Iterable[str], file: Path | None) -> dict[str, str]:
    """``field=Header`` pairs and/or a JSON object {field: header}: the user's column map."""
    overrides: dict[str, str] = {}
    if file is not None:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValueError(f"{file}: expected a JSON object of field names to header texts")
        overrides.update(data)
    for pair in pairs:
        name, sep, header = pair.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise ValueError(f"--column {pair!r}: expected field=Header, e.g. quantity='Sản lượng'")
        overrides[name.strip()] = header.strip()
    return overrides


def check_overrides(overrides: Mapping[str, str], declared: Mapping[str, Sequence[str]]) -> None:
    unknown = sorted(set(overrides) - set(declared) - {"ignored"})
    if unknown:
        raise ValueError(
            f"unknown field(s) in the column map: {', '.join(unknown)}; fields: "
            + ", ".join(name for name in declared if name != "ignored")
        )


def header_score(cells: Sequence[str], table: Mapping[str, str]) -> int:
    """How many distinct fields a candidate header row names."""
    found = set()
    for cell in cells:
        for key in _keys(cell):
            if key in table:
                found.add(table[key])
                break
    found.discard("ignored")
    return len(found)


def map_columns(
    headers: Sequence[str],
    declared: Mapping[str, Sequence[str]],
    overrides: Mapping[str, str] | None = None,
    parents: Sequence[str] | None = None,
) -> ColumnMap:
    """Map each header to a field: the user's map first, then the declared aliases for the
    fields it leaves. ``parents`` are the texts of a group header above (merged cells: "Giá"
    over "Bán buôn" and "Bán lẻ"); a sub-header is tried with its parent first."""
    columns = _with_parents(headers, parents)
    result = ColumnMap(headers=[_label(h, p) for h, p in columns])
    candidates = [
        ([f"{parent} {header}", header] if parent and parent != header else [header])
        if header
        else []
        for header, parent in columns
    ]
    wanted = {key: name for name, header in (overrides or {}).items() for key in _keys(header)}
    table = {k: v for k, v in alias_table(declared).items() if v not in wanted.values()}
    taken: set[int] = set()
    for lookup in (wanted, table):
        for index, texts in enumerate(candidates):
            if index in taken:
                continue
            name = next((lookup[k] for t in texts for k in _keys(t) if k in lookup), None)
            if name is None:
                continue
            taken.add(index)
            if name == "ignored" or name in result.fields:
                continue  # the first column naming a field wins
            result.fields[name] = index
            if name in ("unit_price", "max_unit_price"):
                match = _PRICE_UNIT.search(" ".join(texts))
                unit = match.group(1) if match else None
                # "đ/ĐVT": per the row's own unit, as when no unit is written
                result.price_unit = None if unit is None or fold(unit) in _ROW_UNIT else unit
    result.unknown = [result.headers[i] for i, t in enumerate(candidates) if t and i not in taken]
    return result


def _with_parents(headers: Sequence[str], parents: Sequence[str] | None) -> list[tuple[str, str]]:
    parents = parents or []
    return [
        (str(h or "").strip(), str(parents[i] if i < len(parents) else "").strip())
        for i, h in enumerate(headers)
    ]


def _label(header: str, parent: str) -> str:
    return f"{parent} / {header}" if parent and header and parent != header else header or parent
