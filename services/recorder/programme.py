"""How a session's programme events (meetings, outcomes, deliveries) become read-model writes.

A meeting's document moves through stages kept in ``revision`` (1 requested, 2 scheduled,
3 cancelled), so the ``Write`` guard applies each stage once and never moves a meeting back: a
redelivered "scheduled" after "cancelled" changes nothing. A scheduled meeting holds its seats
(``session|slot|table`` and ``session|org|slot`` per party) under unique indexes, so the store
refuses a double booking whatever raced; requested and cancelled meetings hold seats of their
own (``-`` and the meeting id), which clash with nothing.

An outcome or a delivery keeps each party's latest statement; ``settle`` then derives what both
agreed (``services.programme.outcomes``) from the stored statements. It runs after the writes
on the same partition, in order, so the derived fields always follow the statements stored.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from schemas.events import (
    AvailabilitySet,
    DeliveryStated,
    Envelope,
    MeetingCancelled,
    MeetingPlanSet,
    MeetingRequested,
    MeetingScheduled,
    OutcomeStated,
    derived_id,
)
from services.common.store import DELIVERIES, MEETINGS, OUTCOMES, PARTICIPANTS, SESSIONS
from services.programme.outcomes import agreement, delivery_agreement
from services.recorder.writes import Write, envelope_fields, participant_id

REQUESTED, SCHEDULED, CANCELLED = 1, 2, 3
"""A meeting's stages, in the order they may follow each other (``revision``)."""

PROGRAMME_EVENTS = (
    MeetingPlanSet,
    AvailabilitySet,
    MeetingRequested,
    MeetingScheduled,
    MeetingCancelled,
    OutcomeStated,
    DeliveryStated,
)


def delivery_id(meeting_id: str, delivery_ref: str) -> str:
    """One document per meeting and delivery reference: both parties state the same one."""
    return derived_id("delivery", meeting_id, delivery_ref)


def free_seats(meeting_id: str) -> dict[str, str]:
    """Seat values of a meeting that holds no seat: unique to it, so they clash with none."""
    return {name: f"-{name}|{meeting_id}" for name in ("seat", "buyer_seat", "supplier_seat")}


def taken_seats(session_id: str, slot: int, table: int, buyer: str, supplier: str) -> dict:
    return {
        "seat": f"{session_id}|{slot}|{table}",
        "buyer_seat": f"{session_id}|{buyer}|{slot}",
        "supplier_seat": f"{session_id}|{supplier}|{slot}",
    }


def programme_writes(event: Envelope) -> list[Write]:
    """The writes of one programme event; ``documents.writes_for`` delegates here."""

    meta = envelope_fields(event)
    match event:
        case MeetingPlanSet():
            plan = event.plan.model_dump(mode="json")
            return [Write(SESSIONS, event.session_id, {"meeting_plan": plan})]
        case AvailabilitySet():
            fields = {"unavailable_slots": list(event.unavailable_slots),
                      "availability_set_at": event.occurred_at}  # fmt: skip
            return [Write(PARTICIPANTS, participant_id(event.session_id, event.org_id), fields)]
        case MeetingRequested():
            fields = {**meta, "buyer_id": event.buyer_id, "supplier_id": event.supplier_id,
                      "status": "requested", "revision": REQUESTED, "match_ids": [],
                      **free_seats(event.meeting_id)}  # fmt: skip
            return [
                Write(MEETINGS, event.meeting_id, fields, newer_than_stored=REQUESTED),
                Write(MEETINGS, event.meeting_id, {"requested_by": list(event.requested_by)}),
            ]
        case MeetingScheduled():
            seats = taken_seats(event.session_id, event.slot, event.table, event.buyer_id,
                                event.supplier_id)  # fmt: skip
            fields = {**meta, "buyer_id": event.buyer_id, "supplier_id": event.supplier_id,
                      "status": "scheduled", "revision": SCHEDULED, "slot": event.slot,
                      "table": event.table, "starts_at": event.starts_at.isoformat(),
                      "ends_at": event.ends_at.isoformat(), "match_ids": list(event.match_ids),
                      "requested_by": list(event.requested_by), "category": event.category,
                      **seats}  # fmt: skip
            return [Write(MEETINGS, event.meeting_id, fields, newer_than_stored=SCHEDULED)]
        case MeetingCancelled():
            fields = {**meta, "status": "cancelled", "revision": CANCELLED,
                      "cancelled_by": event.org_id, "cancelled_party": event.party.value,
                      "cancel_reason": event.reason, "cancelled_at": event.occurred_at,
                      **free_seats(event.meeting_id)}  # fmt: skip
            return [Write(MEETINGS, event.meeting_id, fields, newer_than_stored=CANCELLED)]
        case OutcomeStated():
            s = event.statement
            statement = {
                "kind": s.kind.value,
                "volume_kg": None if s.volume is None else float(s.volume.kg),
                "volume": None if s.volume is None else s.volume.model_dump(mode="json"),
                "value_vnd": s.value_vnd,
                "delivery_start": None if s.delivery is None else s.delivery.start.isoformat(),
                "delivery_end": None if s.delivery is None else s.delivery.end.isoformat(),
                "org_id": event.org_id,
                "stated_at": event.occurred_at,
            }
            fields = {**meta, "meeting_id": event.meeting_id, "buyer_id": event.buyer_id,
                      "supplier_id": event.supplier_id, "category": event.category,
                      f"statements.{event.party.value}": statement}  # fmt: skip
            return [Write(OUTCOMES, event.meeting_id, fields)]
        case DeliveryStated():
            d = event.delivery
            statement = {
                "delivered_on": d.delivered_on.isoformat(),
                "quantity_kg": float(d.quantity.kg),
                "quantity": d.quantity.model_dump(mode="json"),
                "value_vnd": d.value_vnd,
                "org_id": event.org_id,
                "stated_at": event.occurred_at,
            }
            fields = {**meta, "meeting_id": event.meeting_id, "delivery_ref": d.delivery_ref,
                      "buyer_id": event.buyer_id, "supplier_id": event.supplier_id,
                      f"statements.{event.party.value}": statement}  # fmt: skip
            return [Write(DELIVERIES, delivery_id(event.meeting_id, d.delivery_ref), fields)]
    raise ValueError(f"not a programme event: {event.type!r}")


async def settle(store: AsyncDatabase, event: Envelope) -> None:
    """Derive agreement from the statements stored (after an outcome's or a delivery's writes).
    A recomputation from what is stored: applying it again changes nothing."""
    match event:
        case OutcomeStated():
            collection, doc_id, rule = OUTCOMES, event.meeting_id, agreement
        case DeliveryStated():
            collection = DELIVERIES
            doc_id = delivery_id(event.meeting_id, event.delivery.delivery_ref)
            rule = delivery_agreement
        case _:
            return
    doc = await store[collection].find_one({"_id": doc_id}, {"statements": 1})
    if doc is None:
        return
    settled = rule(doc.get("statements")).as_fields()
    if collection == DELIVERIES:
        # The delivery's figures: the confirmed ones, else those of the one side that stated.
        agreed = settled["agreed"]
        claims = [doc["statements"][p] for p in settled["claimed_by"]]
        figures = agreed or (claims[0] if len(claims) == 1 else {})
        settled.update(
            confirmed=agreed is not None,
            delivered_on=figures.get("delivered_on"),
            quantity_kg=figures.get("quantity_kg"),
            value_vnd=figures.get("value_vnd"),
        )
    await store[collection].update_one({"_id": doc_id}, {"$set": settled})
