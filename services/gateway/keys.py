"""API keys: who is calling, for which organization, in which role.

A key is 32 random bytes shown once; the store keeps only its SHA-256 (a fast hash is enough
for a high-entropy secret: there is nothing to brute-force). Each key also has a short public
``key_id`` to list and revoke it by. ``ketnoi keys`` (an admin tool) writes the collection
directly; the gateway only reads it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo.database import Database

from schemas.reference.provinces import normalise_province
from services.common.store import API_KEYS

KEY_PREFIX = "knk"
_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class Role(StrEnum):
    RETAILER = "retailer"  # supermarkets, trade centres, wholesale markets: post demands
    SUPPLIER = "supplier"  # cooperatives, enterprises, households: publish offers
    PROVINCE = "province"  # a Department of Industry and Trade: offers of its suppliers
    ORGANIZER = "organizer"  # runs trade-connection sessions
    ADMIN = "admin"  # operates the platform: everything


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


def create_key(
    db: Database,
    org_id: str,
    role: Role | str,
    province: str | None = None,
    label: str | None = None,
) -> IssuedKey:
    issued, doc = key_record(org_id, role, province, label)
    db[API_KEYS].create_index("key_id", unique=True, name="key_id")
    db[API_KEYS].insert_one(doc)
    return issued


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
