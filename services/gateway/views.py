"""Response models: what the API answers, documented in OpenAPI and checked by schemathesis.

Reads return read-model documents as the recorder wrote them, so the views name the fields a
client relies on and allow the others (new optional fields appear without an API change).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from services.gateway.problems import ApiProblem, FieldProblem

T = TypeVar("T")
RESERVED = "kg held by its matches awaiting the parties (proposed, or accepted by one side)"
CONFIRMED = "kg of its matches both parties accepted"
OPEN = "quantity - reserved - confirmed (at least 0; 0 once withdrawn or cancelled)"
STATE = "open, partly_matched, reserved, filled, withdrawn or cancelled"
CLEARING = (
    "instant (matched on arrival, first come first served) or rounds (waits for its market's "
    "or session's next clearing round); set by the gateway from the session or market"
)


class Accepted(BaseModel):
    """A write is durably in Kafka (acks=all); its effects follow within seconds."""

    event_id: uuid.UUID = Field(description="the event's id (grep the logs by it)")
    id: str = Field(description="the id of the offer, demand, match, session or organization")
    status_url: str = Field(description="where to read the result once recorded")
    revision: int | None = Field(default=None, description="for updates: the new revision")


class _View(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str | None = None
    session_id: str | None = None
    occurred_at: datetime | None = None
    last_event_id: str | None = None
    source: str | None = None


class OfferView(_View):
    offer_id: str
    supplier_id: str | None = None
    revision: int | None = None
    product: dict[str, Any] | None = None
    origin_province: dict[str, Any] | None = None
    quantity: dict[str, Any] | None = None
    quantity_kg: float | None = None
    unit_price_vnd: int | None = None
    price_unit: str | None = None
    reserved_kg: float = Field(default=0.0, description=RESERVED)
    confirmed_kg: float = Field(default=0.0, description=CONFIRMED)
    open_kg: float = Field(default=0.0, description=OPEN)
    state: str | None = Field(default=None, description=STATE)
    clearing: str = Field(default="instant", description=CLEARING)


class DemandView(_View):
    demand_id: str
    buyer_id: str | None = None
    revision: int | None = None
    criteria: dict[str, Any] | None = None
    quantity: dict[str, Any] | None = None
    quantity_kg: float | None = None
    max_unit_price_vnd: int | None = None
    delivery_province: dict[str, Any] | None = None
    match_status: str | None = Field(
        default=None,
        description="the matcher's latest word: open, proposed or filled (`state` is current)",
    )
    reserved_kg: float = Field(default=0.0, description=RESERVED)
    confirmed_kg: float = Field(default=0.0, description=CONFIRMED)
    open_kg: float = Field(default=0.0, description=OPEN)
    state: str | None = Field(default=None, description=STATE)
    unmatched_reason: str | None = Field(
        default=None, description="why the matcher found nothing for the open kg (while open)"
    )
    clearing: str = Field(default="instant", description=CLEARING)


class MatchView(_View):
    match_id: str
    offer_id: str | None = None
    demand_id: str | None = None
    supplier_id: str | None = None
    buyer_id: str | None = None
    category: str | None = None
    quantity_kg: float | None = None
    unit_price_vnd: int | None = None
    price_unit: str | None = None
    score: float | None = None
    score_breakdown: dict[str, float] = Field(
        default_factory=dict, description="points per criterion, adding up to `score`"
    )
    expires_at: datetime | None = None
    buyer_decision: str | None = None
    supplier_decision: str | None = None


class SessionView(_View):
    session_id: str
    organizer_id: str | None = None
    name: str | None = None
    host_province: dict[str, Any] | None = None
    dates: dict[str, Any] | None = None
    venue: str | None = None
    invited_provinces: list[dict[str, Any]] = Field(default_factory=list)
    scope: str | None = Field(
        default=None,
        description="market (orders match market-wide, stay open after the close) or session "
        "(orders match only each other; closing withdraws and cancels those still open)",
    )
    clearing: str = Field(
        default="instant",
        description="instant (orders match on arrival) or rounds (a session-scoped session "
        "whose orders wait for clearing rounds: POST /v1/sessions/{id}/rounds closes one); "
        "chosen at creation, never changed",
    )


class RoundsClosed(BaseModel):
    """A clearing round of a session is on its way to the matcher, one per market."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "3f1c2b9e-5d7a-5e0b-9c41-2a7d8e6f1b30",
                    "markets": ["coffee", "honey"],
                    "event_ids": [
                        "6b0f3c8e-2a4d-5b7e-8f19-0c2d4e6a8b1c",
                        "9d2e4f6a-1b3c-5d7e-8a9b-0c1d2e3f4a5b",
                    ],
                    "status_url": "/v1/matches?session_id=3f1c2b9e-5d7a-5e0b-9c41-2a7d8e6f1b30",
                }
            ]
        }
    )

    session_id: str
    markets: list[str] = Field(
        description="the markets (category codes) with open orders in the session: each "
        "clears them now; empty when the session has none"
    )
    event_ids: list[uuid.UUID] = Field(description="one `market.tick` per market, in order")
    status_url: str = Field(description="where the round's proposals appear: the session's matches")


