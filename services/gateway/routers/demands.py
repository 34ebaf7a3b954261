"""Demands: supermarkets, trade centres and wholesale markets post and manage their own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from schemas.events import DemandCancelled, DemandPosted, DemandUpdated, utcnow
from schemas.fields import Identifier, Revision
from schemas.orders import Demand, DemandSubmission
from services.common.store import DEMANDS
from services.gateway import access, bulk, figure_reads
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.bulk_updates import Change, Kind, check_change, update_many
from services.gateway.common import (
    CHANGE_ERRORS,
    ITEM_ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    WRITE_ERRORS,
    Cursor,
    IdFilter,
    Lane,
    Limit,
    PathId,
    Placement,
    Reason,
    RefSource,
    SessionParam,
    accepted,
    category_code,
    narrow,
    page,
    session_for_order,
    source,
)
from services.gateway.context import Gateway, GatewayDep
from services.gateway.examples import DEMAND, one
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem
from services.gateway.revisions import current_revision, next_revision, parse_if_match
from services.gateway.views import Accepted, DemandView, Page, public

router = APIRouter(prefix="/v1/demands", tags=["demands"], route_class=StrictJsonRoute)
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description='the ETag of the demand you read (e.g. "3"): refused with 412 if stale',
    ),
]


class BulkDemands(BaseModel):
    """Up to `bulk_max_items` (500 by default) demands; each is checked on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[SkipValidation[DemandSubmission]] = Field(min_length=1)


class DemandChange(BaseModel):
    """One demand of a bulk update: its id, the revision read (optional) and its new content."""

    model_config = ConfigDict(extra="forbid")

    demand_id: Identifier
    if_match: Revision | None = Field(
        default=None, description="the revision you read (its ETag): refused with 412 if stale"
    )
    demand: DemandSubmission


