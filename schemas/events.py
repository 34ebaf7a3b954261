"""Kafka events: one envelope for every event, discriminated by ``type``.

- ``event_id`` is the idempotency key: a consumer that sees an id twice changes nothing.
- ``occurred_at`` is the only clock the matcher reads, so a replay decides the same way.
- ``schema_version`` is the major version. Within a major version changes are additive only
  (new optional fields, new event types); consumers are upgraded before producers.
- Every event names its topic (``TOPIC``) and Kafka key (``kafka_key``): events that change a
  market's book share the ``orders`` topic keyed by market, so one partition orders them all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from hashlib import sha1
from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter

from schemas.fields import Contract, Identifier, MarketCode, Moment, Text
from schemas.matches import Match, Party
from schemas.meetings import (
    MAX_MATCH_IDS,
    MAX_SLOTS,
    DeliveryStatement,
    MeetingPlan,
    OutcomeStatement,
    SlotIndex,
    TableNumber,
)
from schemas.orders import Demand, Offer
from schemas.organizations import Organization
from schemas.sessions import Session

SCHEMA_VERSION: Literal[1] = 1
KETNOI_NAMESPACE = uuid.UUID("6f1c1d8e-5b0a-4c59-9a57-2f6d3c1e9b10")

ORDERS, MATCHES, SESSIONS, ORGANIZATIONS = "orders", "matches", "sessions", "organizations"


class Envelope(Contract):
    event_id: uuid.UUID = Field(description="idempotency key: the same id is applied once")
    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: Moment
    source: str = Field(min_length=1, max_length=200, description="connector or API client id")
    session_id: Identifier | None = Field(default=None, description="trade-connection session")
    correlation_id: uuid.UUID | None = Field(default=None, description="event that caused this")

    TOPIC: ClassVar[str]

    @property
    def kafka_key(self) -> str:
        raise NotImplementedError


class _MarketEvent(Envelope):
    """An event keyed by its market (the product category)."""

    @property
    def market_key(self) -> str:
        raise NotImplementedError

    @property
    def kafka_key(self) -> str:
        return self.market_key


# -- orders topic: everything that changes a market's book -------------------------------------


class OfferPublished(_MarketEvent):
    TOPIC: ClassVar[str] = ORDERS
    type: Literal["offer.published"] = "offer.published"
    offer: Offer

    @property
    def market_key(self) -> str:
        return self.offer.market_key


class OfferUpdated(_MarketEvent):
    """The whole offer as it is now; ``offer.revision`` orders updates."""

    TOPIC: ClassVar[str] = ORDERS
    type: Literal["offer.updated"] = "offer.updated"
    offer: Offer

    @property
    def market_key(self) -> str:
        return self.offer.market_key


class OfferWithdrawn(_MarketEvent):
    TOPIC: ClassVar[str] = ORDERS
    type: Literal["offer.withdrawn"] = "offer.withdrawn"
    offer_id: Identifier
    category: MarketCode
    reason: Text | None = None

    @property
    def market_key(self) -> str:
        return self.category


class DemandPosted(_MarketEvent):
    TOPIC: ClassVar[str] = ORDERS
    type: Literal["demand.posted"] = "demand.posted"
    demand: Demand

    @property
    def market_key(self) -> str:
        return self.demand.market_key


class DemandUpdated(_MarketEvent):
    """The whole demand as it is now; ``demand.revision`` orders updates."""

    TOPIC: ClassVar[str] = ORDERS
    type: Literal["demand.updated"] = "demand.updated"
    demand: Demand

    @property
    def market_key(self) -> str:
        return self.demand.market_key


class DemandCancelled(_MarketEvent):
    TOPIC: ClassVar[str] = ORDERS
    type: Literal["demand.cancelled"] = "demand.cancelled"
    demand_id: Identifier
    category: MarketCode
    reason: Text | None = None

    @property
    def market_key(self) -> str:
        return self.category


class MatchAccepted(_MarketEvent):
    """One party accepts a proposal (double opt-in: both must)."""

    TOPIC: ClassVar[str] = ORDERS
    type: Literal["match.accepted"] = "match.accepted"
    match_id: Identifier
    category: MarketCode
    party: Party
    org_id: Identifier

    @property
    def market_key(self) -> str:
        return self.category


class MatchDeclined(_MarketEvent):
    """One party declines; the reserved quantity returns to the book."""

    TOPIC: ClassVar[str] = ORDERS
    type: Literal["match.declined"] = "match.declined"
    match_id: Identifier
    category: MarketCode
    party: Party
    org_id: Identifier
    reason: Text | None = None

    @property
    def market_key(self) -> str:
        return self.category


class MarketTick(_MarketEvent):
    """The market's clock: lets proposals expire when no other event arrives, and closes the
    clearing rounds of `rounds` orders. Produced by the matcher's ticker (a round at each
    boundary of its round interval) and by the gateway (an organizer closing a session's
    round) into the orders topic, so a replay sees the same time passing and the same rounds."""

    TOPIC: ClassVar[str] = ORDERS
    type: Literal["market.tick"] = "market.tick"
    category: MarketCode
    closes_round: bool = Field(
        default=False,
        description="true: clear the market's `rounds` orders now (every pool, or `round_pool`)",
    )
    round_pool: Identifier | None = Field(
        default=None,
        description="with closes_round: only this session-scoped session's pool is cleared",
    )

    @property
    def market_key(self) -> str:
        return self.category


# -- matches topic: what the matcher decided ----------------------------------------------------


class MatchProposed(_MarketEvent):
    TOPIC: ClassVar[str] = MATCHES
    type: Literal["match.proposed"] = "match.proposed"
    match: Match

    @property
    def market_key(self) -> str:
        return self.match.category


class _MatchOutcome(_MarketEvent):
    TOPIC: ClassVar[str] = MATCHES
    match_id: Identifier
    category: MarketCode
    offer_id: Identifier
    demand_id: Identifier
    quantity_kg: Decimal = Field(gt=0)

    @property
    def market_key(self) -> str:
        return self.category


class MatchConfirmed(_MatchOutcome):
    """Both parties accepted: the quantity is promised for good."""

    type: Literal["match.confirmed"] = "match.confirmed"


class MatchExpired(_MatchOutcome):
    """Not accepted in time: the reserved quantity returned to the book."""

    type: Literal["match.expired"] = "match.expired"


ReleaseReason = Literal[
    "declined",
    "offer-withdrawn",
    "demand-cancelled",
    "offer-reduced",
    "demand-reduced",
    "offer-changed",
    "demand-changed",
]
"""Why a proposal ended unconfirmed (``-changed``: an update's new terms no longer fit it)."""


class MatchReleased(_MatchOutcome):
    """A proposal ended without confirmation; its quantity returned to the book."""

    type: Literal["match.released"] = "match.released"
    reason: ReleaseReason


class DemandFilled(_MarketEvent):
    """Confirmed matches now cover the whole demand."""

    TOPIC: ClassVar[str] = MATCHES
    type: Literal["demand.filled"] = "demand.filled"
    demand_id: Identifier
    category: MarketCode
    filled_kg: Decimal = Field(gt=0)

    @property
    def market_key(self) -> str:
        return self.category


class DemandUnmatched(_MarketEvent):
    """The matcher holds a demand (partly) open: nothing in the book fits the rest, and why."""

    TOPIC: ClassVar[str] = MATCHES
    type: Literal["demand.unmatched"] = "demand.unmatched"
    demand_id: Identifier
    category: MarketCode
    open_kg: Decimal = Field(ge=0)
    reason: str = Field(max_length=2000)

    @property
    def market_key(self) -> str:
        return self.category


# -- sessions and organizations -----------------------------------------------------------------


class SessionCreated(Envelope):
    """An organizer scheduled a session; it opens for offers and demands later."""

    TOPIC: ClassVar[str] = SESSIONS
    type: Literal["session.created"] = "session.created"
    session: Session

    @property
    def kafka_key(self) -> str:
        return self.session.session_id


class ParticipantRegistered(Envelope):
    """An organization takes part in a session as a buyer or a supplier."""

    TOPIC: ClassVar[str] = SESSIONS
    type: Literal["participant.registered"] = "participant.registered"
    session_id: Identifier  # required here: the session joined
    org_id: Identifier
    party: Party

    @property
    def kafka_key(self) -> str:
        return self.session_id


class SessionOpened(Envelope):
    TOPIC: ClassVar[str] = SESSIONS
    type: Literal["session.opened"] = "session.opened"
    session: Session

    @property
    def kafka_key(self) -> str:
        return self.session.session_id


class SessionClosed(Envelope):
    TOPIC: ClassVar[str] = SESSIONS
    type: Literal["session.closed"] = "session.closed"
    session_id: Identifier  # required here: the session that closed

    @property
    def kafka_key(self) -> str:
        return self.session_id


class OrganizationRegistered(Envelope):
    TOPIC: ClassVar[str] = ORGANIZATIONS
    type: Literal["organization.registered"] = "organization.registered"
    organization: Organization

    @property
    def kafka_key(self) -> str:
        return self.organization.org_id


# -- meetings and outcomes (sessions topic, keyed by session) ---------------------------------


class _SessionEvent(Envelope):
    """An event of one session's programme: on the sessions topic, keyed by the session."""

    TOPIC: ClassVar[str] = SESSIONS
    session_id: Identifier  # required here: the session it belongs to

    @property
    def kafka_key(self) -> str:
        return self.session_id


class MeetingPlanSet(_SessionEvent):
    """The organizer set (or replaced) the session's meeting slots and tables."""

    type: Literal["meeting.plan_set"] = "meeting.plan_set"
    plan: MeetingPlan


class AvailabilitySet(_SessionEvent):
    """A participant named the slots it cannot attend (replacing what it said before)."""

    type: Literal["meeting.availability_set"] = "meeting.availability_set"
    org_id: Identifier
    party: Party
    unavailable_slots: list[SlotIndex] = Field(default_factory=list, max_length=MAX_SLOTS)


class MeetingRequested(_SessionEvent):
    """A participant asked to meet one of the other party; the scheduler places it later."""

    type: Literal["meeting.requested"] = "meeting.requested"
    meeting_id: Identifier
    buyer_id: Identifier
    supplier_id: Identifier
    requested_by: list[Identifier] = Field(min_length=1, max_length=2)


class MeetingScheduled(_SessionEvent):
    """A meeting placed at a slot and a table."""

    type: Literal["meeting.scheduled"] = "meeting.scheduled"
    meeting_id: Identifier
    buyer_id: Identifier
    supplier_id: Identifier
    slot: SlotIndex
    table: TableNumber
    starts_at: Moment
    ends_at: Moment
    match_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_MATCH_IDS)
    requested_by: list[Identifier] = Field(default_factory=list, max_length=2)
    category: MarketCode | None = None


