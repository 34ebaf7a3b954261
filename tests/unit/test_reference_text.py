"""fold() is the key every reference lookup relies on; these pin its behaviour."""

import unicodedata

import pytest

from schemas.reference.text import compact, fold, lower_key, nfc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đắk Nông", "dak nong"),
        ("ĐẮK NÔNG", "dak nong"),
        ("Đăk Nông", "dak nong"),
        ("Bà Rịa-Vũng Tàu", "ba ria vung tau"),
        ("Bà Rịa - Vũng Tàu", "ba ria vung tau"),
        ("TP. Hồ Chí Minh", "tp ho chi minh"),
        ("  Thừa   Thiên\tHuế \n", "thua thien hue"),
        ("Thanh Hóa", "thanh hoa"),
        ("Thanh Hoá", "thanh hoa"),  # old-style tone placement
        ("cà phê, chè; mật ong", "ca phe che mat ong"),
        ("Ð", "d"),  # U+00D0 look-alike from badly encoded text
        ("ISO 22000:2018", "iso 22000 2018"),
        ("", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_nfd_input_equals_nfc_input() -> None:
    composed = "Quảng Ngãi, Bắc Kạn, Hưng Yên"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert fold(decomposed) == fold(composed) == "quang ngai bac kan hung yen"


def test_nfc_composes_decomposed_text() -> None:
    decomposed = unicodedata.normalize("NFD", "Lâm Đồng")
    assert len(decomposed) > len("Lâm Đồng")
    assert nfc(decomposed) == "Lâm Đồng"
    assert unicodedata.is_normalized("NFC", nfc(decomposed))


def test_fold_is_idempotent_and_ascii() -> None:
    text = "Sầu riêng Đắk Lắk – loại 1 (Ri6)"
    once = fold(text)
    assert fold(once) == once
    assert once.isascii()
    assert once == "sau rieng dak lak loai 1 ri6"


def test_lower_key_keeps_diacritics() -> None:
    assert lower_key("Bơ Đắk Lắk") == "bơ đắk lắk"
    assert lower_key(unicodedata.normalize("NFD", "bò")) == "bò"
    assert lower_key("bơ") != lower_key("bò")


def test_compact() -> None:
    assert compact(fold("Ha Noi")) == compact(fold("Hanoi")) == "hanoi"
