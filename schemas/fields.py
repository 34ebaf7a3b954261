"""Reusable field types: NFC text, integer VND, quantities with Vietnamese units, provinces."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from schemas.reference.provinces import normalise_province
from schemas.reference.taxonomy import category as lookup_category
from schemas.reference.text import nfc
from schemas.reference.units import parse_unit, to_kg


def _clean_text(value: str) -> str:
    cleaned = " ".join(nfc(value).split())
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_clean_text)]
"""Free text, NFC-normalised with whitespace collapsed (Vietnamese arrives in NFD too)."""

Identifier = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
"""Organisation or object ids: ASCII, safe in URLs and Kafka keys."""

Vnd = Annotated[int, Field(ge=0, le=10**15, description="Vietnamese đồng, integer (no decimals)")]

CategoryCode = Annotated[
    str,
    Field(description="product category code or name (e.g. 'coffee', 'cà phê')"),
    AfterValidator(lambda value: lookup_category(value).code),
]
"""A product category from the taxonomy, normalised to its code (the market key)."""


def _weight_unit(value: str) -> str:
    unit = parse_unit(value)
    if not unit.is_weight:
        raise ValueError(
            f"unit {value!r} is a piece unit; this version trades by weight: "
            "use kg, tấn, tạ, yến or g"
        )
    return unit.code


WeightUnit = Annotated[
    str,
    Field(description="kg, tấn, tạ, yến or g (with or without diacritics)"),
    AfterValidator(_weight_unit),
]


class Quantity(BaseModel):
    """An amount in a trade unit (kg, tấn, tạ, yến, g); compared between parties in kilograms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=3)
    unit: WeightUnit

    @property
    def kg(self) -> Decimal:
        return to_kg(self.amount, self.unit)


class Province(BaseModel):
    """A current provincial unit (after the 2025 merger), remembering the legacy name given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    Province,
    BeforeValidator(_parse_province, json_schema_input_type=str | Province),
    Field(description="province, current or legacy (pre-2025) name, with or without diacritics"),
]
