"""Offers (supply) and demands: what suppliers publish and what buyers ask for."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import CategoryCode, Identifier, ProvinceField, Quantity, Text, Vnd, WeightUnit


class OfferSubmission(BaseModel):
    """The body a supplier or province posts to publish an offer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    supplier_id: Identifier
    product_name: Text
    category: CategoryCode
    origin_province: ProvinceField
    quantity: Quantity
    unit_price_vnd: Vnd = Field(description="price per `price_unit`, integer VND")
    price_unit: WeightUnit = "kg"


class Offer(OfferSubmission):
    """An offer as it travels on Kafka: the submission plus its id."""

    offer_id: Identifier

    @property
    def quantity_kg(self) -> Decimal:
        return self.quantity.kg


class DemandSubmission(BaseModel):
    """The body a buyer posts to ask for a quantity of a product category."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    buyer_id: Identifier
    category: CategoryCode
    product_keywords: list[Text] = Field(default_factory=list, max_length=20)
    quantity: Quantity
    max_unit_price_vnd: Vnd | None = Field(
        default=None, description="price ceiling per `price_unit`, integer VND"
    )
    price_unit: WeightUnit = "kg"
    delivery_province: ProvinceField


class Demand(DemandSubmission):
    """A demand as it travels on Kafka."""

    demand_id: Identifier

    @property
    def quantity_kg(self) -> Decimal:
        return self.quantity.kg
