"""Organization identity: who holds an organization id, and who may register or change it.

A province acts for the suppliers registered in its province, so the registration of an id
decides who may publish in its name. The rules (README, "Organization identity"):

- an id is claimed once: by its first accepted registration, or by the first API key issued
  for it (``ketnoi keys create``). A later registration by anyone else is 409;
- any key registers its own organization once, with a kind its role acts for (a province key:
  an organizer in its own province); afterwards it renames itself (name, tax code);
- a province key also registers new suppliers (cooperative, enterprise, household) of its own
  province, never an id that has a key of its own, and renames those it registered while no key
  was ever issued for them; a sibling province never changes them;
- kind and province change only by the platform admin, and only to a kind every active key of
  the id acts for (a retailer key never ends up acting for a cooperative);
- the admin registers and changes any organization within that last rule.

The claims live in the gateway's own ``org_claims`` collection, not in the recorded
organizations (the recorder applies Kafka events seconds later, and in its own order). Only
features MongoDB 7 and FerretDB v1 share: the first claim is an insert on ``_id`` (the unique
key), every change a ``find_one_and_update`` on the claim's revision, so of two concurrent
writes to one id exactly one wins and the other is decided again on what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas.organizations import SUPPLIER_KINDS, Organization
from schemas.reference.provinces import province_by_code
from services.common.store import API_KEYS, ORG_CLAIMS, ORGANIZATIONS
from services.gateway.keys import (
    CLAIM_ATTEMPTS,
    KINDS_BY_ROLE,
    Caller,
    Registration,
    Role,
    kind_list,
    kinds_for,
    registration_fields,
    registration_of,
    with_article,
)
from services.gateway.problems import ApiProblem, FieldProblem


@dataclass(frozen=True)
class Identity:
    """What is known about an org id before a registration changes it."""

    org_id: str
    claim: dict[str, Any] | None
    registration: Registration | None
    key_roles: frozenset[Role]  # roles of its active keys
    keyed: bool  # a key was ever issued for it (revoked ones count: the id was handed out)


async def load(db: AsyncDatabase, org_id: str) -> Identity:
    """The claim first, the keys second: ``keys.create_key`` stores a key before it touches
    the claim, so a key we miss here makes our guarded claim write fail and be decided again."""
    claim = await db[ORG_CLAIMS].find_one({"_id": org_id})
    recorded = None
    if claim is None or claim.get("state") != "registered":
        recorded = await db[ORGANIZATIONS].find_one({"_id": org_id})
    keys = [
        doc async for doc in db[API_KEYS].find({"org_id": org_id}, {"role": 1, "revoked_at": 1})
    ]
    roles = frozenset(Role(doc["role"]) for doc in keys if doc.get("revoked_at") is None)
    return Identity(org_id, claim, registration_of(claim, recorded), roles, bool(keys))


async def register(db: AsyncDatabase, caller: Caller, body: Organization) -> None:
    """Decide whether ``caller`` may register ``body`` and record its claim, or raise the
    problem that says why not (403 not this caller's to register, 409 claimed by another,
    422 a kind its role does not act for)."""
    for _ in range(CLAIM_ATTEMPTS):
        identity = await load(db, body.org_id)
        decide(caller, body, identity)
        if await _commit(db, caller, body, identity):
            return
    raise ApiProblem(
        409,
        f"organization {body.org_id!r} was changed by other requests meanwhile; retry in a moment",
        headers={"Retry-After": "1"},
        kind="organization-busy",
    )


def decide(caller: Caller, body: Organization, identity: Identity) -> None:
    """The rules of the module docstring, checked in this order: who the caller may register
    at all (403, the same answer whatever the id's state, so others' ids cannot be probed),
    whether the id is someone else's (409), then what may change (403 kind or province)."""
    if caller.role is Role.ADMIN:
        _check_fits_keys(body, identity)
        return
    if body.org_id == caller.org_id:
        _check_own(caller, body, identity)
        return
    if caller.role is not Role.PROVINCE:
        raise ApiProblem(
            403,
            f"{with_article(caller.role.value)} key registers only its own organization "
            f"({caller.org_id!r}); the platform admin registers the others",
            errors=[
                FieldProblem(path="org_id", problem="another organization", allowed=[caller.org_id])
            ],
        )
    _check_province_scope(caller, body)
    registration = identity.registration
    if registration is None:
        if identity.keyed:
            raise _claimed(body.org_id, "an API key was issued for it, so it registers itself")
        return
    if registration.registered_by != caller.org_id or registration.province != caller.province:
        raise _claimed(body.org_id, "it is registered already (the first registration wins)")
    if identity.keyed:
        raise _claimed(body.org_id, "it holds an API key of its own now")
    _check_unchanged(body, registration)


