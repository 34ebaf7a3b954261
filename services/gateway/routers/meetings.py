"""B2B meetings at a session: the organizer sets slots and tables and runs the scheduler;
participants say when they cannot come, ask to meet someone, and cancel; everyone prints an
agenda. Writes are events on the session's partition; the recorder stores the meetings."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import (
    AvailabilitySet,
    MeetingCancelled,
    MeetingRequested,
    MeetingScheduled,
    derived_id,
    utcnow,
)
from schemas.events import MeetingPlanSet as PlanSet
from schemas.fields import VIETNAM
from schemas.meetings import (
    AvailabilitySubmission,
    Cancellation,
    MeetingPlan,
    MeetingRequestSubmission,
)
from services.common.store import MEETINGS, OUTCOMES
from services.gateway import programme as prog
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.common import (
    CHANGE_ERRORS,
    Cursor,
    Limit,
    PathId,
    accepted,
    page,
    require_session_status,
    source,
)
from services.gateway.context import Gateway, GatewayDep
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.keys import Caller
from services.gateway.problems import ApiProblem, FieldProblem, documented
from services.gateway.views import Accepted, Page
from services.programme.scheduling import MeetingWish, Placement, Schedule, schedule

router = APIRouter(tags=["meetings"], route_class=StrictJsonRoute)
READ_ERRORS = documented(401, 403, 404, 422, 429, 503)
SCHEDULE_SECONDS = 2.0
"""The scheduler's budget per run (deterministic work; see services/programme/scheduling)."""
MAX_UNPLACED_SHOWN = 100


class MeetingView(BaseModel):
    """A meeting as stored: requested, scheduled (with its slot and table) or cancelled."""

    model_config = ConfigDict(extra="allow")

    meeting_id: str
    session_id: str | None = None
    buyer_id: str | None = None
    supplier_id: str | None = None
    status: str | None = Field(default=None, description="requested, scheduled or cancelled")
    slot: int | None = Field(default=None, description="index into the plan's slots, from 0")
    table: int | None = Field(default=None, description="table number, from 1")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    match_ids: list[str] = Field(default_factory=list)
    requested_by: list[str] = Field(default_factory=list)
    category: str | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None


class PlanView(BaseModel):
    session_id: str
    slots: list[dict[str, Any]] = Field(default_factory=list)
    tables: int | None = None
    unavailable_slots: list[int] | None = Field(
        default=None, description="for a participant: the slots it said it cannot do"
    )
    cancelled_slots: list[int] | None = Field(
        default=None,
        description="for a participant: slots of meetings it cancelled (not "
        "scheduled for it again)",
    )


class Unplaced(BaseModel):
    meeting_id: str | None = None
    buyer_id: str
    supplier_id: str
    reason: str


class ScheduleRun(BaseModel):
    """What one run placed: its meetings are recorded within seconds (GET .../meetings)."""

    session_id: str
    placed: int = Field(description="new meetings scheduled by this run")
    kept: int = Field(description="meetings scheduled before, kept where they were")
    unplaced_count: int
    unplaced: list[Unplaced] = Field(description=f"the first {MAX_UNPLACED_SHOWN}, and why")
    upper_bound: int = Field(description="no schedule can hold more meetings (kept included)")
    method: str = Field(description="how the meetings were placed, e.g. cp-sat optimal")
    status_url: str


class Rescheduled(BaseModel):
    meeting_id: str
    slot: int
    table: int
    starts_at: datetime
    ends_at: datetime


class CancelAnswer(Accepted):
    rescheduled: Rescheduled | None = Field(
        default=None, description="the pair's new meeting, when a slot allowed one"
    )
    not_rescheduled_because: str | None = None


def _session_url(session_id: str, tail: str) -> str:
    return f"/v1/sessions/{session_id}/{tail}"