class MeetingCancelled(_SessionEvent):
    """A party cannot attend: the meeting is off and its slot unavailable for that party."""

    type: Literal["meeting.cancelled"] = "meeting.cancelled"
    meeting_id: Identifier
    org_id: Identifier
    party: Party
    reason: Text | None = None


class OutcomeStated(_SessionEvent):
    """One party's statement of what came of a meeting (replaces its earlier one)."""

    type: Literal["outcome.stated"] = "outcome.stated"
    meeting_id: Identifier
    buyer_id: Identifier
    supplier_id: Identifier
    category: MarketCode | None = None
    party: Party
    org_id: Identifier
    statement: OutcomeStatement


class DeliveryStated(_SessionEvent):
    """One party's statement of a delivery against a meeting's contract."""

    type: Literal["delivery.stated"] = "delivery.stated"
    meeting_id: Identifier
    buyer_id: Identifier
    supplier_id: Identifier
    party: Party
    org_id: Identifier
    delivery: DeliveryStatement


EVENT_TYPES: tuple[type[Envelope], ...] = (
    OfferPublished,
    OfferUpdated,
    OfferWithdrawn,
    DemandPosted,
    DemandUpdated,
    DemandCancelled,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    MatchConfirmed,
    MatchExpired,
    DemandUnmatched,
    SessionOpened,
    SessionClosed,
    OrganizationRegistered,
    MarketTick,
    MatchReleased,
    DemandFilled,
    SessionCreated,
    ParticipantRegistered,
    MeetingPlanSet,
    AvailabilitySet,
    MeetingRequested,
    MeetingScheduled,
    MeetingCancelled,
    OutcomeStated,
    DeliveryStated,
)

