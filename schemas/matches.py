"""Matches: a quantity of one offer promised to one demand, and how it is decided."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, Field

from schemas.fields import Contract, Identifier, MarketCode, Text, Vnd


class Party(StrEnum):
    BUYER = "buyer"
    SUPPLIER = "supplier"


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"  # by one side; waits for the other
    CONFIRMED = "confirmed"  # both sides accepted
    DECLINED = "declined"
    EXPIRED = "expired"


class Match(Contract):
    match_id: Identifier
    offer_id: Identifier
    demand_id: Identifier
    supplier_id: Identifier
    buyer_id: Identifier
    category: MarketCode
    quantity_kg: Decimal = Field(gt=0)
    unit_price_vnd: Vnd = Field(description="the offer's price per `price_unit`")
    price_unit: str = Field(default="kg", max_length=16)
    score: float | None = Field(default=None, ge=0, le=100)
    score_breakdown: dict[str, float] = Field(
        default_factory=dict,
        max_length=32,
        description="points per criterion, adding up to `score`",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="a proposal not accepted by both sides by then expires"
    )
    reason: Text | None = Field(default=None, description="why it was proposed, in words")
