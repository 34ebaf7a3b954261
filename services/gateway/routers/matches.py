"""Matches: read by the parties (and their province or session organizer); decided by the
party each concerns (double opt-in: the buyer and the supplier both accept)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from schemas.events import MatchAccepted, MatchDeclined, utcnow
from schemas.matches import Party
from services.common.store import MATCHES
from services.gateway import access
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.common import (
    CHANGE_ERRORS,
    ITEM_ERRORS,
    READ_ERRORS,
    Cursor,
    IdFilter,
    Limit,
    PathId,
    Reason,
    accepted,
    category_code,
    narrow,
    page,
    source,
)
from services.gateway.context import Gateway, GatewayDep
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem, FieldProblem
from services.gateway.views import Accepted, MatchView, Page, public

router = APIRouter(prefix="/v1/matches", tags=["matches"], route_class=StrictJsonRoute)
MatchStatus = Literal["proposed", "confirmed", "expired", "released"]


@router.get(
    "",
    response_model=Page[MatchView],
    responses=READ_ERRORS,
    summary="List matches by session, buyer, supplier or status",
)
async def list_matches(
    gateway: GatewayDep,
    caller: CallerDep,
    session_id: IdFilter = None,
    buyer_id: IdFilter = None,
    supplier_id: IdFilter = None,
    status: MatchStatus | None = None,
    demand_id: IdFilter = None,
    offer_id: IdFilter = None,
    category: Annotated[str | None, Query(max_length=100, description="code or name")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = await access.match_scope(gateway, caller)
    query = narrow(query, "buyer_id", buyer_id, "matches")
    query = narrow(query, "supplier_id", supplier_id, "matches")
    query = narrow(query, "session_id", session_id, "matches")
    filters = {
        "status": status,
        "demand_id": demand_id,
        "offer_id": offer_id,
        "category": category_code(category),
    }
    query.update({k: v for k, v in filters.items() if v is not None})
    return await page(gateway.db[MATCHES], query, "match_id", limit, cursor)


async def _visible_match(gateway: Gateway, caller: Caller, match_id: str) -> dict[str, Any]:
    doc = await gateway.db[MATCHES].find_one({"_id": match_id})
    if doc is None or not access.visible(doc, await access.match_scope(gateway, caller)):
        raise access.not_found("match", match_id)
    return doc


@router.get(
    "/{match_id}",
    response_model=MatchView,
    responses=ITEM_ERRORS,
    summary="Read a match with its score breakdown",
)
async def get_match(match_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    return public(await _visible_match(gateway, caller, match_id), "match_id")


def _party(caller: Caller, match: dict[str, Any]) -> Party | None:
    if caller.role is Role.RETAILER and match.get("buyer_id") == caller.org_id:
        return Party.BUYER
    if caller.role is Role.SUPPLIER and match.get("supplier_id") == caller.org_id:
        return Party.SUPPLIER
    return None


async def _decide(
    match_id: str,
    accept: bool,
    reason: str | None,
    request: Request,
    gateway: Gateway,
    caller: Caller,
    key: str | None,
) -> Response:
    access.require_role(
        caller,
        Role.RETAILER,
        Role.SUPPLIER,
        doing="decide on matches (only the buyer or the supplier a match concerns does)",
    )

    async def write(ids: Ids) -> Response:
        match = await gateway.db[MATCHES].find_one({"_id": match_id})
        party = _party(caller, match) if match is not None else None
        if match is None or party is None:
            raise access.not_found("match", match_id)
        if match.get("status") != "proposed":
            raise ApiProblem(
                409,
                f"match {match_id!r} is {match.get('status')}: only a "
                "proposed match can be accepted or declined",
                errors=[
                    FieldProblem(
                        path="status", problem=str(match.get("status")), allowed=["proposed"]
                    )
                ],
            )
        decided = match.get(f"{party.value}_decision")
        if decided:
            raise ApiProblem(409, f"the {party.value} already {decided} this match")
        envelope = {
            "event_id": ids.event(),
            "occurred_at": utcnow(),
            "source": source(caller),
            "session_id": match.get("session_id"),
            "match_id": match_id,
            "category": match["category"],
            "party": party,
            "org_id": caller.org_id,
        }
        event = MatchAccepted(**envelope) if accept else MatchDeclined(**envelope, reason=reason)
        await gateway.publish(event)
        return accepted(event, match_id, f"/v1/matches/{match_id}")

    return await run_once(request, gateway, caller, key, write)


@router.post(
    "/{match_id}/accept",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Accept a proposed match (as its buyer or supplier)",
)
async def accept_match(
    match_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _decide(match_id, True, None, request, gateway, caller, idempotency_key)


@router.post(
    "/{match_id}/decline",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Decline a proposed match (as its buyer or supplier)",
)
async def decline_match(
    match_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    body: Reason | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    reason = body.reason if body else None
    return await _decide(match_id, False, reason, request, gateway, caller, idempotency_key)
