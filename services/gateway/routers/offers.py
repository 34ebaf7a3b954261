"""Offers (supply): suppliers publish their own; a province publishes for its suppliers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from schemas.events import OfferPublished, OfferUpdated, OfferWithdrawn, utcnow
from schemas.fields import Identifier, Revision
from schemas.orders import Offer, OfferSubmission
from services.common.store import OFFERS
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
from services.gateway.examples import OFFER, one
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem
from services.gateway.revisions import current_revision, next_revision, parse_if_match
from services.gateway.views import Accepted, OfferView, Page, public

router = APIRouter(prefix="/v1/offers", tags=["offers"], route_class=StrictJsonRoute)
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description='the ETag of the offer you read (e.g. "3"): refused with 412 if stale',
    ),
]


class BulkOffers(BaseModel):
    """Up to `bulk_max_items` (500 by default) offers; each is checked on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[SkipValidation[OfferSubmission]] = Field(min_length=1)


class OfferChange(BaseModel):
    """One offer of a bulk update: its id, the revision read (optional) and its new content."""

    model_config = ConfigDict(extra="forbid")

    offer_id: Identifier
    if_match: Revision | None = Field(
        default=None, description="the revision you read (its ETag): refused with 412 if stale"
    )
    offer: OfferSubmission


class BulkOfferChanges(BaseModel):
    """Up to `bulk_max_items` (500 by default) offer updates; each is checked on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[SkipValidation[OfferChange]] = Field(min_length=1)


def _url(offer_id: str) -> str:
    return f"/v1/offers/{offer_id}"


def _updated(ids: Ids, caller: Caller, change: Change, stored: dict[str, Any],
             revision: int) -> OfferUpdated:  # fmt: skip
    return OfferUpdated(
        event_id=ids.event(change.index),
        occurred_at=utcnow(),
        source=source(caller),
        session_id=stored.get("session_id"),
        offer=_offer(change.body, change.item_id, Lane.kept(stored), revision),  # pool, mode stay
    )


OFFERS_KIND = Kind(
    name="offer",
    collection=OFFERS,
    party="supplier_id",
    closed="withdrawn",
    closed_hint="publish a new one",
    owner_kept="an offer cannot move to another supplier",
    market_kept="the market (category) of an offer cannot change: withdraw it and publish a "
    "new offer",
    category_path="product.category",
    refused_owners=access.check_supplier,
    event=_updated,
    url=_url,
)


def _offer(body: OfferSubmission, offer_id: str, lane: Lane, revision: int = 1) -> Offer:
    # The parts are validated already: construct, do not parse the whole offer again.
    return Offer.model_construct(**body.__dict__, offer_id=offer_id, revision=revision,
                                  pool=lane.pool, clearing=lane.clearing)  # fmt: skip


def _new_lane(gateway: Gateway, body: OfferSubmission, placed: Placement) -> Lane:
    return placed.lane(body.product.category, gateway.settings.round_markets)


@router.post(
    "", status_code=202, response_model=Accepted, responses=WRITE_ERRORS, summary="Publish an offer"
)
async def create_offer(
    body: Annotated[OfferSubmission, Body(openapi_examples=one("Cà phê Kon Tum", OFFER))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.SUPPLIER, Role.PROVINCE, Role.ADMIN, doing="publish offers"),
    idempotency_key: IdempotencyKey = None,
    session_id: SessionParam = None,
) -> Response:

    async def write(ids: Ids) -> Response:
        if await access.check_supplier(gateway, caller, {body.supplier_id}):
            raise access.supplier_refusal(caller, body.supplier_id)
        placed = await session_for_order(gateway, session_id, body.supplier_id, "supplier")
        offer = _offer(body, ids.entity("offer"), _new_lane(gateway, body, placed))
        event = OfferPublished(
            event_id=ids.event(),
            occurred_at=utcnow(),
            source=source(caller),
            session_id=placed.session_id,
            offer=offer,
        )
        await gateway.publish(event)
        return accepted(event, offer.offer_id, _url(offer.offer_id), revision=1)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    ":bulk",
    status_code=202,
    response_model=bulk.BulkAccepted,
    responses=WRITE_ERRORS,
    summary="Publish many offers (a catalogue), with a result per item",
)
async def create_offers(
    body: Annotated[BulkOffers, Body(openapi_examples=one("A catalogue", {"items": [OFFER]}))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.SUPPLIER, Role.PROVINCE, Role.ADMIN, doing="publish offers"),
    idempotency_key: IdempotencyKey = None,
    session_id: SessionParam = None,
) -> Response:
    if len(body.items) > gateway.settings.bulk_max_items:
        raise bulk.too_many(len(body.items), gateway.settings.bulk_max_items)

    async def write(ids: Ids) -> Response:
        valid, results = await bulk.validate_items(OfferSubmission, body.items)
        refused = await access.check_supplier(gateway, caller, {o.supplier_id for _, o in valid})
        sessions: dict[str, Placement | ApiProblem] = {}
        events = []
        for index, offer_body in valid:
            supplier = offer_body.supplier_id
            if supplier in refused:
                results[index] = bulk.refusal(index, access.supplier_refusal(caller, supplier))
                continue
            if supplier not in sessions:
                try:
                    sessions[supplier] = await session_for_order(
                        gateway, session_id, supplier, "supplier"
                    )
                except ApiProblem as exc:
                    sessions[supplier] = exc
            placed = sessions[supplier]
            if isinstance(placed, ApiProblem):
                results[index] = bulk.refusal(index, placed)
                continue
            offer = _offer(
                offer_body, ids.entity("offer", index), _new_lane(gateway, offer_body, placed)
            )
            event = OfferPublished(
                event_id=ids.event(index),
                occurred_at=utcnow(),
                source=source(caller),
                session_id=placed.session_id,
                offer=offer,
            )
            events.append(event)
            results[index] = bulk.ItemResult(
                index=index,
                status=202,
                id=offer.offer_id,
                event_id=event.event_id,
                status_url=_url(offer.offer_id),
            )
        if events:
            await gateway.publish(*events)
        return bulk.respond(list(results.values()), request.url.path)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.get(
    "",
    response_model=Page[OfferView],
    responses=READ_ERRORS,
    summary="List offers this organization may see",
)
async def list_offers(
    gateway: GatewayDep,
    caller: CallerDep,
    supplier_id: IdFilter = None,
    category: Annotated[str | None, Query(max_length=100, description="code or name")] = None,
    status: Literal["open", "withdrawn"] | None = None,
    session_id: IdFilter = None,
    ref_source: RefSource = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = narrow(await access.offer_scope(gateway, caller), "supplier_id", supplier_id, "offers")
    filters = {
        "product.category": category_code(category),
        "status": status,
        "session_id": session_id,
        "external_ref.source": ref_source,
    }
    query.update({k: v for k, v in filters.items() if v is not None})
    query.setdefault("supplier_id", {"$exists": True})  # as in list_demands
    result = await page(gateway.db[OFFERS], query, "offer_id", limit, cursor)
    await figure_reads.with_order_figures(gateway, result["items"], "offer_id")
    return result


async def _visible_offer(gateway: Gateway, caller: Caller, offer_id: str) -> dict[str, Any]:
    doc = await gateway.db[OFFERS].find_one({"_id": offer_id})
    # No supplier: a later event of the offer was recorded before its publication (see
    # _visible_demand); not an offer to show yet.
    if doc is None or "supplier_id" not in doc or caller.role in (Role.RETAILER, Role.ORGANIZER):
        raise access.not_found("offer", offer_id)
    if await access.check_supplier(gateway, caller, {doc["supplier_id"]}):
        raise access.not_found("offer", offer_id)
    return doc


@router.get(
    "/{offer_id}",
    response_model=OfferView,
    responses=ITEM_ERRORS,
    summary="Read an offer (ETag: its revision)",
)
async def get_offer(
    offer_id: PathId, response: Response, gateway: GatewayDep, caller: CallerDep
) -> dict[str, Any]:
    doc = await _visible_offer(gateway, caller, offer_id)
    revision = await current_revision(gateway, offer_id, doc.get("revision") or 1)
    response.headers["ETag"] = f'"{revision}"'
    [item] = await figure_reads.with_order_figures(gateway, [public(doc, "offer_id")], "offer_id")
    return item


@router.put(
    "/{offer_id}",
    status_code=202,
    response_model=Accepted,
    responses=UPDATE_ERRORS,
    summary="Replace an offer (same supplier and category); If-Match guards",
)
async def update_offer(
    offer_id: PathId,
    body: Annotated[OfferSubmission, Body(openapi_examples=one("New price", OFFER))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.SUPPLIER, Role.PROVINCE, Role.ADMIN, doing="change offers"),
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    expected = parse_if_match(if_match)

    async def write(ids: Ids) -> Response:
        stored = await _visible_offer(gateway, caller, offer_id)
        check_change(OFFERS_KIND, offer_id, body, stored)
        revision = await next_revision(gateway, offer_id, stored.get("revision") or 1, expected)
        event = _updated(ids, caller, Change(0, offer_id, expected, body), stored, revision)
        await gateway.publish(event)
        return accepted(event, offer_id, _url(offer_id), revision=revision)

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.post(
    ":bulk-update",
    status_code=202,
    response_model=bulk.BulkAccepted,
    responses=WRITE_ERRORS,
    summary="Replace many offers (a re-imported catalogue), with a result per item",
)
async def update_offers(
    body: Annotated[
        BulkOfferChanges,
        Body(
            openapi_examples=one(
                "New prices", {"items": [{"offer_id": "off-123", "if_match": 2, "offer": OFFER}]}
            )
        ),
    ],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.SUPPLIER, Role.PROVINCE, Role.ADMIN, doing="change offers"),
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if len(body.items) > gateway.settings.bulk_max_items:
        raise bulk.too_many(len(body.items), gateway.settings.bulk_max_items)

    async def write(ids: Ids) -> Response:
        valid, results = await bulk.validate_items(OfferChange, body.items)
        changes = [Change(i, c.offer_id, c.if_match, c.offer) for i, c in valid]
        return await update_many(gateway, caller, request, OFFERS_KIND, changes, results, ids)

    return await run_once(request, gateway, caller, idempotency_key, write)


def _category(stored: dict[str, Any]) -> str:
    category = (stored.get("product") or {}).get("category")
    if category is None:  # only a withdrawal was recorded (written by another producer)
        raise ApiProblem(409, "this offer has no recorded product; nothing to withdraw")
    return category


@router.post(
    "/{offer_id}/withdraw",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Withdraw an offer",
)
async def withdraw_offer(
    offer_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.SUPPLIER, Role.PROVINCE, Role.ADMIN, doing="withdraw offers"),
    body: Reason | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:

    async def write(ids: Ids) -> Response:
        stored = await _visible_offer(gateway, caller, offer_id)
        if stored.get("status") == "withdrawn":
            raise ApiProblem(409, f"offer {offer_id!r} is already withdrawn")
        event = OfferWithdrawn(
            event_id=ids.event(),
            occurred_at=utcnow(),
            source=source(caller),
            session_id=stored.get("session_id"),
            offer_id=offer_id,
            category=_category(stored),
            reason=body.reason if body else None,
        )
        await gateway.publish(event)
        return accepted(event, offer_id, _url(offer_id))

    return await run_once(request, gateway, caller, idempotency_key, write)
