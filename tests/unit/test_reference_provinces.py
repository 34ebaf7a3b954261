"""Province normalisation: 63 legacy names and 34 current units (2025 merger)."""

import re
import unicodedata

import pytest

from schemas.reference import (
    Province,
    UnknownProvinceError,
    current_provinces,
    distance_km,
    fold,
    legacy_province_names,
    normalise_province,
    province_by_code,
)

# Written out independently of provinces.json so that a data error fails here.
LEGACY_TO_CURRENT = {
    "Hà Nội": "Hà Nội",
    "Thừa Thiên Huế": "Huế",
    "Lai Châu": "Lai Châu",
    "Điện Biên": "Điện Biên",
    "Sơn La": "Sơn La",
    "Lạng Sơn": "Lạng Sơn",
    "Quảng Ninh": "Quảng Ninh",
    "Thanh Hóa": "Thanh Hóa",
    "Nghệ An": "Nghệ An",
    "Hà Tĩnh": "Hà Tĩnh",
    "Cao Bằng": "Cao Bằng",
    "Tuyên Quang": "Tuyên Quang",
    "Hà Giang": "Tuyên Quang",
    "Lào Cai": "Lào Cai",
    "Yên Bái": "Lào Cai",
    "Thái Nguyên": "Thái Nguyên",
    "Bắc Kạn": "Thái Nguyên",
    "Phú Thọ": "Phú Thọ",
    "Vĩnh Phúc": "Phú Thọ",
    "Hòa Bình": "Phú Thọ",
    "Bắc Ninh": "Bắc Ninh",
    "Bắc Giang": "Bắc Ninh",
    "Hưng Yên": "Hưng Yên",
    "Thái Bình": "Hưng Yên",
    "Hải Phòng": "Hải Phòng",
    "Hải Dương": "Hải Phòng",
    "Ninh Bình": "Ninh Bình",
    "Hà Nam": "Ninh Bình",
    "Nam Định": "Ninh Bình",
    "Quảng Trị": "Quảng Trị",
    "Quảng Bình": "Quảng Trị",
    "Đà Nẵng": "Đà Nẵng",
    "Quảng Nam": "Đà Nẵng",
    "Quảng Ngãi": "Quảng Ngãi",
    "Kon Tum": "Quảng Ngãi",
    "Gia Lai": "Gia Lai",
    "Bình Định": "Gia Lai",
    "Khánh Hòa": "Khánh Hòa",
    "Ninh Thuận": "Khánh Hòa",
    "Lâm Đồng": "Lâm Đồng",
    "Đắk Nông": "Lâm Đồng",
    "Bình Thuận": "Lâm Đồng",
    "Đắk Lắk": "Đắk Lắk",
    "Phú Yên": "Đắk Lắk",
    "TP. Hồ Chí Minh": "TP. Hồ Chí Minh",
    "Bình Dương": "TP. Hồ Chí Minh",
    "Bà Rịa-Vũng Tàu": "TP. Hồ Chí Minh",
    "Đồng Nai": "Đồng Nai",
    "Bình Phước": "Đồng Nai",
    "Tây Ninh": "Tây Ninh",
    "Long An": "Tây Ninh",
    "Cần Thơ": "Cần Thơ",
    "Sóc Trăng": "Cần Thơ",
    "Hậu Giang": "Cần Thơ",
    "Vĩnh Long": "Vĩnh Long",
    "Bến Tre": "Vĩnh Long",
    "Trà Vinh": "Vĩnh Long",
    "Đồng Tháp": "Đồng Tháp",
    "Tiền Giang": "Đồng Tháp",
    "Cà Mau": "Cà Mau",
    "Bạc Liêu": "Cà Mau",
    "An Giang": "An Giang",
    "Kiên Giang": "An Giang",
}
UNCHANGED = {
    "Hà Nội", "Huế", "Lai Châu", "Điện Biên", "Sơn La", "Lạng Sơn", "Quảng Ninh",
    "Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Cao Bằng",
}  # fmt: skip


