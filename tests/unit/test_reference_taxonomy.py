"""OCOP groups, trade categories and certifications."""

import re
import unicodedata

import pytest

from schemas.reference import (
    CERTIFICATION_LABELS,
    Certification,
    UnknownCategoryError,
    UnknownCertificationError,
    categories,
    category,
    guess_category,
    ocop_group,
    ocop_groups,
    parse_certification,
    parse_unit,
)

REQUIRED_CATEGORIES = [
    "fresh-fruit", "coffee", "tea", "rice-noodles", "dried-goods", "honey", "spices",
    "vegetables", "seafood", "meat-products", "confectionery", "nuts", "herbal-products",
    "ginseng", "wine-liquor", "juice", "handicrafts-bamboo-rattan", "textiles", "ceramics",
    "ornamental-plants",
]  # fmt: skip


def test_six_ocop_groups() -> None:
    groups = {g.code: g.name_vi for g in ocop_groups()}
    assert groups == {
        "food": "Thực phẩm",
        "beverages": "Đồ uống",
        "herbal": "Thảo dược",
        "handicrafts": "Thủ công mỹ nghệ",
        "ornamental": "Sinh vật cảnh",
        "tourism": "Dịch vụ du lịch cộng đồng và điểm du lịch",
    }
    assert ocop_group("beverages").name_en == "Beverages"
    assert ocop_group("Thuc pham").code == "food"
    with pytest.raises(ValueError, match="allowed: food"):
        ocop_group("drinks")


def test_categories_are_well_formed() -> None:
    cats = categories()
    codes = [c.code for c in cats]
    assert len(codes) == len(set(codes))
    assert set(REQUIRED_CATEGORIES) <= set(codes)
    group_codes = {g.code for g in ocop_groups()}
    for c in cats:
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", c.code), c.code
        assert c.group in group_codes
        assert parse_unit(c.default_unit).code == c.default_unit
        assert c.examples, c.code
        for text in (c.name_vi, *c.examples):
            assert unicodedata.is_normalized("NFC", text)


@pytest.mark.parametrize(
    ("code", "group", "examples"),
    [
        ("coffee", "food", ["cà phê Arabica Sơn La", "cà phê Robusta Kon Tum"]),
        ("fresh-fruit", "food", ["vải thiều Lục Ngạn", "nhãn lồng Hưng Yên", "cam Vinh",
                                 "xoài Sơn La", "mận hậu Sơn La", "bơ Đắk Nông"]),
        ("nuts", "food", ["hạt dẻ Trùng Khánh", "mắc ca Đắk Nông"]),
        ("rice-noodles", "food", ["miến dong Cao Bằng"]),
        ("spices", "food", ["hồi Lạng Sơn", "hồ tiêu Đắk Nông"]),
        ("ginseng", "herbal", ["sâm Ngọc Linh"]),
        ("confectionery", "food", ["bánh đậu xanh Hải Dương"]),
        ("tea", "food", ["chè Shan Tuyết Hà Giang", "chè Nghệ An"]),
        ("wine-liquor", "beverages", []),
        ("ceramics", "handicrafts", []),
        ("ornamental-plants", "ornamental", []),
    ],
)  # fmt: skip
def test_required_examples(code: str, group: str, examples: list[str]) -> None:
    cat = category(code)
    assert cat.group == group
    assert set(examples) <= set(cat.examples)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("coffee", "coffee"),
        ("Cà phê", "coffee"),
        ("CA PHE", "coffee"),
        ("cafe", "coffee"),
        ("Fresh fruit", "fresh-fruit"),
        ("trai cay tuoi", "fresh-fruit"),
        ("fresh_fruit", "fresh-fruit"),
        ("Mật ong", "honey"),
        ("Gốm sứ", "ceramics"),
        ("Seafood", "seafood"),
        ("thuy san", "seafood"),
        ("trà", "tea"),
    ],
)
def test_category_lookup(text: str, code: str) -> None:
    assert category(text).code == code


def test_unknown_category() -> None:
    with pytest.raises(UnknownCategoryError) as info:
        category("cofee")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.input == "cofee"
    assert err.suggestions[0] == "coffee"
    assert "coffee" in err.allowed and "honey" in err.allowed
    assert "did you mean 'coffee' (Cà phê)?" in str(err)
    assert "fresh-fruit" in str(err)


