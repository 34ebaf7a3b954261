"""B2B meetings at a session and what came of them: the plan of slots and tables, each
participant's availability, requests to meet, and the outcome and deliveries each party states.

Every model is an API body or part of an event; all are bounded (lists, numbers, text), since a
client sends them. Times are timezone-aware; dates are calendar dates (Vietnam has one zone).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from schemas.fields import (
    Contract,
    DateWindow,
    Identifier,
    Moment,
    Quantity,
    Text,
    TradeDate,
    Vnd,
    WholeNumber,
)
from schemas.matches import Party

MAX_SLOTS = 48
"""Two days of 20-minute meetings, 8 hours a day: more is not one session's programme."""
MAX_TABLES = 500
SHORTEST_SLOT = timedelta(minutes=5)
LONGEST_SLOT = timedelta(hours=4)
MAX_MATCH_IDS = 200
"""Confirmed matches named on one meeting; a pair with more still meets once."""

SlotIndex = Annotated[
    WholeNumber, Field(ge=0, lt=MAX_SLOTS, description="a slot's position in the plan, from 0")
]
TableNumber = Annotated[
    WholeNumber, Field(ge=1, le=MAX_TABLES, description="a table's number, from 1")
]


class Slot(Contract):
    """One meeting time: every table hosts one meeting in it."""

    start: Moment
    end: Moment

    @model_validator(mode="after")
    def _sensible_length(self) -> Self:
        length = self.end - self.start
        if not SHORTEST_SLOT <= length <= LONGEST_SLOT:
            raise ValueError(
                f"end: a slot lasts from {SHORTEST_SLOT.seconds // 60} minutes to "
                f"{LONGEST_SLOT.seconds // 3600} hours (this one: {length})"
            )
        return self


class MeetingPlan(Contract):
    """The session's slots (in time order, not overlapping) and how many tables it has."""

    slots: list[Slot] = Field(min_length=1, max_length=MAX_SLOTS)
    tables: TableNumber = Field(description="tables in the room, numbered from 1")

    @field_validator("slots")
    @classmethod
    def _in_order(cls, slots: list[Slot]) -> list[Slot]:
        # Overlapping slots would let one organization sit at two tables at once.
        for index, (before, after) in enumerate(pairwise(slots), start=1):
            if after.start < before.end:
                raise ValueError(
                    f"slot {index} starts at {after.start.isoformat()}, before slot "
                    f"{index - 1} ends ({before.end.isoformat()}): list slots in time order, "
                    "without overlap"
                )
        return slots


class AvailabilitySubmission(Contract):
    """The slots a participant cannot attend (replaces what it said before)."""

    unavailable_slots: list[SlotIndex] = Field(default_factory=list, max_length=MAX_SLOTS)
    org_id: Identifier | None = Field(
        default=None, description="for an admin key: the participant; others: their own or omit"
    )

    @field_validator("unavailable_slots")
    @classmethod
    def _sorted_once(cls, slots: list[int]) -> list[int]:
        return sorted(set(slots))


class MeetingRequestSubmission(Contract):
    """A participant asks to meet a participant of the other party."""

    with_org_id: Identifier = Field(description="the participant to meet (the other party)")
    org_id: Identifier | None = Field(
        default=None, description="for an admin key: who asks; others: their own or omit"
    )


class Cancellation(Contract):
    """A party cannot attend its meeting: that slot becomes unavailable for it."""

    reason: Text | None = None
    party: Party | None = Field(
        default=None, description="for an admin key: which party cancels; others: omit"
    )


class OutcomeKind(StrEnum):
    NO_DEAL = "no_deal"
    MOU = "mou"  # biên bản ghi nhớ
    CONTRACT = "contract"  # hợp đồng


class OutcomeStatement(Contract):
    """What one party says came of a meeting. A contract names its volume, value and delivery
    dates; a memorandum of understanding may; "no deal" names none."""

    kind: OutcomeKind
    volume: Quantity | None = Field(default=None, description="required for a contract")
    value_vnd: Vnd | None = Field(default=None, description="required for a contract")
    delivery: DateWindow | None = Field(
        default=None, description="delivery dates: required for a contract"
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        given = [
            name for name in ("volume", "value_vnd", "delivery") if getattr(self, name) is not None
        ]
        if self.kind is OutcomeKind.NO_DEAL and given:
            raise ValueError(f"{given[0]}: a no_deal outcome has no volume, value or delivery")
        if self.kind is OutcomeKind.CONTRACT:
            missing = [n for n in ("volume", "value_vnd", "delivery") if n not in given]
            if missing:
                raise ValueError(f"{missing[0]}: required for a contract")
            if self.value_vnd == 0:
                raise ValueError("value_vnd: a contract has a value above 0")
        return self


class OutcomeSubmission(OutcomeStatement):
    party: Party | None = Field(
        default=None, description="for an admin key: which party states it; others: omit"
    )

    def statement(self) -> OutcomeStatement:
        return OutcomeStatement.model_validate(self.model_dump(exclude={"party"}))


class DeliveryStatement(Contract):
    """A delivery made against a meeting's contract, as one party states it; the other party
    confirms it by stating the same ``delivery_ref`` with the same figures."""

    delivery_ref: Identifier = Field(description="the parties' own reference, e.g. an invoice")
    delivered_on: TradeDate
    quantity: Quantity
    value_vnd: Vnd


class DeliverySubmission(DeliveryStatement):
    party: Party | None = Field(
        default=None, description="for an admin key: which party states it; others: omit"
    )

    def statement(self) -> DeliveryStatement:
        return DeliveryStatement.model_validate(self.model_dump(exclude={"party"}))
