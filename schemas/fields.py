"""Reusable field types: NFC text, ids, integer VND, weights in Vietnamese units, provinces."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache, lru_cache
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from schemas.reference.certifications import Certification, parse_certification
from schemas.reference.provinces import UnknownProvinceError, normalise_province, province_by_code
from schemas.reference.taxonomy import categories
from schemas.reference.taxonomy import category as lookup_category
from schemas.reference.text import nfc
from schemas.reference.units import parse_unit, to_kg

VIETNAM = timezone(timedelta(hours=7))
"""Vietnam's one time zone (ICT, no daylight saving): a fixed offset is exact."""


class Contract(BaseModel):
    """Base of every contract: unknown fields are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters (NUL, ESC, DEL, C1): invisible, they disguise one name as another and
some terminals and spreadsheets act on them. Tab and line breaks are whitespace, collapsed."""


def _clean_text(value: str) -> str:
    control = _CONTROL.search(value)
    if control is not None:
        raise ValueError(
            f"contains the control character U+{ord(control.group()):04X} at position "
            f"{control.start()}: remove it"
        )
    cleaned = " ".join(nfc(value).translate(_DROPPED).split())
    if not cleaned:
        raise ValueError("must not be blank")
    if all(unicodedata.category(ch) in _INVISIBLE for ch in cleaned):
        raise ValueError("has no visible character (only zero-width or format characters)")
    return cleaned


_DROPPED = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
"""Zero-width space, word joiner, BOM and soft hyphen: invisible inside a word, they make two
equal names differ (and one search miss); no Vietnamese text needs them."""
_INVISIBLE = frozenset({"Cf", "Zs", "Mn", "Me"})
"""Format characters (zero-width space, joiners, BOM), spaces and lone combining marks."""


Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_clean_text)]
"""Free text, NFC-normalised with whitespace collapsed (Vietnamese arrives in NFD too)."""

Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="ASCII id: letters, digits and . _ : - (safe in URLs and Kafka keys)",
    ),
]


