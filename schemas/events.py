"""Kafka events: one envelope shape for every event, discriminated by ``type``.

The envelope's ``event_id`` is the idempotency key: consumers that see an id twice change
nothing. ``occurred_at`` is the only clock the matcher reads, so replays decide the same way.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from schemas.fields import Identifier
from schemas.orders import Demand, Offer

SCHEMA_VERSION = 1
KETNOI_NAMESPACE = uuid.UUID("6f1c1d8e-5b0a-4c59-9a57-2f6d3c1e9b10")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: AwareDatetime
    source: str = Field(min_length=1, max_length=200, description="connector or API client id")
    session_id: Identifier | None = None
    correlation_id: uuid.UUID | None = None


class OfferPublished(Envelope):
    type: Literal["offer.published"] = "offer.published"
    offer: Offer

    @property
    def market_key(self) -> str:
        return self.offer.category


class DemandPosted(Envelope):
    type: Literal["demand.posted"] = "demand.posted"
    demand: Demand

    @property
    def market_key(self) -> str:
        return self.demand.category


class Match(BaseModel):
    """A quantity of one offer promised to one demand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match_id: Identifier
    offer_id: Identifier
    demand_id: Identifier
    supplier_id: Identifier
    buyer_id: Identifier
    category: str
    quantity_kg: Decimal = Field(gt=0)
    unit_price_vnd: int = Field(ge=0, description="the offer's price per `price_unit`")
    price_unit: str = "kg"
    status: Literal["proposed"] = "proposed"


class MatchProposed(Envelope):
    type: Literal["match.proposed"] = "match.proposed"
    match: Match

    @property
    def market_key(self) -> str:
        return self.match.category


class DemandUnmatched(Envelope):
    """The matcher holds a demand open: nothing in the book fits it yet, and why."""

    type: Literal["demand.unmatched"] = "demand.unmatched"
    demand_id: Identifier
    category: str
    open_kg: Decimal
    reason: str

    @property
    def market_key(self) -> str:
        return self.category


AnyEvent = Annotated[
    OfferPublished | DemandPosted | MatchProposed | DemandUnmatched, Field(discriminator="type")
]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> AnyEvent:
    """Parse and validate one event from its JSON bytes (raises pydantic.ValidationError)."""
    return EVENT_ADAPTER.validate_json(raw)


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def derived_id(*parts: str) -> str:
    """A deterministic id from its parts, so a replay or a retry yields the same id."""
    return str(uuid.uuid5(KETNOI_NAMESPACE, "|".join(parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)
