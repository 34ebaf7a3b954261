"""API keys: who is calling, for which organization, in which role.

A key is 32 random bytes shown once; the store keeps only its SHA-256 (a fast hash is enough
for a high-entropy secret: there is nothing to brute-force). Each key also has a short public
``key_id`` to list and revoke it by. ``ketnoi keys`` (an admin tool) writes the collection
directly; the gateway only reads it.

A key is bound to an organization id: to a registered organization of a kind its role acts for
(a retailer key for a supermarket chain, never for a cooperative), or, for an id nobody has
registered yet, it claims that id, so only its holder (or the admin) registers it. The claim is
the same record the gateway writes on a registration (``org_claims``, see ``identity.py``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from schemas.organizations import BUYER_KINDS, SUPPLIER_KINDS, OrganizationKind
from schemas.reference.provinces import normalise_province
from services.common.store import API_KEYS, ORG_CLAIMS, ORGANIZATIONS

KEY_PREFIX = "knk"
_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class Role(StrEnum):
    RETAILER = "retailer"  # supermarkets, trade centres, wholesale markets: post demands
    SUPPLIER = "supplier"  # cooperatives, enterprises, households: publish offers
    PROVINCE = "province"  # a Department of Industry and Trade: offers of its suppliers
    ORGANIZER = "organizer"  # runs trade-connection sessions
    ADMIN = "admin"  # operates the platform: everything


KINDS_BY_ROLE: dict[Role, frozenset[OrganizationKind]] = {
    Role.RETAILER: BUYER_KINDS,
    Role.SUPPLIER: SUPPLIER_KINDS,
    Role.PROVINCE: frozenset({OrganizationKind.ORGANIZER}),  # a Department of Industry and Trade
    Role.ORGANIZER: frozenset({OrganizationKind.ORGANIZER}),
    Role.ADMIN: frozenset(OrganizationKind),
}
"""The kinds of organization a key of each role may act for."""

CLAIM_ATTEMPTS = 5
"""Reads and guarded writes of one claim before giving up: each lost race means another write
to the same id won meanwhile, which a handful of retries outlasts."""


def kinds_for(roles: Iterable[Role]) -> frozenset[OrganizationKind]:
    """The kinds that every one of these key roles may act for (all kinds for no role)."""
    kinds = frozenset(OrganizationKind)
    for role in roles:
        kinds &= KINDS_BY_ROLE[role]
    return kinds


def kind_list(kinds: Iterable[OrganizationKind]) -> list[str]:
    return sorted(kind.value for kind in kinds)


def with_article(word: str) -> str:
    """The word with its indefinite article, for messages ("an organizer", "a cooperative")."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


@dataclass(frozen=True)
class Caller:
    """The organization behind a request, as its key says."""

    org_id: str
    role: Role
    key_id: str
    province: str | None = None  # province code, for the province role

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


@dataclass(frozen=True)
class IssuedKey:
    key: str  # the secret: shown once, never stored
    key_id: str
    org_id: str
    role: Role
    province: str | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """(key_id, key): ``knk_<key_id>_<secret>``; the id part makes a leaked key easy to find."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_record(
    org_id: str, role: Role | str, province: str | None = None, label: str | None = None
) -> tuple[IssuedKey, dict[str, Any]]:
    """A new key and the document to store for it (only the hash of the secret)."""
    role = Role(role)
    if not _ORG_ID.match(org_id):
        raise ValueError(f"org id {org_id!r}: use ASCII letters, digits and . _ : - only")
    province_code = province_name = None
    if role is Role.PROVINCE:
        if not province:
            raise ValueError("a province key needs --province (the province it acts for)")
        match = normalise_province(province)
        province_code, province_name = match.province.code, match.province.name
    elif province:
        raise ValueError("--province applies to the province role only")
    key_id, key = new_key()
    doc = {
        "_id": hash_key(key),
        "key_id": key_id,
        "org_id": org_id,
        "role": role.value,
        "province": province_code,
        "province_name": province_name,
        "label": label,
        "created_at": datetime.now(UTC),
        "revoked_at": None,
    }
    return IssuedKey(key, key_id, org_id, role, province_code), doc


class KeyRefused(ValueError):
    """The key would act for an organization it does not fit; nothing was issued."""


@dataclass(frozen=True)
class Registration:
    """An organization id's registered identity: the gateway's claim, or the recorded
    organization for one registered straight through Kafka (the simulator, older data)."""

    kind: str
    province: str | None  # province code
    province_name: str | None
    name: str | None
    tax_code: str | None = None
    registered_by: str | None = None  # org id of the key that registered it first; None: unknown


def registration_of(
    claim: Mapping[str, Any] | None, recorded: Mapping[str, Any] | None
) -> Registration | None:
    """What the id is registered as, or None while nobody registered it."""
    if claim is not None and claim.get("state") == "registered":
        return Registration(
            kind=claim["kind"],
            province=claim.get("province"),
            province_name=claim.get("province_name"),
            name=claim.get("name"),
            tax_code=claim.get("tax_code"),
            registered_by=claim.get("registered_by"),
        )
    if recorded is not None:
        province = recorded.get("province") or {}
        return Registration(
            kind=recorded.get("kind", ""),
            province=province.get("code"),
            province_name=province.get("name"),
            name=recorded.get("name"),
            tax_code=recorded.get("tax_code"),
        )
    return None


def registration_fields(registration: Registration | None) -> dict[str, Any]:
    """A claim's fields for a registration (state "reserved" while there is none)."""
    if registration is None:
        return {"state": "reserved"}
    return {
        "state": "registered",
        "kind": registration.kind,
        "province": registration.province,
        "province_name": registration.province_name,
        "name": registration.name,
        "tax_code": registration.tax_code,
        "registered_by": registration.registered_by,
    }


