"""Organizations: who supplies, who buys, who organizes, and in which province.

A province may act for the suppliers registered in it, so a registration decides who may
publish in an organization's name. Who may register or change which organization, and how an
id is claimed once, is in ``services/gateway/identity.py`` (README, "Organization identity").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from schemas.events import OrganizationRegistered, utcnow
from schemas.organizations import Organization, OrganizationKind
from schemas.reference.provinces import normalise_province
from services.common.store import ORGANIZATIONS
from services.gateway import access, identity
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.common import (
    ITEM_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Cursor,
    Limit,
    PathId,
    accepted,
    page,
    source,
)
from services.gateway.context import GatewayDep
from services.gateway.examples import ORGANIZATION, one
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem, FieldProblem
from services.gateway.views import Accepted, OrganizationView, Page, public

router = APIRouter(prefix="/v1/organizations", tags=["organizations"], route_class=StrictJsonRoute)


def _url(org_id: str) -> str:
    return f"/v1/organizations/{org_id}"


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses=WRITE_ERRORS,
    summary="Register (or update) an organization",
    description="Any key registers its own organization once, with a kind its role acts for; "
    "a province key also registers new suppliers of its province. The first registration of an "
    "id (or the first key issued for it) claims it: anyone else gets 409. The holder renames "
    "itself; only the platform admin changes a kind or a province.",
)
async def register_organization(
    body: Annotated[Organization, Body(openapi_examples=one("HTX Đăk Hà", ORGANIZATION))],
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def write(ids: Ids) -> Response:
        await identity.register(gateway.db, caller, body)
        event = OrganizationRegistered(
            event_id=ids.event(), occurred_at=utcnow(), source=source(caller), organization=body
        )
        await gateway.publish(event)
        return accepted(event, body.org_id, _url(body.org_id))

    return await run_once(request, gateway, caller, idempotency_key, write)


def _scope(caller: Caller) -> dict[str, Any]:
    if caller.role is Role.ADMIN:
        return {}
    if caller.role is Role.PROVINCE:
        return {"$or": [{"_id": caller.org_id}, {"province.code": caller.province}]}
    return {"_id": caller.org_id}


@router.get(
    "",
    response_model=Page[OrganizationView],
    responses=READ_ERRORS,
    summary="List organizations (admin: all; province: its province; others: own)",
)
async def list_organizations(
    gateway: GatewayDep,
    caller: CallerDep,
    kind: OrganizationKind | None = None,
    province: Annotated[str | None, Query(max_length=100, description="any province name")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = _scope(caller)
    if kind is not None:
        query = {**query, "kind": kind.value}
    if province is not None:
        query = {**query, "province.code": _province_code(province)}
    return await page(gateway.db[ORGANIZATIONS], query, "org_id", limit, cursor)


def _province_code(name: str) -> str:
    try:
        return normalise_province(name).province.code
    except ValueError as exc:
        suggestions = list(getattr(exc, "suggestions", None) or [])
        problem = FieldProblem(
            path="query.province",
            problem=str(exc),
            suggestion=suggestions[0] if suggestions else None,
        )
        raise ApiProblem(422, f"query.province: {exc}", errors=[problem]) from None


@router.get(
    "/{org_id}",
    response_model=OrganizationView,
    responses=ITEM_ERRORS,
    summary="Read an organization",
)
async def get_organization(org_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict:
    doc = await gateway.db[ORGANIZATIONS].find_one({"_id": org_id})
    if doc is None:
        raise access.not_found("organization", org_id)
    ours = (
        caller.role is Role.ADMIN
        or org_id == caller.org_id
        or (
            caller.role is Role.PROVINCE
            and (doc.get("province") or {}).get("code") == caller.province
        )
    )
    if not ours:
        raise access.not_found("organization", org_id)
    return public(doc, "org_id")