def _envelope(ids_or_event: Ids | uuid.UUID, caller: Caller, session_id: str) -> dict[str, Any]:
    event_id = ids_or_event if isinstance(ids_or_event, uuid.UUID) else ids_or_event.event()
    return {"event_id": event_id, "occurred_at": utcnow(), "source": source(caller),
            "session_id": session_id}  # fmt: skip


def _derived_event(*parts: str) -> uuid.UUID:
    """An event id from what the event is about: a retry of the same change converges."""
    return uuid.UUID(derived_id(*parts))


# -- the plan ----------------------------------------------------------------------------------


@router.put(
    "/v1/sessions/{session_id}/meeting-plan",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Set the session's meeting slots and tables (organizer)",
)
async def set_plan(
    session_id: PathId,
    body: MeetingPlan,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        place = await prog.standing(gateway, caller, session_id)
        prog.require_organizer(place, "set the meeting plan")
        require_session_status(place.session, "set its meeting plan")
        _within_dates(place.session, body)
        _keeps_scheduled(await prog.programme(gateway, session_id), body)
        event = PlanSet(**_envelope(ids, caller, session_id), plan=body)
        await gateway.publish(event)
        return accepted(event, session_id, _session_url(session_id, "meeting-plan"))

    return await run_once(request, gateway, caller, idempotency_key, write)


def _within_dates(session: dict[str, Any], plan: MeetingPlan) -> None:
    """Every slot lies on the session's dates (Vietnam time)."""
    dates = session.get("dates") or {}
    first, last = dates.get("start"), dates.get("end")
    if not first or not last:
        return
    for index, slot in enumerate(plan.slots):
        for name, moment in (("start", slot.start), ("end", slot.end)):
            day = moment.astimezone(VIETNAM).date().isoformat()
            if not first <= day <= last:
                raise ApiProblem(
                    422,
                    f"slots[{index}].{name}: {day} is outside the session's dates "
                    f"({first} to {last}, Vietnam time)",
                    errors=[FieldProblem(path=f"slots[{index}].{name}",
                                         problem="outside the session's dates",
                                         allowed=[f"{first} to {last}"])],
                )  # fmt: skip


def _keeps_scheduled(found: prog.Programme, plan: MeetingPlan) -> None:
    """A new plan may add slots and tables, not move or drop one a meeting is scheduled in."""
    for doc in found.scheduled.values():
        slot, table = int(doc["slot"]), int(doc["table"])
        kept = slot < len(plan.slots) and (
            plan.slots[slot].start == datetime.fromisoformat(doc["starts_at"])
            and plan.slots[slot].end == datetime.fromisoformat(doc["ends_at"])
        )
        if not kept:
            raise ApiProblem(
                409,
                f"slots[{slot}]: meeting {doc['_id']!r} is scheduled in slot {slot} "
                f"({doc['starts_at']} to {doc['ends_at']}); keep that slot as it is, or cancel "
                "its meetings first",
                errors=[FieldProblem(path=f"slots[{slot}]", problem="a meeting is scheduled in it",
                                     allowed=[f"{doc['starts_at']} to {doc['ends_at']}"])],
            )  # fmt: skip
        if table > plan.tables:
            raise ApiProblem(
                409,
                f"tables: meeting {doc['_id']!r} is at table {table}",
                errors=[FieldProblem(path="tables", problem="a meeting is at a higher table",
                                     allowed=[f">= {table}"])],
            )  # fmt: skip


@router.get(
    "/v1/sessions/{session_id}/meeting-plan",
    response_model=PlanView,
    responses=READ_ERRORS,
    summary="Read the session's meeting slots and tables",
)
async def get_plan(session_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    place = await prog.standing(gateway, caller, session_id)
    plan = place.session.get("meeting_plan") or {}
    view: dict[str, Any] = {"session_id": session_id, "slots": plan.get("slots") or [],
                            "tables": plan.get("tables")}  # fmt: skip
    if place.org_id is not None:
        member = await prog.participant(gateway, session_id, place.org_id) or {}
        view["unavailable_slots"] = list(member.get("unavailable_slots") or [])
        found = await prog.programme(gateway, session_id)
        view["cancelled_slots"] = sorted(found.cancelled_slots.get(place.org_id, set()))
    return view


@router.put(
    "/v1/sessions/{session_id}/availability",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Say which slots a participant cannot attend",
)
async def set_availability(
    session_id: PathId,
    body: AvailabilitySubmission,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        place = await prog.standing(gateway, caller, session_id)
        org_id, party = await prog.acting_participant(gateway, place, caller, body.org_id)
        require_session_status(place.session, "change availability")
        count = len(prog.plan_of(place.session, "say which slots you cannot do")["slots"])
        beyond = [s for s in body.unavailable_slots if s >= count]
        if beyond:
            raise ApiProblem(
                422,
                f"unavailable_slots: slot {beyond[0]} does not exist; the plan has {count} "
                f"slots, 0 to {count - 1}",
                errors=[FieldProblem(path="unavailable_slots", problem=f"no slot {beyond[0]}",
                                     allowed=[f"0 to {count - 1}"])],
            )  # fmt: skip
        event = AvailabilitySet(**_envelope(ids, caller, session_id), org_id=org_id,
                                party=party, unavailable_slots=body.unavailable_slots)  # fmt: skip
        await gateway.publish(event)
        return accepted(event, org_id, _session_url(session_id, "meeting-plan"))

    return await run_once(request, gateway, caller, idempotency_key, write)


# -- requests and scheduling ------------------------------------------------------------------


@router.post(
    "/v1/sessions/{session_id}/meeting-requests",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Ask to meet a participant of the other party",
)
async def request_meeting(
    session_id: PathId,
    body: MeetingRequestSubmission,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        place = await prog.standing(gateway, caller, session_id)
        org_id, party = await prog.acting_participant(gateway, place, caller, body.org_id)
        require_session_status(place.session, "request meetings")
        other = await prog.participant(gateway, session_id, body.with_org_id)
        if other is None or other.get("party") == party.value:
            wanted = "supplier" if party.value == "buyer" else "buyer"
            raise ApiProblem(
                422,
                f"with_org_id: {body.with_org_id!r} is not a {wanted} of session {session_id!r}",
                errors=[FieldProblem(path="with_org_id", problem=f"not a {wanted} of the session")],
            )
        buyer, supplier = (
            (org_id, body.with_org_id) if party.value == "buyer" else (body.with_org_id, org_id)
        )
        found = await prog.programme(gateway, session_id)
        scheduled = found.scheduled.get((buyer, supplier))
        if scheduled is not None:
            raise ApiProblem(
                409,
                f"{buyer!r} and {supplier!r} already meet: meeting {scheduled['_id']!r}",
                errors=[FieldProblem(path="with_org_id", problem="a meeting is scheduled",
                                     allowed=[f"/v1/meetings/{scheduled['_id']}"])],
            )  # fmt: skip
        meeting_id = found.current_id(buyer, supplier)
        asked = list((found.requested.get((buyer, supplier)) or {}).get("requested_by") or [])
        asked = [*asked, org_id] if org_id not in asked else asked
        event = MeetingRequested(
            **_envelope(_derived_event("meeting.requested", meeting_id, org_id), caller,
                        session_id),
            meeting_id=meeting_id, buyer_id=buyer, supplier_id=supplier, requested_by=asked[:2],
        )  # fmt: skip
        await gateway.publish(event)
        return accepted(event, meeting_id, f"/v1/meetings/{meeting_id}")

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    "/v1/sessions/{session_id}/meetings:schedule",
    status_code=202,
    response_model=ScheduleRun,
    responses=CHANGE_ERRORS,
    summary="Schedule the meetings of confirmed matches and requests (organizer)",
)
async def schedule_meetings(
    session_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        place = await prog.standing(gateway, caller, session_id)
        prog.require_organizer(place, "schedule meetings")
        require_session_status(place.session, "schedule meetings")
        plan = prog.plan_of(place.session, "schedule")
        found = await prog.programme(gateway, session_id)
        roster = await prog.members(gateway, session_id)
        wishes = prog.wishes_for(found, await prog.confirmed_pairs(gateway, session_id), roster)
        result = await _run(plan, wishes.wishes, wishes.fixed, prog.unavailable(
            roster, found, len(plan["slots"])))  # fmt: skip
        kept = {p.key for p in wishes.fixed}
        new = [p for p in result.placements if p.key not in kept]
        events = [_scheduled(caller, session_id, plan, p, wishes.pairs[p.key]) for p in new]
        if events:
            await gateway.publish(*events)
        unplaced = [
            {"meeting_id": key, "buyer_id": wishes.pairs[key].buyer_id,
             "supplier_id": wishes.pairs[key].supplier_id, "reason": reason}
            for key, reason in result.unplaced if key in wishes.pairs
        ] + wishes.refused  # fmt: skip
        answer = ScheduleRun(
            session_id=session_id, placed=len(new), kept=len(kept),
            unplaced_count=len(unplaced), unplaced=unplaced[:MAX_UNPLACED_SHOWN],
            upper_bound=result.upper_bound, method=result.method,
            status_url=_session_url(session_id, "meetings"),
        )  # fmt: skip
        return JSONResponse(answer.model_dump(mode="json"), status_code=202)

    return await run_once(request, gateway, caller, idempotency_key, write)


async def _run(
    plan: dict[str, Any],
    wishes: list[MeetingWish],
    fixed: list[Placement],
    blocked: dict[str, frozenset[int]],
) -> Schedule:
    """The scheduler, off the event loop (it computes for up to a few seconds)."""
    try:
        return await asyncio.to_thread(schedule, wishes, len(plan["slots"]), int(plan["tables"]),
                                       blocked, fixed, SCHEDULE_SECONDS)  # fmt: skip
    except ValueError as exc:  # the stored meetings contradict each other: say so, change nothing
        raise ApiProblem(
            409, f"the session's meetings cannot be scheduled as stored: {exc}"
        ) from None


def _scheduled(
    caller: Caller, session_id: str, plan: dict[str, Any], placement: Placement, pair: prog.Pair
) -> MeetingScheduled:
    starts, ends = prog.slot_times(plan, placement.slot)
    return MeetingScheduled(
        **_envelope(_derived_event("meeting.scheduled", placement.key), caller, session_id),
        meeting_id=placement.key, buyer_id=pair.buyer_id, supplier_id=pair.supplier_id,
        slot=placement.slot, table=placement.table, starts_at=starts, ends_at=ends,
        match_ids=pair.match_ids, requested_by=pair.requested_by[:2], category=pair.category,
    )  # fmt: skip


# -- reading and cancelling -------------------------------------------------------------------


@router.get(
    "/v1/sessions/{session_id}/meetings",
    response_model=Page[MeetingView],
    responses=READ_ERRORS,
    summary="List the session's meetings (a participant: its own)",
)
async def list_meetings(
    session_id: PathId,
    gateway: GatewayDep,
    caller: CallerDep,
    status: Literal["requested", "scheduled", "cancelled"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    place = await prog.standing(gateway, caller, session_id)
    query: dict[str, Any] = {"session_id": session_id}
    if not place.organizer:
        query[f"{place.party}_id"] = place.org_id
    if status is not None:
        query["status"] = status
    result = await page(gateway.db[MEETINGS], query, "meeting_id", limit, cursor)
    result["items"] = [
        prog.meeting_view({"_id": item.pop("meeting_id"), **item}) for item in result["items"]
    ]
    return result


@router.get(
    "/v1/meetings/{meeting_id}",
    response_model=MeetingView,
    responses=READ_ERRORS,
    summary="Read a meeting",
)
async def get_meeting(meeting_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict:
    doc, _ = await prog.visible_meeting(gateway, caller, meeting_id)
    return prog.meeting_view(doc)


@router.post(
    "/v1/meetings/{meeting_id}/cancel",
    status_code=202,
    response_model=CancelAnswer,
    responses=CHANGE_ERRORS,
    summary="Cancel a meeting (its buyer or supplier); the pair is placed again if a slot allows",
)
async def cancel_meeting(
    meeting_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    body: Cancellation | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    body = body or Cancellation()

    async def write(ids: Ids) -> Response:
        doc, place = await prog.visible_meeting(gateway, caller, meeting_id)
        party = prog.acting_party(place, caller, body.party, "cancel it")
        prog.require_scheduled(doc, "cancel it")
        await _require_not_held(gateway, place, doc)
        session_id, org_id = doc["session_id"], doc[f"{party}_id"]
        cancelled = MeetingCancelled(
            **_envelope(_derived_event("meeting.cancelled", meeting_id), caller, session_id),
            meeting_id=meeting_id, org_id=org_id, party=party, reason=body.reason,
        )  # fmt: skip
        again, why = await _place_again(gateway, caller, place, doc, org_id)
        await gateway.publish(cancelled, *([again] if again else []))
        answer = CancelAnswer(
            event_id=cancelled.event_id, id=meeting_id, status_url=f"/v1/meetings/{meeting_id}",
            rescheduled=None if again is None else Rescheduled(
                meeting_id=again.meeting_id, slot=again.slot, table=again.table,
                starts_at=again.starts_at, ends_at=again.ends_at),
            not_rescheduled_because=why,
        )  # fmt: skip
        return JSONResponse(answer.model_dump(mode="json"), status_code=202)

    return await run_once(request, gateway, caller, idempotency_key, write)


async def _require_not_held(gateway: Gateway, place: prog.Standing, doc: dict[str, Any]) -> None:
    """A meeting whose outcome is stated was held, and a closed session's programme is its
    record: cancelling either would move the report's figures after the fact."""
    require_session_status(place.session, "cancel its meetings (they are its record)")
    if await gateway.db[OUTCOMES].find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
        raise ApiProblem(
            409,
            f"meeting {doc['_id']!r} has an outcome stated: it was held and cannot be "
            "cancelled (state the outcome again to correct it)",
        )


async def _place_again(
    gateway: Gateway, caller: Caller, place: prog.Standing, doc: dict[str, Any], org_id: str
) -> tuple[MeetingScheduled | None, str | None]:
    """The cancelled pair's next meeting, if a slot allows: every other meeting stays where it
    is, and the cancelled slot is unavailable to the party who cancelled."""
    session = place.session
    if session.get("status") not in ("scheduled", "open") or not session.get("meeting_plan"):
        return None, f"session {session['_id']!r} is {session.get('status')}: not rescheduled"
    plan = session["meeting_plan"]
    pair_ids = (doc["buyer_id"], doc["supplier_id"])
    found = await prog.programme(gateway, session["_id"])
    found.scheduled.pop(pair_ids, None)
    found.cancelled[pair_ids] = found.cancelled.get(pair_ids, 0) + 1
    found.cancelled_slots[org_id].add(int(doc["slot"]))
    roster = await prog.members(gateway, session["_id"])
    wishes = prog.wishes_for(found, {}, roster)
    new_id = found.current_id(*pair_ids)
    fixed_keys = {p.key for p in wishes.fixed}
    only = [w for w in wishes.wishes if w.key in fixed_keys]
    only.append(MeetingWish(new_id, *pair_ids))
    blocked = prog.unavailable(roster, found, len(plan["slots"]))
    result = await _run(plan, only, wishes.fixed, blocked)
    placed = next((p for p in result.placements if p.key == new_id), None)
    if placed is None:
        return None, dict(result.unplaced).get(new_id, "no slot left for this pair")
    pair = prog.Pair(*pair_ids, match_ids=list(doc.get("match_ids") or []),
                     requested_by=list(doc.get("requested_by") or []))  # fmt: skip
    if doc.get("category"):
        pair.categories[doc["category"]] = 1
    return _scheduled(caller, session["_id"], plan, placed, pair), None
