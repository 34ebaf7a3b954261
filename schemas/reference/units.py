"""Vietnamese trade units and conversion to a base unit.

Offers and demands arrive in tấn, tạ, yến, kg, g, in pieces (hộp, chai, gói, cái) or in
packages of bulk goods (bao, bì, sọt, két, thùng) whose net weight is declared with them. To
match them, quantities and prices are compared in kilograms; a piece unit converts only when
the weight of one piece is declared, otherwise the conversion is refused loudly rather than
guessed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from .text import compact, fold


class UnitKind(StrEnum):
    WEIGHT = "weight"
    COUNT = "count"


@dataclass(frozen=True)
class Unit:
    """A trade unit.

    ``factor`` converts to the base unit of its kind: kilograms for weight, pieces for count.
    It is ``None`` for thùng (carton), whose piece count must be declared per offer.
    """

    code: str
    name_vi: str
    kind: UnitKind
    factor: Decimal | None
    name_en: str

    @property
    def is_weight(self) -> bool:
        return self.kind is UnitKind.WEIGHT


class UnknownUnitError(ValueError):
    """Raised for an unrecognised unit; lists the allowed units and the closest one."""

    def __init__(self, input: str, allowed: list[str], closest: str | None = None) -> None:
        self.input = input
        self.allowed = allowed
        self.closest = closest
        hint = f"; did you mean {closest!r}?" if closest else ""
        super().__init__(f"unknown unit {input!r}; allowed units: {', '.join(allowed)}{hint}")


class UnitConversionError(ValueError):
    """Raised when a quantity cannot be converted without more information."""


_W, _C = UnitKind.WEIGHT, UnitKind.COUNT
_UNITS: tuple[tuple[Unit, tuple[str, ...]], ...] = (
    (
        Unit("kg", "kg", _W, Decimal(1), "kilogram"),
        ("kilogram", "kilograms", "kilogam", "kilôgam", "kgs", "kilo", "kilos", "ký", "kí"),
    ),
    (
        Unit("tan", "tấn", _W, Decimal(1000), "tonne"),
        ("tonne", "tonnes", "ton", "tons", "t", "mt", "metric ton"),
    ),
    (Unit("ta", "tạ", _W, Decimal(100), "quintal (100 kg)"), ("quintal", "quintals")),
    (Unit("yen", "yến", _W, Decimal(10), "yen (10 kg)"), ()),
    (Unit("g", "g", _W, Decimal("0.001"), "gram"), ("gram", "grams", "gam", "gr", "gramme")),
    (Unit("hop", "hộp", _C, Decimal(1), "box"), ("box", "boxes")),
    (Unit("chai", "chai", _C, Decimal(1), "bottle"), ("bottle", "bottles")),
    (Unit("goi", "gói", _C, Decimal(1), "pack"), ("pack", "packs", "packet", "packets", "túi")),
    (Unit("thung", "thùng", _C, None, "carton"), ("carton", "cartons", "case", "cases")),
    (Unit("cai", "cái", _C, Decimal(1), "piece"), ("piece", "pieces", "pc", "pcs", "chiếc", "quả")),
    # Packaging of bulk goods: its net weight varies (a bao of rice is 25 or 50 kg), so it is
    # declared with the goods ("Quy cách: bao 50 kg"), never assumed.
    (Unit("bao", "bao", _C, None, "sack"), ("sack", "sacks", "bao tải")),
    (Unit("bi", "bì", _C, None, "bag"), ("bag", "bags")),
    (Unit("sot", "sọt", _C, None, "basket"), ("basket", "baskets")),
    (Unit("ket", "két", _C, None, "crate"), ("crate", "crates")),
)
PACKAGING_UNITS = frozenset({"bao", "bi", "sot", "ket", "thung", "hop", "chai", "goi"})
"""Packages whose net weight a catalogue row declares (``Quy cách``) to trade them by weight."""

UNITS: dict[str, Unit] = {unit.code: unit for unit, _ in _UNITS}
ALLOWED_UNITS: tuple[str, ...] = tuple(unit.name_vi for unit, _ in _UNITS)


def unit_name(code: str) -> str:
    """The unit as people write it (``ta`` -> ``tạ``, ``tan`` -> ``tấn``): events carry the
    ASCII code, and everything shown to a person (the demo, the monitor) uses this."""
    unit = UNITS.get(code)
    return unit.name_vi if unit is not None else code


def _build_lookup() -> dict[str, Unit]:
    table: dict[str, Unit] = {}
    for unit, aliases in _UNITS:
        for text in (unit.code, unit.name_vi, unit.name_en, *aliases):
            for key in {fold(text), compact(fold(text))}:
                if table.setdefault(key, unit) is not unit:
                    raise ValueError(f"unit alias {text!r} is ambiguous")
    return table


_LOOKUP = _build_lookup()


def parse_unit(text: str | Unit) -> Unit:
    """Accept a code, Vietnamese name (with or without diacritics) or English name."""
    if isinstance(text, Unit):
        return text
    key = fold(str(text))
    unit = _LOOKUP.get(key) or _LOOKUP.get(compact(key))
    if unit is not None:
        return unit
    close = difflib.get_close_matches(key, list(_LOOKUP), n=1, cutoff=0.5) if key else []
    raise UnknownUnitError(
        str(text), list(ALLOWED_UNITS), _LOOKUP[close[0]].name_vi if close else None
    )


def _tidy(value: Decimal) -> Decimal:
    """Drop exponent noise (2.5000E+7 -> 25000000, 0.500 -> 0.5) so results print plainly."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _decimal(value: Decimal | int | str | float, what: str) -> Decimal:
    """Coerce to a finite, non-negative Decimal; floats go through str() to avoid 0.1 noise."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be finite, not {value!r}")
    if number < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return number


def _pack_weight(unit: Unit, pack_weight_kg: Decimal | int | str | None) -> Decimal:
    if pack_weight_kg is None:
        raise UnitConversionError(
            f"cannot convert {unit.name_vi!r} ({unit.name_en}) to kg without a pack weight "
            f"(pack_weight_kg: weight of one {unit.name_vi} in kg)"
        )
    weight = _decimal(pack_weight_kg, "pack_weight_kg")
    if weight == 0:
        raise ValueError("pack_weight_kg must be positive")
    return weight


def to_kg(
    amount: Decimal | int | str,
    unit: Unit | str,
    *,
    pack_weight_kg: Decimal | int | str | None = None,
) -> Decimal:
    """Convert ``amount`` of ``unit`` to kilograms.

    Count units (hộp, chai, gói, thùng, cái) need ``pack_weight_kg``, the weight of one piece.
    """
    quantity = _decimal(amount, "amount")
    resolved = parse_unit(unit)
    if resolved.kind is UnitKind.WEIGHT:
        assert resolved.factor is not None
        return _tidy(quantity * resolved.factor)
    return _tidy(quantity * _pack_weight(resolved, pack_weight_kg))


def convert(
    amount: Decimal | int | str,
    from_unit: Unit | str,
    to_unit: Unit | str,
    *,
    pack_weight_kg: Decimal | int | str | None = None,
) -> Decimal:
    """Convert between units via kilograms.

    ``pack_weight_kg`` is the weight of one piece of whichever side is a count unit. Two
    different count units (e.g. thùng -> chai) cannot be converted through weight with a single
    pack weight, so that is refused.
    """
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    if source == target:
        return _tidy(_decimal(amount, "amount"))
    if source.kind is UnitKind.COUNT and target.kind is UnitKind.COUNT:
        raise UnitConversionError(
            f"cannot convert {source.name_vi!r} ({source.name_en}) to {target.name_vi!r} "
            f"({target.name_en}): the number of {target.name_vi} per {source.name_vi} is unknown"
        )
    kg = to_kg(amount, source, pack_weight_kg=pack_weight_kg)
    if target.kind is UnitKind.WEIGHT:
        assert target.factor is not None
        return _tidy(kg / target.factor)
    return _tidy(kg / _pack_weight(target, pack_weight_kg))


def price_per_kg(
    unit_price_vnd: int,
    unit: Unit | str,
    *,
    pack_weight_kg: Decimal | int | str | None = None,
) -> Decimal:
    """Price in VND per kilogram, to compare offers and demands priced in different units."""
    if isinstance(unit_price_vnd, bool) or not isinstance(unit_price_vnd, int):
        raise ValueError(f"unit_price_vnd must be an integer number of VND, not {unit_price_vnd!r}")
    if unit_price_vnd < 0:
        raise ValueError(f"unit_price_vnd must not be negative, got {unit_price_vnd}")
    kg_per_unit = to_kg(1, unit, pack_weight_kg=pack_weight_kg)
    return _tidy(Decimal(unit_price_vnd) / kg_per_unit)
