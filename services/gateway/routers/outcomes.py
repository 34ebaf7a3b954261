"""What came of a meeting: each party states the outcome (no deal, MoU, contract) and later the
deliveries against it; both statements are kept, and what both stated alike is "agreed"
(``services.programme.outcomes``: the one definition)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import DeliveryStated, OutcomeStated, utcnow
from schemas.meetings import DeliverySubmission, OutcomeSubmission
from services.common.store import DELIVERIES, OUTCOMES
from services.gateway import programme as prog
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.common import CHANGE_ERRORS, PathId, accepted, source
from services.gateway.context import Gateway, GatewayDep
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.problems import ApiProblem, FieldProblem, documented
from services.gateway.views import Accepted
from services.programme.outcomes import PARTIES, agreement
from services.recorder.programme import delivery_id

router = APIRouter(prefix="/v1/meetings", tags=["meetings"], route_class=StrictJsonRoute)
READ_ERRORS = documented(401, 404, 422, 429, 503)
MAX_DELIVERIES = 200
"""Deliveries stated against one meeting's contract: weekly for four years; more is a flood,
and every one of them counts in the reports."""
MAX_DELIVERIES_SHOWN = MAX_DELIVERIES


class DeliveryView(BaseModel):
    model_config = ConfigDict(extra="allow")

    delivery_id: str
    delivery_ref: str | None = None
    statements: dict[str, Any] = Field(default_factory=dict, description="by party")
    confirmed: bool = Field(default=False, description="both parties stated the same figures")
    claimed_by: list[str] = Field(default_factory=list)
    delivered_on: str | None = None
    quantity_kg: float | None = None
    value_vnd: int | None = None


class OutcomeView(BaseModel):
    """Both parties' statements, the terms both stated (``agreed``) and who claims alone."""

    meeting_id: str
    session_id: str | None = None
    buyer_id: str | None = None
    supplier_id: str | None = None
    category: str | None = None
    statements: dict[str, Any] = Field(
        default_factory=dict, description="by party (buyer, supplier): its latest statement"
    )
    agreed: dict[str, Any] | None = Field(
        default=None, description="kind, volume_kg and value_vnd both parties stated, or null"
    )
    claimed_by: list[str] = Field(
        default_factory=list, description="parties whose statement the other did not match"
    )
    deliveries: list[DeliveryView] = Field(default_factory=list)


def _outcome_url(meeting_id: str) -> str:
    return f"/v1/meetings/{meeting_id}/outcome"


@router.post(
    "/{meeting_id}/outcome",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="State the meeting's outcome (its buyer or supplier; replaces an earlier one)",
)
async def state_outcome(
    meeting_id: PathId,
    body: OutcomeSubmission,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        doc, place = await prog.visible_meeting(gateway, caller, meeting_id)
        party = prog.acting_party(place, caller, body.party, "state its outcome")
        prog.require_scheduled(doc, "state an outcome")
        event = OutcomeStated(
            event_id=ids.event(), occurred_at=utcnow(), source=source(caller),
            session_id=doc["session_id"], meeting_id=meeting_id, buyer_id=doc["buyer_id"],
            supplier_id=doc["supplier_id"], category=doc.get("category"), party=party,
            org_id=doc[f"{party}_id"], statement=body.statement(),
        )  # fmt: skip
        await gateway.publish(event)
        return accepted(event, meeting_id, _outcome_url(meeting_id))

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    "/{meeting_id}/deliveries",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="State a delivery against the meeting's contract (the other side confirms it)",
)
async def state_delivery(
    meeting_id: PathId,
    body: DeliverySubmission,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        doc, place = await prog.visible_meeting(gateway, caller, meeting_id)
        party = prog.acting_party(place, caller, body.party, "state its deliveries")
        prog.require_scheduled(doc, "state a delivery")
        outcome = await gateway.db[OUTCOMES].find_one({"_id": meeting_id}) or {}
        kinds = {(s or {}).get("kind") for s in (outcome.get("statements") or {}).values()}
        if "contract" not in kinds:
            raise ApiProblem(
                409,
                f"no contract is stated for meeting {meeting_id!r}: deliveries are made "
                f"against a contract (POST {_outcome_url(meeting_id)} first)",
            )
        delivery = body.statement()
        await _require_room(gateway, meeting_id, delivery.delivery_ref)
        event = DeliveryStated(
            event_id=ids.event(), occurred_at=utcnow(), source=source(caller),
            session_id=doc["session_id"], meeting_id=meeting_id, buyer_id=doc["buyer_id"],
            supplier_id=doc["supplier_id"], party=party, org_id=doc[f"{party}_id"],
            delivery=delivery,
        )  # fmt: skip
        await gateway.publish(event)
        return accepted(event, delivery_id(meeting_id, delivery.delivery_ref),
                        _outcome_url(meeting_id))  # fmt: skip

    return await run_once(request, gateway, caller, idempotency_key, write)


async def _require_room(gateway: Gateway, meeting_id: str, delivery_ref: str) -> None:
    """A new delivery reference beyond ``MAX_DELIVERIES`` is refused (the other side's
    confirmation of a stated one, or a restatement, always passes)."""
    if await gateway.db[DELIVERIES].find_one({"_id": delivery_id(meeting_id, delivery_ref)}):
        return
    if await gateway.db[DELIVERIES].count_documents({"meeting_id": meeting_id}) >= MAX_DELIVERIES:
        raise ApiProblem(
            409,
            f"meeting {meeting_id!r} has {MAX_DELIVERIES} deliveries stated already: state "
            "a delivery that sums several, or ask the organizer",
            errors=[FieldProblem(path="delivery_ref", problem="too many deliveries",
                                 allowed=[f"at most {MAX_DELIVERIES} per meeting"])],
        )  # fmt: skip


@router.get(
    "/{meeting_id}/outcome",
    response_model=OutcomeView,
    responses=READ_ERRORS,
    summary="Read both parties' statements, what they agreed and what one side claims alone",
)
async def get_outcome(meeting_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict:
    doc, _ = await prog.visible_meeting(gateway, caller, meeting_id)
    outcome = await gateway.db[OUTCOMES].find_one({"_id": meeting_id}) or {}
    statements = {p: s for p, s in (outcome.get("statements") or {}).items() if p in PARTIES}
    cursor = gateway.db[DELIVERIES].find({"meeting_id": meeting_id}).sort("_id", 1)
    deliveries = [
        {"delivery_id": d.pop("_id"), **d}
        for d in await cursor.limit(MAX_DELIVERIES_SHOWN).to_list()
    ]
    return {
        "meeting_id": meeting_id,
        "session_id": doc.get("session_id"),
        "buyer_id": doc.get("buyer_id"),
        "supplier_id": doc.get("supplier_id"),
        "category": doc.get("category"),
        "statements": statements,
        **agreement(statements).as_fields(),
        "deliveries": deliveries,
    }
