"""Trade-connection sessions (hội nghị kết nối cung cầu) run by an organizer."""

from __future__ import annotations

from pydantic import Field

from schemas.fields import Contract, DateWindow, Identifier, ProvinceField, Text


class Session(Contract):
    session_id: Identifier
    organizer_id: Identifier
    name: Text
    host_province: ProvinceField
    dates: DateWindow
    venue: Text | None = None
    invited_provinces: list[ProvinceField] = Field(default_factory=list, max_length=34)
