"""Text keys for matching Vietnamese names typed with or without diacritics.

Catalogues, spreadsheets and Zalo messages spell the same name many ways ("Đắk Nông",
"Đăk Nông", "DAK NONG", "Dak-Nong", NFD input from macOS); every lookup in this package
compares ``fold()`` keys so that all of them meet.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# "đ" has no decomposition, so NFD cannot strip it; "Ð" (U+00D0, Icelandic eth) is a frequent
# look-alike in badly encoded Vietnamese text.
_LETTER_MAP = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})


def nfc(text: str) -> str:
    """Return ``text`` in NFC, the form all stored strings use."""
    return unicodedata.normalize("NFC", text)


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese tone and vowel marks and map đ to d, keeping case and punctuation."""
    decomposed = unicodedata.normalize("NFD", nfc(text).translate(_LETTER_MAP))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def _spaced(text: str) -> str:
    """Lowercase, turn every non-alphanumeric character into a space, collapse whitespace."""
    chars = [ch if ch.isalnum() else " " for ch in text.casefold()]
    return " ".join("".join(chars).split())


def fold(text: str) -> str:
    """Return a diacritic-free, lowercase, whitespace-collapsed key.

    Punctuation such as ``.``, ``-``, ``,`` becomes a space, so "Bà Rịa-Vũng Tàu" and
    "ba ria - vung tau" fold to the same key "ba ria vung tau". Short texts are cached: every
    event's province, unit and category names pass here, and they repeat; long ones (any
    client's input, before its length is checked) are not kept.
    """
    return _fold_short(text) if len(text) <= 64 else _fold(text)


def _fold(text: str) -> str:
    return _spaced(strip_diacritics(text))


_fold_short = lru_cache(maxsize=8192)(_fold)


def lower_key(text: str) -> str:
    """Like ``fold`` but keeps diacritics, to prefer exact matches (bơ avocado vs bò beef)."""
    return _spaced(nfc(text))


def compact(key: str) -> str:
    """Drop spaces from a folded key, so "Hanoi", "Daklak", "TPHCM" can be looked up."""
    return key.replace(" ", "")
