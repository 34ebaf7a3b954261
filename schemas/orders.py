"""Offers (supply) and demands: what suppliers publish and what buyers ask for.

A ``*Submission`` is the body a client sends; the entity adds the id the gateway assigns and a
revision that orders its updates. Quantities compare in kg, prices per kg (see ``price_unit``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from schemas.fields import (
    Contract,
    DateWindow,
    Days,
    ExternalRef,
    Identifier,
    ProvinceField,
    Quantity,
    Revision,
    Vnd,
    WeightUnit,
)
from schemas.products import Product, ProductCriteria

POOL_DESCRIPTION = (
    "the closed pool the order matches in: the id of its session when that session's scope is "
    "`session`, else null (the public market). Set by the gateway, never by the client; an "
    "offer and a demand are matched only when their pools are equal"
)

Clearing = Literal["instant", "rounds"]
CLEARING_DESCRIPTION = (
    "how the order is matched: `instant` = on arrival, first come first served; `rounds` = it "
    "rests until its market's next clearing round, where every open order of its pool is "
    "allocated at once for the most volume, then the best scores. Set by the gateway from the "
    "session or market, never by the client; orders of different modes never match"
)

MAX_SHIPS_TO = 100
"""34 current provinces, or their 63 legacy names: a longer list only repeats itself."""


def _not_above(small: Quantity | None, whole: Quantity, small_name: str) -> None:
    if small is not None and small.kg > whole.kg:
        raise ValueError(f"{small_name} ({small.kg} kg) is above quantity ({whole.kg} kg)")


class OfferSubmission(Contract):
    """What a supplier (or its province, for a catalogue) publishes."""

    supplier_id: Identifier
    product: Product
    origin_province: ProvinceField
    quantity: Quantity
    unit_price_vnd: Vnd = Field(description="price per `price_unit`, integer VND")
    price_unit: WeightUnit = "kg"
    min_order: Quantity | None = Field(default=None, description="smallest lot the supplier sells")
    available: DateWindow = Field(description="dates the goods can be delivered from")
    ships_to: list[ProvinceField] | None = Field(
        default=None,
        max_length=MAX_SHIPS_TO,
        description="provinces it delivers to (current or legacy names); omitted = anywhere",
    )
    lead_time_days: Days = Field(default=0, description="days from order to dispatch")
    max_deferred_payment_days: Days = Field(
        default=0, description="longest deferred payment the supplier accepts (0 = cash)"
    )
    issues_vat_invoice: bool = False
    has_traceability_stamps: bool = False
    excluded_buyers: list[Identifier] = Field(
        default_factory=list,
        max_length=100,
        description="buyers never to be matched (do not match)",
    )
    external_ref: ExternalRef | None = Field(
        default=None, description="the item's source and key in the publisher's records"
    )

    @model_validator(mode="after")
    def _lots_fit(self) -> Self:
        _not_above(self.min_order, self.quantity, "min_order")
        return self


class Offer(OfferSubmission):
    offer_id: Identifier
    revision: Revision = 1
    pool: Identifier | None = Field(default=None, description=POOL_DESCRIPTION)
    clearing: Clearing = Field(default="instant", description=CLEARING_DESCRIPTION)

    @property
    def quantity_kg(self) -> Decimal:
        return self.quantity.kg

    @property
    def market_key(self) -> str:
        return self.product.category


class DemandSubmission(Contract):
    """What a supermarket, trade centre, wholesale market or other buyer asks for."""

    buyer_id: Identifier
    criteria: ProductCriteria
    quantity: Quantity
    max_unit_price_vnd: Vnd | None = Field(
        default=None, description="price ceiling per `price_unit`, integer VND"
    )
    price_unit: WeightUnit = "kg"
    delivery_province: ProvinceField
    delivery_window: DateWindow
    payment_terms_days: Days = Field(
        default=0, description="days after delivery the buyer pays (deferred payment)"
    )
    requires_vat_invoice: bool = False
    requires_traceability: bool = False
    accepts_partial: bool = Field(default=True, description="may be filled by several suppliers")
    min_lot: Quantity | None = Field(
        default=None, description="smallest quantity worth taking from one supplier"
    )
    excluded_suppliers: list[Identifier] = Field(
        default_factory=list, max_length=100, description="suppliers never to be matched"
    )
    external_ref: ExternalRef | None = Field(
        default=None, description="the item's source and key in the publisher's records"
    )

    @model_validator(mode="after")
    def _lots_fit(self) -> Self:
        _not_above(self.min_lot, self.quantity, "min_lot")
        return self


class Demand(DemandSubmission):
    demand_id: Identifier
    revision: Revision = 1
    pool: Identifier | None = Field(default=None, description=POOL_DESCRIPTION)
    clearing: Clearing = Field(default="instant", description=CLEARING_DESCRIPTION)

    @property
    def quantity_kg(self) -> Decimal:
        return self.quantity.kg

    @property
    def market_key(self) -> str:
        return self.criteria.category