AnyEvent = Annotated[
    OfferPublished
    | OfferUpdated
    | OfferWithdrawn
    | DemandPosted
    | DemandUpdated
    | DemandCancelled
    | MatchAccepted
    | MatchDeclined
    | MatchProposed
    | MatchConfirmed
    | MatchExpired
    | DemandUnmatched
    | SessionOpened
    | SessionClosed
    | OrganizationRegistered
    | MarketTick
    | MatchReleased
    | DemandFilled
    | SessionCreated
    | ParticipantRegistered
    | MeetingPlanSet
    | AvailabilitySet
    | MeetingRequested
    | MeetingScheduled
    | MeetingCancelled
    | OutcomeStated
    | DeliveryStated,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def event_type_name(cls: type[Envelope]) -> str:
    return cls.model_fields["type"].default


def parse_event(raw: bytes | str) -> AnyEvent:
    """Parse and validate one event from its JSON bytes (raises pydantic.ValidationError)."""
    return EVENT_ADAPTER.validate_json(raw)


_NAMESPACE = KETNOI_NAMESPACE.bytes
_VERSION_5 = ~(0xF000 << 64), 5 << 76  # clear, then set the version field
_RFC_4122 = ~(0xC000 << 48), 0x8000 << 48  # the variant field


def derived_id(*parts: str) -> str:
    """A deterministic id from its parts, so a replay or a retry yields the same id: the text
    of ``uuid.uuid5(KETNOI_NAMESPACE, "|".join(parts))``, computed without ``uuid.UUID``
    (whose constructor and ``str`` run in Python and cost twice the hash; a test holds the
    two equal). The matcher derives one for every output event."""
    digest = sha1(_NAMESPACE + "|".join(parts).encode()).digest()
    value = int.from_bytes(digest[:16])
    value = (value & _VERSION_5[0] | _VERSION_5[1]) & _RFC_4122[0] | _RFC_4122[1]
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)
