"""What every read-model write is made of: the ``Write`` itself, the envelope fields each
document keeps, and the participant document's id. A leaf module, so the event mappings
(``documents``, ``programme``) and the gateway share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.events import Envelope, derived_id


@dataclass(frozen=True)
class Write:
    collection: str
    doc_id: str
    fields: dict[str, Any]
    newer_than_stored: int | None = None
    """Apply only if the stored document has a lower ``revision`` (or none)."""
    unless: dict[str, Any] = field(default_factory=dict)
    """Skip if the stored document already has any of these values."""


def envelope_fields(event: Envelope) -> dict[str, Any]:
    """The envelope fields a document keeps of the event that last wrote it."""
    return {
        "last_event_id": str(event.event_id),
        "occurred_at": event.occurred_at,
        "source": event.source,
        "session_id": event.session_id,
    }


def participant_id(session_id: str, org_id: str) -> str:
    """One document per organization and session: registering twice changes nothing."""
    return derived_id("participant", session_id, org_id)
