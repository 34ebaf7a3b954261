"""Trade-connection sessions (hội nghị kết nối cung cầu) run by an organizer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.fields import Contract, DateWindow, Identifier, ProvinceField, Text
from schemas.matches import Party
from schemas.orders import Clearing

Scope = Literal["market", "session"]
SCOPE_DESCRIPTION = (
    "where the session's offers and demands match: `market` (the default) = with any order of "
    "the public market, and they stay open there after the session closes; `session` = only "
    "with orders of this session, and closing the session withdraws its open offers and "
    "cancels its open demands (confirmed matches stay)"
)
SESSION_CLEARING_DESCRIPTION = (
    "how a session-scoped session's orders are matched: `instant` (the default) = on arrival; "
    "`rounds` = in clearing rounds, closed by the market's round interval or by the organizer "
    "(`POST /v1/sessions/{id}/rounds`). Only with scope `session`: other sessions' orders match "
    "in the public market, by the market's mode"
)


class SessionSubmission(Contract):
    """What an organizer sends to create a session; the gateway assigns the id."""

    name: Text
    host_province: ProvinceField
    dates: DateWindow
    venue: Text | None = None
    invited_provinces: list[ProvinceField] = Field(
        default_factory=list,
        max_length=34,
        description="provinces whose suppliers may take part; empty = the host province only",
    )
    organizer_id: Identifier | None = Field(
        default=None, description="the organizing body; omitted = the caller's organization"
    )
    scope: Scope = Field(default="market", description=SCOPE_DESCRIPTION)
    clearing: Clearing = Field(default="instant", description=SESSION_CLEARING_DESCRIPTION)

    @field_validator("clearing")
    @classmethod
    def _rounds_need_a_pool(cls, clearing: Clearing, info: ValidationInfo) -> Clearing:
        """A field check (scope is validated before it), so the 422 names ``clearing``."""
        if clearing == "rounds" and info.data.get("scope") != "session":
            raise ValueError("'rounds' needs scope 'session' (the session's own pool)")
        return clearing


class Session(Contract):
    session_id: Identifier
    organizer_id: Identifier
    name: Text
    host_province: ProvinceField
    dates: DateWindow
    venue: Text | None = None
    invited_provinces: list[ProvinceField] = Field(default_factory=list, max_length=34)
    scope: Scope = Field(default="market", description=SCOPE_DESCRIPTION)
    clearing: Clearing = Field(default="instant", description=SESSION_CLEARING_DESCRIPTION)


class ParticipantSubmission(Contract):
    """An organization taking part in a session, as a buyer or as a supplier."""

    org_id: Identifier
    party: Party
