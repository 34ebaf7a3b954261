"""Quality and compliance papers that buyers ask for.

Supermarkets and exporters refuse offers that lack them, so a demand's required papers are hard
constraints in matching; they are typed as an enum here so "VietGAP", "Viet GAP" and
"vietgap" count as the same paper. OCOP stars are kept separately, not as a certification.
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum

from .text import compact, fold


class Certification(StrEnum):
    VIETGAP = "vietgap"
    GLOBALGAP = "globalgap"
    ORGANIC = "organic"
    HACCP = "haccp"
    ISO22000 = "iso22000"
    HALAL = "halal"
    FSSC22000 = "fssc22000"
    BRC = "brc"
    FOOD_SAFETY = "food-safety"
    GEOGRAPHICAL_INDICATION = "geographical-indication"
    TRACEABILITY_QR = "traceability-qr"


CERTIFICATION_LABELS: dict[Certification, tuple[str, str]] = {
    Certification.VIETGAP: ("VietGAP", "VietGAP (Vietnamese Good Agricultural Practices)"),
    Certification.GLOBALGAP: ("GlobalG.A.P.", "GlobalG.A.P."),
    Certification.ORGANIC: ("Chứng nhận hữu cơ", "Organic certification"),
    Certification.HACCP: ("HACCP", "HACCP"),
    Certification.ISO22000: ("ISO 22000", "ISO 22000 food safety management"),
    Certification.HALAL: ("Chứng nhận Halal", "Halal certification"),
    Certification.FSSC22000: ("FSSC 22000", "FSSC 22000"),
    Certification.BRC: ("BRCGS", "BRCGS Food Safety"),
    Certification.FOOD_SAFETY: (
        "Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
        "Food safety eligibility certificate (ATTP)",
    ),
    Certification.GEOGRAPHICAL_INDICATION: ("Chỉ dẫn địa lý", "Geographical indication"),
    Certification.TRACEABILITY_QR: (
        "Tem truy xuất nguồn gốc (QR)",
        "Traceability QR stamp",
    ),
}

_ALIASES: dict[Certification, tuple[str, ...]] = {
    Certification.VIETGAP: ("VietGAP", "Viet GAP", "VietGAHP", "VietGAqP", "Viet G.A.P."),
    Certification.GLOBALGAP: ("GlobalGAP", "GlobalG.A.P.", "Global GAP", "GGAP"),
    Certification.ORGANIC: (
        "organic",
        "hữu cơ",
        "nông nghiệp hữu cơ",
        "sản phẩm hữu cơ",
        "USDA Organic",
        "EU Organic",
        "JAS Organic",
        "TCVN 11041",
        "bio",
    ),
    Certification.HACCP: ("HACCP",),
    Certification.ISO22000: ("ISO 22000", "ISO22000"),
    Certification.HALAL: ("Halal",),
    Certification.FSSC22000: ("FSSC 22000", "FSSC"),
    Certification.BRC: ("BRC", "BRCGS", "BRC Food", "BRCGS Food Safety"),
    Certification.FOOD_SAFETY: (
        "ATTP",
        "VSATTP",
        "ATVSTP",
        "an toàn thực phẩm",
        "vệ sinh an toàn thực phẩm",
        "cơ sở đủ điều kiện an toàn thực phẩm",
        "cơ sở đủ điều kiện ATTP",
        "giấy chứng nhận cơ sở đủ điều kiện ATTP",
        "food safety",
        "food safety certificate",
    ),
    Certification.GEOGRAPHICAL_INDICATION: (
        "chỉ dẫn địa lý",
        "CDĐL",
        "GI",
        "geographical indication",
        "geographic indication",
    ),
    Certification.TRACEABILITY_QR: (
        "truy xuất nguồn gốc",
        "tem truy xuất",
        "tem truy xuất nguồn gốc",
        "mã QR truy xuất",
        "QR",
        "QR code",
        "traceability",
        "traceability QR",
    ),
}

# Folded wrappers around the real name: "Giấy chứng nhận VietGAP", "HACCP certified".
_PREFIXES = ("giay chung nhan ", "chung nhan ", "certificate ", "certified ", "tieu chuan ")
_SUFFIXES = (" certificate", " certified", " certification", " standard")
_YEAR = re.compile(r"(?<=\d) (?:19|20)\d{2}$")  # "iso 22000 2018" -> "iso 22000"


class UnknownCertificationError(ValueError):
    """Raised for an unrecognised certification; the message lists the allowed values."""

    def __init__(self, input: str, suggestions: list[str]) -> None:
        self.input = input
        self.allowed = [c.value for c in Certification]
        self.suggestions = suggestions
        hint = f"; did you mean {suggestions[0]!r}?" if suggestions else ""
        super().__init__(
            f"unknown certification {input!r}{hint} Allowed: {', '.join(self.allowed)}"
        )


def _lookup() -> dict[str, Certification]:
    table: dict[str, Certification] = {}
    for cert in Certification:
        for text in (cert.value, *CERTIFICATION_LABELS[cert], *_ALIASES[cert]):
            key = compact(fold(text))
            if table.setdefault(key, cert) is not cert:
                raise ValueError(f"certification alias {text!r} is ambiguous")
    return table


_LOOKUP = _lookup()


def _variants(key: str) -> list[str]:
    """The folded key and versions without a year or a "certificate" wrapper."""
    out = [key]
    for _ in range(3):
        current = out[-1]
        stripped = _YEAR.sub("", current)
        for prefix in _PREFIXES:
            if stripped.startswith(prefix):
                stripped = stripped[len(prefix) :]
        for suffix in _SUFFIXES:
            if stripped.endswith(suffix):
                stripped = stripped[: -len(suffix)]
        if stripped == current or not stripped:
            break
        out.append(stripped)
    return out


def parse_certification(text: str | Certification) -> Certification:
    """Accept common spellings ("Viet GAP", "GlobalG.A.P.", "hữu cơ", "ISO 22000:2018")."""
    if isinstance(text, Certification):
        return text
    key = fold(str(text))
    for variant in _variants(key):
        cert = _LOOKUP.get(compact(variant))
        if cert is not None:
            return cert
    close = difflib.get_close_matches(compact(key), list(_LOOKUP), n=3, cutoff=0.6) if key else []
    raise UnknownCertificationError(str(text), list(dict.fromkeys(_LOOKUP[c].value for c in close)))