def create_key(
    db: Database,
    org_id: str,
    role: Role | str,
    province: str | None = None,
    label: str | None = None,
    *,
    unregistered: bool = False,
) -> IssuedKey:
    """Issue a key bound to ``org_id`` (see ``bind_key``); ``KeyRefused`` when it does not fit.

    The key is stored first and bound second, so the gateway, which reads the keys of an id
    before it changes the id's claim, either sees this key or loses the claim race to us; a
    refused key is deleted before its secret was ever shown.
    """
    issued, doc = key_record(org_id, role, province, label)
    db[API_KEYS].create_index("key_id", unique=True, name="key_id")
    db[API_KEYS].insert_one(doc)
    try:
        bind_key(db, org_id, issued.role, issued.province, unregistered=unregistered)
    except BaseException:
        db[API_KEYS].delete_one({"_id": doc["_id"]})
        raise
    return issued


def bind_key(
    db: Database, org_id: str, role: Role, province: str | None, *, unregistered: bool
) -> None:
    """Check that a key of ``role`` fits ``org_id`` and touch (or write) the id's claim.

    - registered: its kind must be one the role acts for (a province key: an organizer in the
      key's own province); an admin key fits any organization;
    - not registered: admin and province keys claim the id (the authorities, which register
      others); supplier, retailer and organizer keys only with ``unregistered`` (the holder
      then registers its organization itself, once), and every active key of the id must still
      share a kind.

    The claim write is an insert on ``_id`` or a ``find_one_and_update`` on its revision, the
    same guards the gateway's registrations use, so the two never both win.
    """
    claims = db[ORG_CLAIMS]
    for _ in range(CLAIM_ATTEMPTS):
        claim = claims.find_one({"_id": org_id})
        recorded = None
        if claim is None or claim.get("state") != "registered":
            recorded = db[ORGANIZATIONS].find_one({"_id": org_id})
        registration = registration_of(claim, recorded)
        roles = {
            Role(doc["role"])
            for doc in db[API_KEYS].find({"org_id": org_id, "revoked_at": None}, {"role": 1})
        }
        _check_binding(org_id, role, province, registration, roles | {role}, unregistered)
        now = datetime.now(UTC)
        if claim is None:
            fields = registration_fields(registration)
            try:
                claims.insert_one({"_id": org_id, **fields, "revision": 1, "created_at": now,
                                   "keyed_at": now})  # fmt: skip
                return
            except DuplicateKeyError:
                continue
        touched = claims.find_one_and_update(
            {"_id": org_id, "revision": claim["revision"]},
            {"$set": {"revision": claim["revision"] + 1, "keyed_at": now}},
        )
        if touched is not None:
            return
    raise KeyRefused(
        f"organization {org_id!r} changed while the key was being issued; run the command again"
    )


def _check_binding(
    org_id: str,
    role: Role,
    province: str | None,
    registration: Registration | None,
    roles: set[Role],
    unregistered: bool,
) -> None:
    if role is Role.ADMIN:
        return
    allowed = KINDS_BY_ROLE[role]
    key = f"{with_article(role.value)} key"
    if registration is not None:
        if registration.kind not in allowed:
            raise KeyRefused(
                f"organization {org_id!r} is registered as {with_article(registration.kind)}, "
                f"which {key} cannot act for; {key} is for one of: "
                f"{', '.join(kind_list(allowed))} (the admin changes a kind with "
                "POST /v1/organizations)"
            )
        if role is Role.PROVINCE and registration.province != province:
            raise KeyRefused(
                f"organization {org_id!r} is registered in {registration.province_name}; "
                f"issue its province key with --province {registration.province_name!r}"
            )
        return
    if role is not Role.PROVINCE and not unregistered:
        raise KeyRefused(
            f"organization {org_id!r} is not registered; register it first "
            "(POST /v1/organizations with an admin key, or with its province's key for a "
            "supplier), or pass --unregistered to issue a key with which it registers itself "
            f"once, as one of: {', '.join(kind_list(allowed))}"
        )
    if not kinds_for(r for r in roles if r is not Role.ADMIN):
        others = sorted(r.value for r in roles if r not in (role, Role.ADMIN))
        raise KeyRefused(
            f"organization {org_id!r} already has active {', '.join(others)} key(s), and no "
            f"kind of organization fits both those and {key}; use another id, or "
            "revoke those keys first (`ketnoi keys revoke`)"
        )


def list_keys(db: Database, org_id: str | None = None) -> list[dict[str, Any]]:
    query = {"org_id": org_id} if org_id else {}
    return list(db[API_KEYS].find(query, {"_id": 0}).sort("created_at", 1))


def revoke_key(db: Database, key_id: str) -> bool:
    """Mark a key revoked (kept for the record); False if no such active key."""
    result = db[API_KEYS].update_one(
        {"key_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}}
    )
    return result.modified_count == 1


def caller_from(doc: dict[str, Any]) -> Caller | None:
    if doc.get("revoked_at") is not None:
        return None
    return Caller(doc["org_id"], Role(doc["role"]), doc["key_id"], doc.get("province"))
