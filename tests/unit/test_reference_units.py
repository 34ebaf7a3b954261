"""Trade units: parsing, conversion to kg and clear refusals."""

from decimal import Decimal

import pytest

from schemas.reference import (
    ALLOWED_UNITS,
    UNITS,
    UnitConversionError,
    UnitKind,
    UnknownUnitError,
    convert,
    parse_unit,
    price_per_kg,
    to_kg,
)


def test_allowed_units() -> None:
    assert ALLOWED_UNITS == (
        "kg", "tấn", "tạ", "yến", "g", "hộp", "chai", "gói", "thùng", "cái", "bao", "bì", "sọt",
        "két",
    )  # fmt: skip
    assert set(UNITS) == {
        "kg", "tan", "ta", "yen", "g", "hop", "chai", "goi", "thung", "cai", "bao", "bi", "sot",
        "ket",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("kg", "kg"), ("KG", "kg"), ("kgs", "kg"), ("kilogram", "kg"), ("Kilôgam", "kg"),
        ("ký", "kg"), ("tấn", "tan"), ("tan", "tan"), ("TẤN", "tan"), ("tonne", "tan"),
        ("ton", "tan"), ("t", "tan"), ("tạ", "ta"), ("ta", "ta"), ("yến", "yen"), ("Yen", "yen"),
        ("g", "g"), ("gram", "g"), ("hộp", "hop"), ("hop", "hop"), ("box", "hop"),
        ("chai", "chai"), ("bottle", "chai"), ("gói", "goi"), ("goi", "goi"), ("pack", "goi"),
        ("thùng", "thung"), ("thung", "thung"), ("carton", "thung"), ("cái", "cai"),
        ("cai", "cai"), ("piece", "cai"), ("pcs", "cai"), (" Tấn ", "tan"),
    ],
)  # fmt: skip
def test_parse_unit(text: str, code: str) -> None:
    assert parse_unit(text).code == code


def test_unit_kinds_and_factors() -> None:
    assert parse_unit("tấn").factor == 1000
    assert parse_unit("tạ").factor == 100
    assert parse_unit("yến").factor == 10
    assert parse_unit("kg").factor == 1
    assert parse_unit("g").factor == Decimal("0.001")
    assert parse_unit("chai").kind is UnitKind.COUNT
    assert parse_unit("thùng").factor is None  # pieces per carton must be declared
    assert parse_unit("kg").kind == "weight"


@pytest.mark.parametrize(
    ("amount", "unit", "kg"),
    [
        (2, "tấn", Decimal(2000)),
        ("1.5", "tan", Decimal(1500)),
        (3, "tạ", Decimal(300)),
        (3, "ta", Decimal(300)),
        (5, "yến", Decimal(50)),
        (7, "kg", Decimal(7)),
        (500, "g", Decimal("0.5")),
        (Decimal("250"), "gram", Decimal("0.25")),
        (0, "tấn", Decimal(0)),
    ],
)
def test_to_kg_weight(amount: object, unit: str, kg: Decimal) -> None:
    result = to_kg(amount, unit)  # type: ignore[arg-type]
    assert isinstance(result, Decimal)
    assert result == kg


def test_to_kg_plain_output() -> None:
    assert str(to_kg(500, "g")) == "0.5"
    assert str(to_kg(2, "tan")) == "2000"
    assert str(price_per_kg(25_000, "g")) == "25000000"


def test_to_kg_count_with_pack_weight() -> None:
    assert to_kg(10, "chai", pack_weight_kg=Decimal("0.75")) == Decimal("7.5")
    assert to_kg(4, "thùng", pack_weight_kg=12) == 48
    assert to_kg(20, parse_unit("hộp"), pack_weight_kg="0.25") == 5


@pytest.mark.parametrize(
    ("unit", "english"), [("chai", "bottle"), ("hộp", "box"), ("thùng", "carton")]
)
def test_to_kg_count_without_pack_weight_is_refused(unit: str, english: str) -> None:
    with pytest.raises(UnitConversionError) as info:
        to_kg(10, unit)
    message = str(info.value)
    assert f"'{parse_unit(unit).name_vi}'" in message
    assert english in message
    assert "pack_weight_kg" in message
    assert isinstance(info.value, ValueError)


def test_chai_message_matches_spec() -> None:
    with pytest.raises(UnitConversionError, match=r"cannot convert 'chai' \(bottle\) to kg"):
        to_kg(1, "chai")


@pytest.mark.parametrize(
    "amount", [-1, "-0.5", "NaN", "Infinity", Decimal("-Infinity"), "abc", True]
)
def test_bad_amounts(amount: object) -> None:
    with pytest.raises(ValueError):
        to_kg(amount, "kg")  # type: ignore[arg-type]


@pytest.mark.parametrize("weight", [0, -1, "NaN"])
def test_bad_pack_weight(weight: object) -> None:
    with pytest.raises(ValueError, match="pack_weight_kg"):
        to_kg(1, "chai", pack_weight_kg=weight)  # type: ignore[arg-type]


def test_convert_weights() -> None:
    assert convert(1500, "kg", "tấn") == Decimal("1.5")
    assert convert(2, "tan", "yen") == 200
    assert convert(3, "ta", "kg") == 300
    assert convert(1, "kg", "g") == 1000
    assert convert(5, "yến", "tạ") == Decimal("0.5")


def test_convert_count_and_weight() -> None:
    assert convert(3, "kg", "hộp", pack_weight_kg="0.5") == 6
    assert convert(24, "chai", "kg", pack_weight_kg="0.5") == 12
    assert convert(7, "chai", "bottle") == 7  # same unit needs no pack weight
    with pytest.raises(UnitConversionError, match="pack_weight_kg"):
        convert(3, "tấn", "gói")


def test_convert_between_count_units_is_refused() -> None:
    with pytest.raises(UnitConversionError) as info:
        convert(2, "thùng", "chai", pack_weight_kg=10)
    assert "thùng" in str(info.value) and "chai" in str(info.value)


def test_price_per_kg() -> None:
    assert price_per_kg(30_000_000, "tấn") == 30_000
    assert price_per_kg(3_000_000, "tạ") == 30_000
    assert price_per_kg(30_000, "kg") == 30_000
    assert price_per_kg(50, "g") == 50_000
    assert price_per_kg(120_000, "hộp", pack_weight_kg="0.5") == 240_000
    # an offer per tạ and a demand per kg become comparable
    assert price_per_kg(2_500_000, "ta") < price_per_kg(30_000, "kg")
    with pytest.raises(UnitConversionError):
        price_per_kg(120_000, "hộp")
    with pytest.raises(ValueError):
        price_per_kg(12.5, "kg")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        price_per_kg(-1, "kg")


def test_unknown_unit() -> None:
    with pytest.raises(UnknownUnitError) as info:
        parse_unit("kgg")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.input == "kgg"
    assert err.allowed == list(ALLOWED_UNITS)
    message = str(err)
    for name in ALLOWED_UNITS:
        assert name in message
    assert "did you mean 'kg'" in message


def test_unknown_unit_closest_uses_vietnamese_name() -> None:
    with pytest.raises(UnknownUnitError) as info:
        parse_unit("thungg")
    assert "did you mean 'thùng'" in str(info.value)
    with pytest.raises(UnknownUnitError):
        parse_unit("")