def _expected_legacy(legacy: str) -> str | None:
    current = LEGACY_TO_CURRENT[legacy]
    return None if fold(legacy) == fold(current) else legacy


def _variants(name: str) -> list[str]:
    return [
        name,
        fold(name),
        name.upper(),
        f"Tỉnh {name}",
        f"TP. {name}",
        f"thanh pho {fold(name)}",
        unicodedata.normalize("NFD", name),
    ]


def test_reference_table_is_complete() -> None:
    assert len(LEGACY_TO_CURRENT) == 63
    assert len(set(LEGACY_TO_CURRENT.values())) == 34


def test_legacy_names_are_the_63_provinces() -> None:
    names = legacy_province_names()
    assert len(names) == 63
    assert len(set(names)) == 63
    assert set(names) == set(LEGACY_TO_CURRENT)


def test_current_provinces_are_34_units() -> None:
    units = current_provinces()
    assert len(units) == 34
    assert {p.name for p in units} == set(LEGACY_TO_CURRENT.values())
    assert len({p.code for p in units}) == 34
    assert sum(len(p.members) for p in units) == 63
    assert {p.name for p in units if not p.merged} == UNCHANGED


@pytest.mark.parametrize("legacy", sorted(LEGACY_TO_CURRENT))
def test_every_legacy_name_maps_to_its_current_unit(legacy: str) -> None:
    for text in _variants(legacy):
        match = normalise_province(text)
        assert match.province.name == LEGACY_TO_CURRENT[legacy], text
        assert match.legacy_name == _expected_legacy(legacy), text
        assert match.input == text
        assert legacy in match.province.members


@pytest.mark.parametrize("province", current_provinces(), ids=lambda p: p.code)
def test_every_current_unit_maps_to_itself(province: Province) -> None:
    for text in [*_variants(province.name), province.english, province.code]:
        match = normalise_province(text)
        assert match.province == province, text
        assert match.legacy_name is None, text
    assert province_by_code(province.code) is province


@pytest.mark.parametrize(
    ("text", "current", "legacy"),
    [
        ("tinh dak nong", "Lâm Đồng", "Đắk Nông"),
        ("Đăk Nông", "Lâm Đồng", "Đắk Nông"),
        ("Bắc Giang", "Bắc Ninh", "Bắc Giang"),
        ("Bắc Ninh", "Bắc Ninh", None),
        ("Ho Chi Minh City", "TP. Hồ Chí Minh", None),
        ("Hanoi", "Hà Nội", None),
        ("HN", "Hà Nội", None),
        ("Da Nang", "Đà Nẵng", None),
        ("Danang", "Đà Nẵng", None),
        ("Hai Phong", "Hải Phòng", None),
        ("Can Tho", "Cần Thơ", None),
        ("Hue", "Huế", None),
        ("Thành phố Huế", "Huế", None),
        ("Thua Thien Hue", "Huế", "Thừa Thiên Huế"),
        ("Saigon", "TP. Hồ Chí Minh", None),
        ("Sài Gòn", "TP. Hồ Chí Minh", None),
        ("HCM", "TP. Hồ Chí Minh", None),
        ("TPHCM", "TP. Hồ Chí Minh", None),
        ("TP.HCM", "TP. Hồ Chí Minh", None),
        ("Thanh pho Ho Chi Minh", "TP. Hồ Chí Minh", None),
        ("Bà Rịa - Vũng Tàu", "TP. Hồ Chí Minh", "Bà Rịa-Vũng Tàu"),
        ("Ba Ria Vung Tau", "TP. Hồ Chí Minh", "Bà Rịa-Vũng Tàu"),
        ("BRVT", "TP. Hồ Chí Minh", "Bà Rịa-Vũng Tàu"),
        ("Daklak", "Đắk Lắk", None),
        ("Dak Lak", "Đắk Lắk", None),
        ("Đắc Lắc", "Đắk Lắk", None),
        ("Kontum", "Quảng Ngãi", "Kon Tum"),
        ("Bắc Cạn", "Thái Nguyên", "Bắc Kạn"),
        ("T. Hà Giang", "Tuyên Quang", "Hà Giang"),
        ("Thanh Hoá", "Thanh Hóa", None),
        ("Hoà Bình", "Phú Thọ", "Hòa Bình"),
        ("Lam Dong Province", "Lâm Đồng", None),
        ("Binh Duong province", "TP. Hồ Chí Minh", "Bình Dương"),
    ],
)
def test_variants_and_english_names(text: str, current: str, legacy: str | None) -> None:
    match = normalise_province(text)
    assert (match.province.name, match.legacy_name) == (current, legacy)


