"""Organizer logins for the monitor page: an API key exchanged once for a session cookie.

A browser's EventSource cannot send an Authorization header, so the page authenticates with an
HttpOnly, SameSite=Strict cookie. The cookie holds a random token; the store keeps only its
SHA-256, the hash of the API key it was issued for and an expiry. Every use checks the key
again (cached briefly), so revoking the key ends its monitor logins too.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from services.common.store import API_KEYS
from services.gateway.auth import CallerCache
from services.gateway.keys import Caller, caller_from, hash_key

COOKIE = "ketnoi_monitor"
LOGINS = "monitor_logins"


async def open_login(db: AsyncDatabase, key: str, hours: float) -> str:
    """A new login for this (already checked) key; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await db[LOGINS].insert_one(
        {
            "_id": hash_key(token),
            "key_hash": hash_key(key),
            "created_at": now,
            "expires_at": now + timedelta(hours=hours),
        }
    )
    return token


async def close_login(db: AsyncDatabase, token: str) -> None:
    await db[LOGINS].delete_one({"_id": hash_key(token)})


async def forget_expired(db: AsyncDatabase) -> int:
    """Delete expired logins (FerretDB has no TTL index)."""
    result = await db[LOGINS].delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
    return result.deleted_count


class LoginCache(CallerCache):
    """Logins by their token's hash: each re-checks its API key, so a revoked key ends its
    logins within ``ttl_s``."""

    async def caller(self, db: AsyncDatabase, token: str) -> Caller | None:
        async def fetch() -> Caller | None:
            login = await db[LOGINS].find_one({"_id": hash_key(token)})
            if login is None or login["expires_at"] <= datetime.now(UTC):
                return None
            key = await db[API_KEYS].find_one({"_id": login["key_hash"]})
            return caller_from(key) if key else None

        return await self.get(hash_key(token), fetch)