def _not_a_boolean(value: Any) -> Any:
    """JSON ``true`` would otherwise pass as the integer 1 (a price of 1 đồng)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _ascii_digits(value: Any) -> Any:
    """Python reads '١٢' (Arabic-Indic digits) as 12: amounts take ASCII digits only."""
    value = _not_a_boolean(value)
    if isinstance(value, str) and not value.isascii():
        raise ValueError("write the number with ASCII digits 0-9 and '.' for decimals")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean, json_schema_input_type=int)]
"""An integer that refuses booleans (pydantic would read ``true`` as 1)."""

Vnd = Annotated[
    WholeNumber, Field(ge=0, le=10**15, description="Vietnamese đồng, integer (no decimals)")
]

Days = Annotated[WholeNumber, Field(ge=0, le=365, description="a number of days")]

Stars = Annotated[
    WholeNumber, Field(ge=0, le=5, description="OCOP stars, 0 = not rated, 3-5 recognised")
]

Revision = Annotated[WholeNumber, Field(ge=1, le=10**9, description="increases with every update")]

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
"""Every calendar date and timestamp the platform computes with lies in this range, so adding
a rating's 36 months, a lead time or a proposal's lifetime can never leave ``datetime``'s range
(an offer rated on 9998-01-01 once stopped a market for good)."""
_EARLIEST_MOMENT = datetime(EARLIEST_DATE.year, 1, 1, tzinfo=UTC)
_AFTER_LATEST_MOMENT = datetime(LATEST_DATE.year + 1, 1, 1, tzinfo=UTC)


def _plausible_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(
            f"date {value} is outside the supported range {EARLIEST_DATE} to {LATEST_DATE}"
        )
    return value


def _plausible_moment(value: datetime) -> datetime:
    if not _EARLIEST_MOMENT <= value < _AFTER_LATEST_MOMENT:
        raise ValueError(
            f"time {value.isoformat()} is outside the supported range "
            f"{EARLIEST_DATE} to {LATEST_DATE}"
        )
    return value


TradeDate = Annotated[
    date,
    AfterValidator(_plausible_date),
    Field(description=f"a calendar date from {EARLIEST_DATE} to {LATEST_DATE}"),
]

Moment = Annotated[
    AwareDatetime,
    AfterValidator(_plausible_moment),
    Field(description=f"a timezone-aware time from {EARLIEST_DATE} to {LATEST_DATE}"),
]


def _known_market(value: str) -> str:
    if value not in _market_codes():
        return lookup_category(value).code  # raises with the allowed codes and a suggestion
    return value


@cache
def _market_codes() -> frozenset[str]:
    return frozenset(c.code for c in categories())


MarketCode = Annotated[
    str,
    Field(max_length=64, description="a product category code: the market (see taxonomy)"),
    AfterValidator(_known_market),
]
"""The market an event belongs to: a category code from the taxonomy, never free text."""

CategoryCode = Annotated[
    str,
    Field(description="product category code or name (e.g. 'coffee', 'cà phê'); see taxonomy"),
    AfterValidator(lambda value: lookup_category(value).code),
]
"""A product category from the taxonomy, normalised to its code (the market key)."""


def _certification(value: Any) -> Any:
    return parse_certification(value) if isinstance(value, str) else value


CertificationCode = Annotated[
    Certification,
    BeforeValidator(_certification, json_schema_input_type=str),
    Field(description="certification, e.g. VietGAP, GlobalG.A.P., hữu cơ, HACCP, ISO 22000"),
]


class NotAWeightUnitError(ValueError):
    """A piece or package unit where a weight is needed; ``allowed`` lists the weight units."""

    allowed = ("kg", "tấn", "tạ", "yến", "g")


def _weight_unit(value: str) -> str:
    unit = parse_unit(value)
    if not unit.is_weight:
        raise NotAWeightUnitError(
            f"unit {value!r} is a piece or package unit ({unit.name_en}); quantities are traded "
            "by weight: use kg, tấn, tạ, yến or g, e.g. 20 bao of 50 kg as 1000 kg (a "
            "spreadsheet import converts it when the row declares 'Quy cách: bao 50 kg')"
        )
    return unit.code


WeightUnit = Annotated[
    str,
    Field(description="kg, tấn, tạ, yến or g (with or without diacritics); stored as its code"),
    AfterValidator(_weight_unit),
]


class Quantity(Contract):
    """An amount in a weight unit; parties are compared in kilograms."""

    amount: Annotated[
        Decimal,
        BeforeValidator(_ascii_digits, json_schema_input_type=Decimal),
        Field(gt=0, max_digits=18, decimal_places=3),
    ]
    unit: WeightUnit

    @property
    def kg(self) -> Decimal:
        return to_kg(self.amount, self.unit)


class ExternalRef(Contract):
    """Where an offer or demand came from in the publisher's own records: a catalogue row, an
    ERP line. A connector re-importing a source finds its earlier items by (source, key), so a
    re-import updates them instead of publishing them twice."""

    source: Annotated[
        str,
        Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"),
        Field(description="the source's name, chosen by the publisher (e.g. ocop-kon-tum-2026)"),
    ]
    key: Annotated[
        str,
        Field(min_length=1, max_length=200),
        AfterValidator(_clean_text),
        Field(description="the item's key within the source (a product code, a row's hash)"),
    ]
    fingerprint: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{16,64}$",
        description="the publisher's hash of the item's content: equal means unchanged",
    )


class ProvinceRef(Contract):
    """A current provincial unit (after the 2025 merger), remembering the legacy name given.

    Given as an object, the code must be a current unit's and the names must be its own: they
    are replaced by the reference spelling, so free text never travels in a province (an
    unknown code once made scoring raise in the matcher, for every later event)."""

    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    legacy_name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("code"), str):
            return data  # the field validators name what is missing or of the wrong type
        province = province_by_code(data["code"])
        name, legacy = data.get("name"), data.get("legacy_name")
        if isinstance(name, str) and name != province.name and _province_of(name) != province:
            raise ValueError(
                f"name {name!r} is not the name of province {province.code!r} ({province.name})"
            )
        if isinstance(legacy, str):
            match = normalise_province(legacy)
            if match.province != province:
                raise ValueError(
                    f"legacy_name {legacy!r} is part of {match.province.name}, "
                    f"not of {province.name}"
                )
            legacy = match.legacy_name
        return {**data, "name": province.name, "legacy_name": legacy}


def _province_of(name: str) -> Any:
    try:
        return normalise_province(name).province
    except UnknownProvinceError:
        return None


MAX_PLACE_NAME = 100
"""Longest province name taken ("Thành phố Hồ Chí Minh" is 21): longer is not a name, and each
is folded and searched."""


def _parse_province(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_PLACE_NAME:
            raise ValueError(f"a province name has at most {MAX_PLACE_NAME} characters")
        return _province_ref(value)
    return value


@lru_cache(maxsize=4096)
def _province_ref(name: str) -> dict[str, Any]:
    """A name's reference fields; cached, as a catalogue repeats a few names thousands of times."""
    match = normalise_province(name)
    return {
        "code": match.province.code,
        "name": match.province.name,
        "legacy_name": match.legacy_name,
    }


ProvinceField = Annotated[
    ProvinceRef,
    BeforeValidator(_parse_province, json_schema_input_type=str | ProvinceRef),
    Field(description="province: current or legacy (pre-2025) name, with or without diacritics"),
]


class DateWindow(Contract):
    """Inclusive calendar dates (Vietnam has one time zone, so dates need none)."""

    start: TradeDate
    end: TradeDate

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def overlaps(self, other: DateWindow) -> bool:
        return self.start <= other.end and other.start <= self.end