def _check_own(caller: Caller, body: Organization, identity: Identity) -> None:
    registration = identity.registration
    if registration is not None:
        _check_unchanged(body, registration)
        return
    allowed = KINDS_BY_ROLE[caller.role] & kinds_for(identity.key_roles - {Role.ADMIN})
    if body.kind not in allowed:
        raise ApiProblem(
            422,
            f"{with_article(caller.role.value)} key registers its organization as one of: "
            f"{', '.join(kind_list(allowed))}",
            errors=[
                FieldProblem(
                    path="kind",
                    problem=f"{body.kind.value} does not fit the {caller.role.value} role",
                    allowed=kind_list(allowed),
                )
            ],
        )
    if caller.role is Role.PROVINCE and body.province.code != caller.province:
        raise _outside_province(caller, body)


def _check_province_scope(caller: Caller, body: Organization) -> None:
    """A province key registers suppliers of its own province only."""
    if body.kind not in SUPPLIER_KINDS:
        raise ApiProblem(
            403,
            f"a province key registers suppliers only ({', '.join(kind_list(SUPPLIER_KINDS))}); "
            f"the platform admin registers {with_article(body.kind.value)}",
            errors=[
                FieldProblem(
                    path="kind",
                    problem=f"{body.kind.value} is not a supplier",
                    allowed=kind_list(SUPPLIER_KINDS),
                )
            ],
        )
    if body.province.code != caller.province:
        raise _outside_province(caller, body)


def _outside_province(caller: Caller, body: Organization) -> ApiProblem:
    name = _province_name(caller.province)
    return ApiProblem(
        403,
        f"a province key registers organizations of its own province ({name}) only",
        errors=[FieldProblem(path="province", problem=body.province.name, allowed=[name])],
    )


def _province_name(code: str | None) -> str:
    try:
        return province_by_code(code or "").name
    except ValueError:
        return code or ""


def _check_unchanged(body: Organization, registration: Registration) -> None:
    """Name and tax code are the holder's to change; kind and province the admin's."""
    if body.kind.value != registration.kind:
        raise ApiProblem(
            403,
            f"only the platform admin changes the kind of organization {body.org_id!r} "
            f"(registered as {with_article(registration.kind)}); send kind "
            f"{registration.kind!r} to rename",
            errors=[
                FieldProblem(
                    path="kind",
                    problem=f"{registration.kind} cannot become {body.kind.value} here",
                    allowed=[registration.kind],
                )
            ],
            kind="organization-kind-change",
        )
    if body.province.code != registration.province:
        where = registration.province_name or registration.province or "unknown"
        raise ApiProblem(
            403,
            f"only the platform admin moves organization {body.org_id!r} to another province "
            f"(registered in {where})",
            errors=[
                FieldProblem(
                    path="province", problem=f"registered in {where}", allowed=[str(where)]
                )
            ],
            kind="organization-province-change",
        )


def _check_fits_keys(body: Organization, identity: Identity) -> None:
    """Even the admin never registers a kind an active key of the id does not act for."""
    roles = identity.key_roles - {Role.ADMIN}
    fitting = kinds_for(roles)
    if body.kind in fitting:
        return
    names = ", ".join(sorted(role.value for role in roles))
    raise ApiProblem(
        409,
        f"organization {body.org_id!r} has active {names} key(s), which cannot act for "
        f"{with_article(body.kind.value)}; revoke them first (`ketnoi keys revoke`) or choose "
        "one of: "
        f"{', '.join(kind_list(fitting)) or '(no kind fits them all)'}",
        errors=[
            FieldProblem(
                path="kind",
                problem=f"{body.kind.value} does not fit the {names} key(s)",
                allowed=kind_list(fitting),
            )
        ],
        kind="organization-key-conflict",
    )


def _claimed(org_id: str, why: str) -> ApiProblem:
    return ApiProblem(
        409,
        f"organization id {org_id!r} is claimed: {why}. Only that organization or the platform "
        "admin changes its registration; register a new supplier under another id",
        errors=[FieldProblem(path="org_id", problem=why)],
        kind="organization-claimed",
    )


async def _commit(
    db: AsyncDatabase, caller: Caller, body: Organization, identity: Identity
) -> bool:
    """Write the claim if nobody changed it since ``load``; False when another write won."""
    now = datetime.now(UTC)
    previous = identity.registration
    registration = Registration(
        kind=body.kind.value,
        province=body.province.code,
        province_name=body.province.name,
        name=body.name,
        tax_code=body.tax_code,
        # The first registration names its registrar; one adopted from the recorded
        # organizations (registered straight through Kafka) has none.
        registered_by=caller.org_id if previous is None else previous.registered_by,
    )
    fields = {**registration_fields(registration), "updated_by": caller.org_id, "updated_at": now}
    claims = db[ORG_CLAIMS]
    if identity.claim is None:
        try:
            await claims.insert_one(
                {"_id": body.org_id, **fields, "revision": 1, "created_at": now}
            )
        except DuplicateKeyError:
            return False
        return True
    revision = identity.claim["revision"]
    won = await claims.find_one_and_update(
        {"_id": body.org_id, "revision": revision},
        {"$set": {**fields, "revision": revision + 1}},
    )
    return won is not None