def test_dak_lak_and_dak_nong_stay_apart() -> None:
    assert normalise_province("Dak Lak").province.code == "dak-lak"
    assert normalise_province("Dak Nong").province.code == "lam-dong"


def test_unknown_province_suggests_legacy_name_with_current_unit() -> None:
    with pytest.raises(UnknownProvinceError) as info:
        normalise_province("Dak Nongg")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.input == "Dak Nongg"
    assert err.suggestions[0] == "Đắk Nông"
    assert (
        str(err) == "unknown province 'Dak Nongg'; did you mean 'Đắk Nông' (now part of Lâm Đồng)?"
    )


def test_unknown_province_suggests_current_unit() -> None:
    with pytest.raises(UnknownProvinceError) as info:
        normalise_province("Quang Ngai x")
    assert info.value.suggestions[0] == "Quảng Ngãi"
    assert "(now part of" not in str(info.value)


@pytest.mark.parametrize("text", ["", "   ", "Atlantis", "Tỉnh", "Vientiane"])
def test_garbage_is_rejected(text: str) -> None:
    with pytest.raises(UnknownProvinceError) as info:
        normalise_province(text)
    assert info.value.input == text
    assert "unknown province" in str(info.value)


def test_province_by_code_unknown() -> None:
    with pytest.raises(UnknownProvinceError) as info:
        province_by_code("lam-dongg")
    assert info.value.suggestions[0] == "lam-dong"
    assert "lam-dong" in str(info.value)


def test_province_data_is_clean() -> None:
    slug = re.compile(r"^[a-z]+(-[a-z]+)*$")
    for p in current_provinces():
        assert slug.match(p.code), p.code
        assert unicodedata.is_normalized("NFC", p.name)
        assert all(unicodedata.is_normalized("NFC", m) for m in p.members)
        assert p.english.isascii()
        # inside Vietnam's bounding box
        assert 8.3 < p.lat < 23.5 and 102.0 < p.lon < 110.0, p.code
    assert province_by_code("lam-dong").name == "Lâm Đồng"
    assert province_by_code("ho-chi-minh").name == "TP. Hồ Chí Minh"


def test_distance_sanity() -> None:
    hanoi = normalise_province("Hà Nội").province
    hcm = normalise_province("TP. Hồ Chí Minh").province
    assert 1100 <= distance_km(hanoi, hcm) <= 1200
    assert distance_km(hanoi, hcm) == pytest.approx(distance_km(hcm, hanoi))
    assert distance_km(hanoi, hanoi) == 0
    hue, da_nang = province_by_code("hue"), province_by_code("da-nang")
    assert 60 <= distance_km(hue, da_nang) <= 110
    # the new Lâm Đồng is centred on Đà Lạt, about 230 km from Hồ Chí Minh City
    assert 200 <= distance_km(province_by_code("lam-dong"), hcm) <= 260


def test_current_names_do_not_depend_on_legacy_lookup_order() -> None:
    # Every current unit containing a same-named legacy member keeps legacy_name None.
    for p in current_provinces():
        if p.name in p.members:
            assert normalise_province(p.name).legacy_name is None