class ParticipantView(_View):
    org_id: str
    party: str | None = None


class OrganizationView(_View):
    org_id: str
    name: str | None = None
    kind: str | None = None
    province: dict[str, Any] | None = None
    tax_code: str | None = None


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: the end)."""

    items: list[T]
    count: int
    next_cursor: str | None = None


class Tally(BaseModel):
    count: int = 0
    kg: float = 0.0


class OrderTotals(BaseModel):
    """A session's offers or demands: those not withdrawn or cancelled, and all by state."""

    count: int = Field(description="not withdrawn or cancelled")
    kg: float = Field(description="their quantity")
    open_kg: float
    reserved_kg: float
    confirmed_kg: float = Field(description="including matches made in another session")
    by_state: dict[str, Tally] = Field(description=STATE)


class Bucket(BaseModel):
    confirmed: int = Field(description="confirmed matches")
    confirmed_kg: float
    reserved_kg: float
    value_vnd: int = Field(description="of the confirmed kg")


class SessionStats(BaseModel):
    """A session's figures, counted as the monitor and the reports count them
    (``services/common/figures.py``). A match counts in its demand's session, else its
    offer's; an order's reserved, confirmed and open kg count all its matches."""

    session_id: str
    status: str | None = None
    participants: dict[str, int] = Field(description="by party: buyer, supplier")
    participants_by_province: dict[str, dict[str, int]] = Field(
        description="by the organization's province, then party"
    )
    provinces: int = Field(description="provinces the participants come from")
    offers: OrderTotals
    demands: OrderTotals
    matches: dict[str, Tally] = Field(
        description="by status now: proposed, accepted (by one side), confirmed, declined, "
        "expired, released"
    )
    funnel: dict[str, Tally] = Field(
        description="by stage reached: proposals (all), accepted, confirmed, declined, "
        "expired, released"
    )
    reserved_kg: float = Field(description="kg of matches awaiting the parties")
    confirmed_kg: float
    value_vnd: int = Field(description="confirmed kg times the offer's price per kg")
    fill_rate: float = Field(description="confirmed kg / the demands' kg, at most 1")
    by_origin: dict[str, Bucket] = Field(description="by the offer's province of origin")
    by_category: dict[str, Bucket] = Field(description="by product category code")


_CURSOR_TAG = "k1|"  # versions the cursor format and rejects strings that merely decode


def encode_cursor(last_id: str) -> str:
    """Opaque to clients: the last id of the page, to continue after it."""
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        if not text.startswith(_CURSOR_TAG):
            raise ValueError(cursor)
        return text.removeprefix(_CURSOR_TAG)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        problem = FieldProblem(
            path="query.cursor",
            problem="not a cursor from a previous page",
            allowed=["the next_cursor of the previous answer"],
        )
        raise ApiProblem(
            422, "cursor: not a cursor from a previous page", errors=[problem]
        ) from None


def public(doc: dict[str, Any], id_field: str) -> dict[str, Any]:
    """A stored document as the API shows it: ``_id`` becomes the entity's id field."""
    doc = dict(doc)
    return {id_field: doc.pop("_id"), **doc}
