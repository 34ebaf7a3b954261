"""Reusable field types: NFC text, ids, integer VND, weights in Vietnamese units, provinces."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas.reference.certifications import Certification, parse_certification
from schemas.reference.provinces import normalise_province
from schemas.reference.taxonomy import category as lookup_category
from schemas.reference.text import nfc
from schemas.reference.units import parse_unit, to_kg


class Contract(BaseModel):
    """Base of every contract: unknown fields are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _clean_text(value: str) -> str:
    cleaned = " ".join(nfc(value).split())
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


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

Vnd = Annotated[int, Field(ge=0, le=10**15, description="Vietnamese đồng, integer (no decimals)")]

Days = Annotated[int, Field(ge=0, le=365, description="a number of days")]

Stars = Annotated[int, Field(ge=0, le=5, description="OCOP stars, 0 = not rated, 3-5 recognised")]

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


def _weight_unit(value: str) -> str:
    unit = parse_unit(value)
    if not unit.is_weight:
        raise ValueError(
            f"unit {value!r} is a piece unit ({unit.name_en}); quantities are traded by weight "
            "in this version: use kg, tấn, tạ, yến or g"
        )
    return unit.code


WeightUnit = Annotated[
    str,
    Field(description="kg, tấn, tạ, yến or g (with or without diacritics); stored as its code"),
    AfterValidator(_weight_unit),
]


class Quantity(Contract):
    """An amount in a weight unit; parties are compared in kilograms."""

    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=3)
    unit: WeightUnit

    @property
    def kg(self) -> Decimal:
        return to_kg(self.amount, self.unit)


class ProvinceRef(Contract):
    """A current provincial unit (after the 2025 merger), remembering the legacy name given."""

    code: str
    name: str
    legacy_name: str | None = None


def _parse_province(value: Any) -> Any:
    if isinstance(value, str):
        match = normalise_province(value)
        return {
            "code": match.province.code,
            "name": match.province.name,
            "legacy_name": match.legacy_name,
        }
    return value


ProvinceField = Annotated[
    ProvinceRef,
    BeforeValidator(_parse_province, json_schema_input_type=str | ProvinceRef),
    Field(description="province: current or legacy (pre-2025) name, with or without diacritics"),
]


class DateWindow(Contract):
    """Inclusive calendar dates (Vietnam has one time zone, so dates need none)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def overlaps(self, other: DateWindow) -> bool:
        return self.start <= other.end and other.start <= self.end
