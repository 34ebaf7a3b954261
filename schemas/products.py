"""What is traded: a product as a supplier describes it, and criteria as a buyer states them."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Self

from pydantic import Field, model_validator

from schemas.fields import CategoryCode, CertificationCode, Contract, Stars, Text, TradeDate
from schemas.reference.taxonomy import category as lookup_category

OCOP_RATING_VALID_MONTHS = 36


class Product(Contract):
    """A product on offer, with its OCOP rating and the papers the supplier holds."""

    name: Text
    category: CategoryCode
    ocop_group: str | None = Field(
        default=None, description="OCOP group code; derived from the category when omitted"
    )
    ocop_stars: Stars = 0
    ocop_rated_on: TradeDate | None = Field(
        default=None,
        description=f"date of the OCOP rating (valid {OCOP_RATING_VALID_MONTHS} months)",
    )
    certifications: list[CertificationCode] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        group = lookup_category(self.category).group
        if self.ocop_group is None:
            object.__setattr__(self, "ocop_group", group)
        elif self.ocop_group != group:
            raise ValueError(
                f"ocop_group {self.ocop_group!r} does not fit category {self.category!r}, "
                f"which belongs to group {group!r}"
            )
        if self.ocop_stars > 0 and self.ocop_rated_on is None:
            raise ValueError("ocop_rated_on is required when ocop_stars is above 0")
        object.__setattr__(self, "certifications", sorted(set(self.certifications)))
        return self

    def ocop_stars_on(self, day: date) -> int:
        """Stars still valid on ``day``: a rating lapses 36 months after it was given."""
        if self.ocop_rated_on is None or day >= add_months(
            self.ocop_rated_on, OCOP_RATING_VALID_MONTHS
        ):
            return 0
        return self.ocop_stars


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class ProductCriteria(Contract):
    """What a buyer accepts: the category, optional keywords, stars and papers required."""

    category: CategoryCode
    keywords: list[Text] = Field(default_factory=list, max_length=20)
    min_ocop_stars: Stars = 0
    required_certifications: list[CertificationCode] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _dedupe(self) -> Self:
        object.__setattr__(
            self, "required_certifications", sorted(set(self.required_certifications))
        )
        return self