class BulkDemandChanges(BaseModel):
    """Up to `bulk_max_items` (500 by default) demand updates; each is checked on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[SkipValidation[DemandChange]] = Field(min_length=1)


def _url(demand_id: str) -> str:
    return f"/v1/demands/{demand_id}"


def _demand(body: DemandSubmission, demand_id: str, lane: Lane, revision: int = 1) -> Demand:
    # The parts are validated already: construct, do not parse the whole demand again.
    return Demand.model_construct(**body.__dict__, demand_id=demand_id, revision=revision,
                                  pool=lane.pool, clearing=lane.clearing)  # fmt: skip


def _updated(ids: Ids, caller: Caller, change: Change, stored: dict[str, Any],
             revision: int) -> DemandUpdated:  # fmt: skip
    return DemandUpdated(
        event_id=ids.event(change.index),
        occurred_at=utcnow(),
        source=source(caller),
        session_id=stored.get("session_id"),
        demand=_demand(change.body, change.item_id, Lane.kept(stored), revision),  # pool stays
    )


async def _refused_buyers(gateway: Gateway, caller: Caller, buyers: set[str]) -> set[str]:
    return {b for b in buyers if access.check_buyer(caller, b) is not None}


DEMANDS_KIND = Kind(
    name="demand",
    collection=DEMANDS,
    party="buyer_id",
    closed="cancelled",
    closed_hint="post a new one",
    owner_kept="a demand cannot move to another buyer",
    market_kept="the market (category) of a demand cannot change: cancel it and post a new demand",
    category_path="criteria.category",
    refused_owners=_refused_buyers,
    event=_updated,
    url=_url,
)


def _new_lane(gateway: Gateway, body: DemandSubmission, placed: Placement) -> Lane:
    return placed.lane(body.criteria.category, gateway.settings.round_markets)


def _check_buyer(caller: Caller, buyer_id: str) -> None:
    refusal = access.check_buyer(caller, buyer_id)
    if refusal is not None:
        raise refusal


@router.post(
    "", status_code=202, response_model=Accepted, responses=WRITE_ERRORS, summary="Post a demand"
)
async def create_demand(
    body: Annotated[DemandSubmission, Body(openapi_examples=one("Siêu thị Hải Phòng", DEMAND))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.RETAILER, Role.ADMIN, doing="post demands"),
    idempotency_key: IdempotencyKey = None,
    session_id: SessionParam = None,
) -> Response:
    _check_buyer(caller, body.buyer_id)

    async def write(ids: Ids) -> Response:
        placed = await session_for_order(gateway, session_id, body.buyer_id, "buyer")
        demand = _demand(body, ids.entity("demand"), _new_lane(gateway, body, placed))
        event = DemandPosted(
            event_id=ids.event(),
            occurred_at=utcnow(),
            source=source(caller),
            session_id=placed.session_id,
            demand=demand,
        )
        await gateway.publish(event)
        return accepted(event, demand.demand_id, _url(demand.demand_id), revision=1)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    ":bulk",
    status_code=202,
    response_model=bulk.BulkAccepted,
    responses=WRITE_ERRORS,
    summary="Post many demands, with a result per item",
)
async def create_demands(
    body: Annotated[BulkDemands, Body(openapi_examples=one("Orders", {"items": [DEMAND]}))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.RETAILER, Role.ADMIN, doing="post demands"),
    idempotency_key: IdempotencyKey = None,
    session_id: SessionParam = None,
) -> Response:
    if len(body.items) > gateway.settings.bulk_max_items:
        raise bulk.too_many(len(body.items), gateway.settings.bulk_max_items)

    async def write(ids: Ids) -> Response:
        valid, results = await bulk.validate_items(DemandSubmission, body.items)
        sessions: dict[str, Placement | ApiProblem] = {}
        events = []
        for index, demand_body in valid:
            buyer = demand_body.buyer_id
            refusal = access.check_buyer(caller, buyer)
            if refusal is not None:
                results[index] = bulk.refusal(index, refusal)
                continue
            if buyer not in sessions:
                try:
                    sessions[buyer] = await session_for_order(gateway, session_id, buyer, "buyer")
                except ApiProblem as exc:
                    sessions[buyer] = exc
            placed = sessions[buyer]
            if isinstance(placed, ApiProblem):
                results[index] = bulk.refusal(index, placed)
                continue
            demand = _demand(
                demand_body, ids.entity("demand", index), _new_lane(gateway, demand_body, placed)
            )
            event = DemandPosted(
                event_id=ids.event(index),
                occurred_at=utcnow(),
                source=source(caller),
                session_id=placed.session_id,
                demand=demand,
            )
            events.append(event)
            results[index] = bulk.ItemResult(
                index=index,
                status=202,
                id=demand.demand_id,
                event_id=event.event_id,
                status_url=_url(demand.demand_id),
            )
        if events:
            await gateway.publish(*events)
        return bulk.respond(list(results.values()), request.url.path)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.get(
    "",
    response_model=Page[DemandView],
    responses=READ_ERRORS,
    summary="List demands this organization may see",
)
async def list_demands(
    gateway: GatewayDep,
    caller: CallerDep,
    buyer_id: IdFilter = None,
    category: Annotated[str | None, Query(max_length=100, description="code or name")] = None,
    status: Literal["open", "cancelled"] | None = None,
    match_status: Literal["open", "proposed", "filled"] | None = None,
    session_id: IdFilter = None,
    ref_source: RefSource = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = narrow(access.demand_scope(caller), "buyer_id", buyer_id, "demands")
    filters = {
        "criteria.category": category_code(category),
        "status": status,
        "match_status": match_status,
        "session_id": session_id,
        "external_ref.source": ref_source,
    }
    query.update({k: v for k, v in filters.items() if v is not None})
    query.setdefault("buyer_id", {"$exists": True})  # not a demand known only from the
    # matcher's events (see _visible_demand): the admin's query names no buyer
    result = await page(gateway.db[DEMANDS], query, "demand_id", limit, cursor)
    await figure_reads.with_order_figures(gateway, result["items"], "demand_id")
    return result


async def _visible_demand(gateway: Gateway, caller: Caller, demand_id: str) -> dict[str, Any]:
    doc = await gateway.db[DEMANDS].find_one({"_id": demand_id})
    # No buyer: only the matcher's word on it is recorded (its topic ran ahead of the orders'),
    # not the demand itself; served, its defaults (clearing "instant") would be taken as fact.
    if doc is None or "buyer_id" not in doc:
        raise access.not_found("demand", demand_id)
    if access.check_buyer(caller, doc["buyer_id"]) is not None:
        raise access.not_found("demand", demand_id)
    return doc


@router.get(
    "/{demand_id}",
    response_model=DemandView,
    responses=ITEM_ERRORS,
    summary="Read a demand (ETag: its revision)",
)
async def get_demand(
    demand_id: PathId, response: Response, gateway: GatewayDep, caller: CallerDep
) -> dict[str, Any]:
    doc = await _visible_demand(gateway, caller, demand_id)
    revision = await current_revision(gateway, demand_id, doc.get("revision") or 1)
    response.headers["ETag"] = f'"{revision}"'
    [item] = await figure_reads.with_order_figures(gateway, [public(doc, "demand_id")], "demand_id")
    return item


@router.put(
    "/{demand_id}",
    status_code=202,
    response_model=Accepted,
    responses=UPDATE_ERRORS,
    summary="Replace a demand (same buyer and category); If-Match guards",
)
async def update_demand(
    demand_id: PathId,
    body: Annotated[DemandSubmission, Body(openapi_examples=one("More", DEMAND))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.RETAILER, Role.ADMIN, doing="change demands"),
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    expected = parse_if_match(if_match)

    async def write(ids: Ids) -> Response:
        stored = await _visible_demand(gateway, caller, demand_id)
        check_change(DEMANDS_KIND, demand_id, body, stored)
        revision = await next_revision(gateway, demand_id, stored.get("revision") or 1, expected)
        event = _updated(ids, caller, Change(0, demand_id, expected, body), stored, revision)
        await gateway.publish(event)
        return accepted(event, demand_id, _url(demand_id), revision=revision)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    ":bulk-update",
    status_code=202,
    response_model=bulk.BulkAccepted,
    responses=WRITE_ERRORS,
    summary="Replace many demands (a re-imported purchase plan), with a result per item",
)
async def update_demands(
    body: Annotated[
        BulkDemandChanges,
        Body(
            openapi_examples=one(
                "More", {"items": [{"demand_id": "dem-123", "if_match": 2, "demand": DEMAND}]}
            )
        ),
    ],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.RETAILER, Role.ADMIN, doing="change demands"),
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if len(body.items) > gateway.settings.bulk_max_items:
        raise bulk.too_many(len(body.items), gateway.settings.bulk_max_items)

    async def write(ids: Ids) -> Response:
        valid, results = await bulk.validate_items(DemandChange, body.items)
        changes = [Change(i, c.demand_id, c.if_match, c.demand) for i, c in valid]
        return await update_many(gateway, caller, request, DEMANDS_KIND, changes, results, ids)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    "/{demand_id}/cancel",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Cancel a demand",
)
async def cancel_demand(
    demand_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.RETAILER, Role.ADMIN, doing="cancel demands"),
    body: Reason | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:

    async def write(ids: Ids) -> Response:
        stored = await _visible_demand(gateway, caller, demand_id)
        if stored.get("status") == "cancelled":
            raise ApiProblem(409, f"demand {demand_id!r} is already cancelled")
        category = (stored.get("criteria") or {}).get("category")
        if category is None:
            raise ApiProblem(409, "this demand has no recorded criteria; nothing to cancel")
        event = DemandCancelled(
            event_id=ids.event(),
            occurred_at=utcnow(),
            source=source(caller),
            session_id=stored.get("session_id"),
            demand_id=demand_id,
            category=category,
            reason=body.reason if body else None,
        )
        await gateway.publish(event)
        return accepted(event, demand_id, _url(demand_id))

    return await run_once(request, gateway, caller, idempotency_key, write)