def test_unknown_category_without_suggestion() -> None:
    with pytest.raises(UnknownCategoryError) as info:
        category("zzzzzz")
    assert info.value.suggestions == []
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("product", "code"),
    [
        ("Cà phê Robusta", "coffee"),
        ("ca phe arabica rang xay", "coffee"),
        ("Vải thiều Lục Ngạn loại 1", "fresh-fruit"),
        ("bơ 034 Đắk Lắk", "fresh-fruit"),
        ("Thịt bò khô", "meat-products"),
        ("long nhãn Hưng Yên", "dried-goods"),
        ("vải sấy Lục Ngạn", "dried-goods"),
        ("Mật ong hoa cà phê", "honey"),
        ("rượu sâm Ngọc Linh", "wine-liquor"),
        ("Sâm Ngọc Linh 5 năm tuổi", "ginseng"),
        ("Chè Shan Tuyết cổ thụ", "tea"),
        ("trà atiso túi lọc", "herbal-products"),
        ("cá tra phi lê", "seafood"),
        ("Miến dong Cao Bằng", "rice-noodles"),
        ("hạt tiêu đen", "spices"),
        ("Hạt dẻ Trùng Khánh", "nuts"),
        ("nước mắm Phú Quốc 40 độ đạm", "condiments"),
        ("Nước ép táo mèo", "juice"),
        ("Gốm Bát Tràng men lam", "ceramics"),
        ("Lan hồ điệp", "ornamental-plants"),
        ("khăn lụa tơ tằm", "textiles"),
        ("bánh đậu xanh Rồng Vàng", "confectionery"),
    ],
)
def test_guess_category(product: str, code: str) -> None:
    guessed = guess_category(product)
    assert guessed is not None, product
    assert guessed.code == code


@pytest.mark.parametrize("product", ["", "xyz 123", "Sản phẩm mới"])
def test_guess_category_none(product: str) -> None:
    assert guess_category(product) is None


@pytest.mark.parametrize(
    ("text", "cert"),
    [
        ("VietGAP", Certification.VIETGAP),
        ("Viet GAP", Certification.VIETGAP),
        ("vietgap", Certification.VIETGAP),
        ("Giấy chứng nhận VietGAP", Certification.VIETGAP),
        ("GlobalG.A.P.", Certification.GLOBALGAP),
        ("Global GAP", Certification.GLOBALGAP),
        ("hữu cơ", Certification.ORGANIC),
        ("Huu co", Certification.ORGANIC),
        ("Organic", Certification.ORGANIC),
        ("ISO 22000:2018", Certification.ISO22000),
        ("iso22000", Certification.ISO22000),
        ("HACCP", Certification.HACCP),
        ("Halal", Certification.HALAL),
        ("FSSC 22000", Certification.FSSC22000),
        ("BRCGS", Certification.BRC),
        ("ATTP", Certification.FOOD_SAFETY),
        ("Giấy chứng nhận cơ sở đủ điều kiện ATTP", Certification.FOOD_SAFETY),
        ("chỉ dẫn địa lý", Certification.GEOGRAPHICAL_INDICATION),
        ("tem truy xuất nguồn gốc", Certification.TRACEABILITY_QR),
        ("geographical-indication", Certification.GEOGRAPHICAL_INDICATION),
    ],
)
def test_parse_certification(text: str, cert: Certification) -> None:
    assert parse_certification(text) is cert


def test_certification_values_and_labels() -> None:
    assert "ocop" not in {c.value for c in Certification}
    assert set(CERTIFICATION_LABELS) == set(Certification)
    assert CERTIFICATION_LABELS[Certification.ORGANIC][0] == "Chứng nhận hữu cơ"
    assert Certification.FOOD_SAFETY == "food-safety"


def test_unknown_certification() -> None:
    with pytest.raises(UnknownCertificationError) as info:
        parse_certification("OCOP 4 sao")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.input == "OCOP 4 sao"
    assert "vietgap" in err.allowed and "food-safety" in err.allowed
    assert "vietgap" in str(err) and "traceability-qr" in str(err)
    with pytest.raises(UnknownCertificationError) as info:
        parse_certification("VietGapp")
    assert info.value.suggestions[0] == "vietgap"
