"""Cell values as Vietnamese spreadsheets write them: numbers with "." thousands and ","
decimals, prices with "đ", dates as dd/mm/yyyy or Excel serials, packages with their net
weight ("bao 50 kg"). Each parser raises ``CellError`` with a sentence a person can act on."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from schemas.reference.text import fold
from schemas.reference.units import Unit, UnknownUnitError, parse_unit

EXCEL_EPOCH = date(1899, 12, 30)
"""Day 0 of Excel's date serials (a date cell without a date format reads as its serial)."""
_CURRENCY = re.compile(r"\s*(?:vnđ|vnd|đồng|dong|đ|d)\s*$", re.IGNORECASE)
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y")
_PACK = re.compile(
    r"^\s*(?:(?P<unit1>[^\d\s/:,.()]+(?:\s+[^\d\s/:,.()]+)?)\s*:?\s*)?"
    r"(?P<amount>\d+(?:[.,]\d+)?)\s*(?P<weight>kg|kilogram|g|gam|gram|tấn|tan|tạ|ta|yến|yen)"
    r"\s*(?:/\s*(?P<unit2>[^\d\s/()]+(?:\s+[^\d\s/()]+)?))?\s*$",
    re.IGNORECASE,
)


class CellError(ValueError):
    """A cell that cannot be read: the message names what was found and what is expected."""


def number(value: object, what: str) -> Decimal:
    """A number from a numeric cell or from text in Vietnamese ("1.500,5") or English
    ("1,500.5") notation. One separator followed by exactly three digits is a thousands
    separator ("1.500" is fifteen hundred, as Vietnamese write it)."""
    if isinstance(value, bool):
        raise CellError(f"{what}: expected a number, found {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)).normalize() if value == value else _bad(value, what)
    text = _CURRENCY.sub("", str(value).strip()).replace(" ", "").replace("\u00a0", "")
    if not text:
        raise CellError(f"{what}: empty; expected a number")
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal_mark = "." if text.rfind(".") > text.rfind(",") else ","
        thousands = "," if decimal_mark == "." else "."
        text = text.replace(thousands, "").replace(decimal_mark, ".")
    elif dots + commas == 1:
        mark = "." if dots else ","
        whole, _, fraction = text.partition(mark)
        text = (
            whole + fraction
            if len(fraction) == 3 and whole not in ("", "0")
            else (f"{whole}.{fraction}")
        )
    elif dots + commas > 1:  # 1.500.000 or 1,500,000
        text = text.replace("." if dots else ",", "")
    try:
        result = Decimal(text)
    except InvalidOperation:
        return _bad(value, what)
    if not result.is_finite():
        return _bad(value, what)
    return result


def _bad(value: object, what: str) -> Decimal:
    raise CellError(f"{what}: {value!r} is not a number (write e.g. 1.500 or 12,5)")


def whole_vnd(value: object, what: str) -> int:
    amount = number(value, what)
    if amount != amount.to_integral_value():
        raise CellError(f"{what}: {value!r} is not a whole number of đồng")
    return int(amount)


def whole(value: object, what: str) -> int:
    amount = number(value, what)
    if amount != amount.to_integral_value():
        raise CellError(f"{what}: {value!r} is not a whole number")
    return int(amount)


def day(value: object, what: str) -> date:
    """A date cell, an Excel serial, or dd/mm/yyyy (also yyyy-mm-dd) text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise CellError(f"{what}: {value!r} is not a date")
    text = str(value).strip()
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise CellError(f"{what}: {text!r} is not a date; write it as dd/mm/yyyy, e.g. 15/12/2026")


def window(value: object, what: str) -> tuple[date, date]:
    """A range in one cell: "01/12/2026 - 31/12/2026" (also "đến" or "to" between)."""
    parts = re.split(r"\s+(?:-|–|đến|den|to)\s+|\s*[–]\s*", str(value).strip())
    if len(parts) != 2:
        raise CellError(
            f"{what}: {value!r} is not a date range; write it as 01/12/2026 - 31/12/2026"
        )
    return day(parts[0], what), day(parts[1], what)


def listing(value: object) -> list[str]:
    """A list in one cell, separated by commas, semicolons or new lines."""
    return [part.strip() for part in re.split(r"[;,\n]", str(value)) if part.strip()]


def unit(value: object, what: str) -> Unit:
    try:
        return parse_unit(str(value).strip())
    except UnknownUnitError as exc:
        raise CellError(f"{what}: {exc}") from None


def pack(value: object, what: str) -> tuple[Unit | None, Decimal]:
    """A package and its net weight in kg: "bao 50 kg", "Bao: 50kg", "50 kg/bao", "25 kg"."""
    match = _PACK.match(str(value))
    if match is None:
        raise CellError(
            f"{what}: {value!r} does not say a net weight; write the package and its weight, "
            "e.g. 'bao 50 kg' or '24 kg/thùng'"
        )
    package = match.group("unit1") or match.group("unit2")
    declared = unit(package, what) if package and fold(package) not in ("quy cach", "") else None
    weight = unit(match.group("weight"), what)
    amount = number(match.group("amount"), what)
    assert weight.factor is not None
    kg = amount * weight.factor
    if kg <= 0:
        raise CellError(f"{what}: {value!r}: the net weight must be above 0")
    return declared, kg


def stars(value: object, what: str) -> int:
    """OCOP stars: 3, "4", "4 sao", "★★★★", "5*"."""
    text = str(value).strip()
    if text.count("★") or text.count("⭐"):
        return text.count("★") + text.count("⭐")
    digits = re.match(r"^(\d+(?:[.,]0+)?)\s*(?:sao|\*|stars?)?$", fold(text).replace(" ", "")
                      if not isinstance(value, int | float) else text)  # fmt: skip
    if digits is None:
        raise CellError(f"{what}: {value!r} is not a number of stars (0, 3, 4 or 5)")
    return int(Decimal(digits.group(1).replace(",", ".")))


def present(value: object) -> bool:
    return value is not None and str(value).strip() != ""
