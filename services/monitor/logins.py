"""Organizer logins for the monitor page: an API key exchanged once for a session cookie.

A browser's EventSource cannot send an Authorization header, so the page authenticates with an
HttpOnly, SameSite=Strict cookie. The cookie holds a random token; the store keeps only its
SHA-256, the hash of the API key it was issued for and an expiry. Every use checks the key
again (cached briefly), so revoking the key ends its monitor logins too.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from services.common.store import API_KEYS
from services.gateway.keys import Caller, caller_from, hash_key

COOKIE = "ketnoi_monitor"
LOGINS = "monitor_logins"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def caller_for_key(db: AsyncDatabase, key: str) -> Caller | None:
    doc = await db[API_KEYS].find_one({"_id": hash_key(key)})
    return caller_from(doc) if doc else None


async def open_login(db: AsyncDatabase, key: str, hours: float) -> str:
    """A new login for this (already checked) key; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await db[LOGINS].insert_one(
        {
            "_id": _digest(token),
            "key_hash": hash_key(key),
            "created_at": now,
            "expires_at": now + timedelta(hours=hours),
        }
    )
    return token


async def close_login(db: AsyncDatabase, token: str) -> None:
    await db[LOGINS].delete_one({"_id": _digest(token)})


async def forget_expired(db: AsyncDatabase) -> int:
    """Delete expired logins (FerretDB has no TTL index)."""
    result = await db[LOGINS].delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
    return result.deleted_count


class LoginCache:
    """token digest -> (caller or None, until): per process, for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Caller | None, float]] = {}

    async def caller(self, db: AsyncDatabase, token: str) -> Caller | None:
        digest = _digest(token)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        caller = None
        login = await db[LOGINS].find_one({"_id": digest})
        if login is not None and login["expires_at"] > datetime.now(UTC):
            key = await db[API_KEYS].find_one({"_id": login["key_hash"]})
            caller = caller_from(key) if key else None
        if len(self._entries) >= 10_000:
            self._entries.clear()
        self._entries[digest] = (caller, now + self.ttl_s)
        return caller

    def forget(self, token: str) -> None:
        self._entries.pop(_digest(token), None)
