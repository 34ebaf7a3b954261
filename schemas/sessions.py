"""Trade-connection sessions (hội nghị kết nối cung cầu) run by an organizer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.fields import Contract, DateWindow, Identifier, ProvinceField, Text
from schemas.matches import Party

Scope = Literal["market", "session"]
SCOPE_DESCRIPTION = (
    "where the session's offers and demands match: `market` (the default) = with any order of "
    "the public market, and they stay open there after the session closes; `session` = only "
    "with orders of this session, and closing the session withdraws its open offers and "
    "cancels its open demands (confirmed matches stay)"
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


class Session(Contract):
    session_id: Identifier
    organizer_id: Identifier
    name: Text
    host_province: ProvinceField
    dates: DateWindow
    venue: Text | None = None
    invited_provinces: list[ProvinceField] = Field(default_factory=list, max_length=34)
    scope: Scope = Field(default="market", description=SCOPE_DESCRIPTION)


class ParticipantSubmission(Contract):
    """An organization taking part in a session, as a buyer or as a supplier."""

    org_id: Identifier
    party: Party
