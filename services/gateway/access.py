"""Object-level authorization: which organization may read or change what.

- retailer: its own demands (buyer_id = its org) and the matches of those demands;
- supplier: its own offers (supplier_id = its org) and the matches of those offers;
- province: offers of the suppliers registered in its province (organization.registered with
  a supplier kind and that province), and their matches (read only: the parties decide);
- organizer: the sessions it organizes, and their participants, stats and matches;
- admin: everything, except deciding on a match (only the party it concerns does).

Reads of one object answer 404 when the caller may not see it, exactly as for an id that does
not exist, so ids of other organizations cannot be probed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from schemas.organizations import SUPPLIER_KINDS
from services.common.store import ORGANIZATIONS, SESSIONS
from services.gateway.auth import CallerDep
from services.gateway.context import Gateway
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem, FieldProblem, indefinite

SUPPLIER_KIND_VALUES = sorted(k.value for k in SUPPLIER_KINDS)


def require_role(caller: Caller, *roles: Role, doing: str) -> None:
    if caller.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise ApiProblem(
            403, f"{indefinite(caller.role.value)} key cannot {doing} (roles that can: {allowed})"
        )


def caller_in(*roles: Role, doing: str) -> Any:
    """The caller as a route dependency, refused (403) when its role cannot do this. FastAPI
    solves dependencies before it validates the body, so a key that may not write never makes
    the gateway validate (and explain) a large body."""

    async def role_checked(caller: CallerDep) -> Caller:
        require_role(caller, *roles, doing=doing)
        return caller

    return Annotated[Caller, Depends(role_checked)]


def not_found(kind: str, item_id: str) -> ApiProblem:
    return ApiProblem(
        404,
        f"no {kind} {item_id!r} visible to this organization (it may not be "
        "recorded yet: writes are applied within seconds)",
    )


async def province_suppliers(gateway: Gateway, province: str | None) -> list[str]:
    """Ids of the suppliers registered in a province (current province code)."""
    if not province:
        return []
    cursor = gateway.db[ORGANIZATIONS].find(
        {"province.code": province, "kind": {"$in": SUPPLIER_KIND_VALUES}}, {"_id": 1}
    )
    return [doc["_id"] async for doc in cursor]


async def check_supplier(gateway: Gateway, caller: Caller, supplier_ids: set[str]) -> set[str]:
    """The supplier ids this caller may NOT publish or change offers for."""
    if caller.role is Role.ADMIN:
        return set()
    if caller.role is Role.SUPPLIER:
        return {s for s in supplier_ids if s != caller.org_id}
    if caller.role is Role.PROVINCE:
        cursor = gateway.db[ORGANIZATIONS].find(
            {"_id": {"$in": sorted(supplier_ids)}}, {"province": 1, "kind": 1}
        )
        ours = {
            doc["_id"]
            async for doc in cursor
            if (doc.get("province") or {}).get("code") == caller.province
            and doc.get("kind") in SUPPLIER_KIND_VALUES
        }
        return supplier_ids - ours
    return set(supplier_ids)


def supplier_refusal(caller: Caller, supplier_id: str) -> ApiProblem:
    if caller.role is Role.PROVINCE:
        detail = (
            f"supplier {supplier_id!r} is not registered in this province "
            f"({caller.province}); register it first (POST /v1/organizations)"
        )
    elif caller.role is Role.SUPPLIER:
        detail = f"this key acts for supplier {caller.org_id!r} only"
    else:
        detail = f"{indefinite(caller.role.value)} key cannot publish offers"
    allowed = [caller.org_id] if caller.role is Role.SUPPLIER else []
    return ApiProblem(
        403, detail, errors=[FieldProblem(path="supplier_id", problem=detail, allowed=allowed)]
    )


def check_buyer(caller: Caller, buyer_id: str) -> ApiProblem | None:
    if caller.role is Role.ADMIN or (caller.role is Role.RETAILER and buyer_id == caller.org_id):
        return None
    if caller.role is Role.RETAILER:
        detail = f"this key acts for buyer {caller.org_id!r} only"
        allowed = [caller.org_id]
    else:
        detail, allowed = f"{indefinite(caller.role.value)} key cannot post demands", []
    return ApiProblem(
        403, detail, errors=[FieldProblem(path="buyer_id", problem=detail, allowed=allowed)]
    )


async def offer_scope(gateway: Gateway, caller: Caller) -> dict[str, Any]:
    """A filter on offers (and on matches, by supplier) to what the caller may read."""
    if caller.role is Role.ADMIN:
        return {}
    if caller.role is Role.SUPPLIER:
        return {"supplier_id": caller.org_id}
    if caller.role is Role.PROVINCE:
        return {"supplier_id": {"$in": await province_suppliers(gateway, caller.province)}}
    raise ApiProblem(403, f"{indefinite(caller.role.value)} key cannot read offers")


def demand_scope(caller: Caller) -> dict[str, Any]:
    if caller.role is Role.ADMIN:
        return {}
    if caller.role is Role.RETAILER:
        return {"buyer_id": caller.org_id}
    raise ApiProblem(403, f"{indefinite(caller.role.value)} key cannot read demands")


async def own_session_ids(gateway: Gateway, caller: Caller) -> list[str]:
    cursor = gateway.db[SESSIONS].find({"organizer_id": caller.org_id}, {"_id": 1})
    return [doc["_id"] async for doc in cursor]


async def match_scope(gateway: Gateway, caller: Caller) -> dict[str, Any]:
    """Matches a caller may read: its side of them, or its sessions' for an organizer."""
    if caller.role is Role.RETAILER:
        return {"buyer_id": caller.org_id}
    if caller.role is Role.ORGANIZER:
        return {"session_id": {"$in": await own_session_ids(gateway, caller)}}
    return await offer_scope(gateway, caller)


def session_scope(caller: Caller) -> dict[str, Any]:
    if caller.role is Role.ADMIN:
        return {}
    if caller.role is Role.ORGANIZER:
        return {"organizer_id": caller.org_id}
    raise ApiProblem(403, f"{indefinite(caller.role.value)} key cannot manage sessions")


def visible(doc: dict[str, Any], scope: dict[str, Any]) -> bool:
    """Whether a stored document passes a scope filter (equality or ``$in`` only)."""
    for field, rule in scope.items():
        value = doc.get(field)
        if isinstance(rule, dict):
            if value not in rule["$in"]:
                return False
        elif value != rule:
            return False
    return True
