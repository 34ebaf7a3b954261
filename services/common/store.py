"""MongoDB access shared by the recorder (writes) and the gateway (reads).

Only features that real MongoDB 7 and FerretDB v1 both have: CRUD by ``_id``, ``$set``
upserts, unique indexes. Kafka is the log of record; this store is rebuilt by replaying it.

The read model (offers ... participants) is written by the recorder alone. The gateway owns
four small collections of its own, which are not rebuilt from Kafka: API keys (written by
``ketnoi keys``), idempotency records, revision counters and organization claims (who holds
each organization id: the first registration, or a key issued before it; see
``services/gateway/identity.py``).
"""

from __future__ import annotations

import contextlib

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from ketnoi.settings import Settings

OFFERS, DEMANDS, MATCHES = "offers", "demands", "matches"
SESSIONS, ORGANIZATIONS = "sessions", "organizations"
PARTICIPANTS = "participants"
MEETINGS, OUTCOMES, DELIVERIES = "meetings", "outcomes", "deliveries"
API_KEYS, IDEMPOTENCY, REVISIONS = "api_keys", "idempotency", "revisions"
ORG_CLAIMS = "org_claims"


def connect(settings: Settings) -> AsyncMongoClient:
    return AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)


def database(client: AsyncMongoClient, settings: Settings) -> AsyncDatabase:
    return client[settings.mongo_db]


async def ensure_indexes(db: AsyncDatabase) -> None:
    # A pair may be proposed more than once (a proposal released by an update is proposed
    # again under a new match id), so the pair index is not unique. Stores made before kept a
    # unique one, which made the recorder dead-letter the second proposal: it is replaced.
    pair = [("offer_id", ASCENDING), ("demand_id", ASCENDING)]
    if (await db[MATCHES].index_information()).get("offer_demand", {}).get("unique"):
        with contextlib.suppress(OperationFailure):  # another recorder dropped it first
            await db[MATCHES].drop_index("offer_demand")
    await db[MATCHES].create_index(pair, name="offer_demand")
    await db[MATCHES].create_index([("demand_id", ASCENDING)], name="demand")
    await db[MATCHES].create_index([("buyer_id", ASCENDING)], name="buyer")
    await db[MATCHES].create_index([("supplier_id", ASCENDING)], name="supplier")
    await db[OFFERS].create_index([("product.category", ASCENDING)], name="category")
    await db[OFFERS].create_index([("supplier_id", ASCENDING)], name="supplier")
    await db[DEMANDS].create_index([("criteria.category", ASCENDING)], name="category")
    await db[DEMANDS].create_index([("buyer_id", ASCENDING)], name="buyer")
    # Session views and stats filter by session; a province's view filters by province.
    await db[OFFERS].create_index([("session_id", ASCENDING)], name="session")
    await db[DEMANDS].create_index([("session_id", ASCENDING)], name="session")
    await db[MATCHES].create_index([("session_id", ASCENDING)], name="session")
    await db[SESSIONS].create_index([("organizer_id", ASCENDING)], name="organizer")
    await db[PARTICIPANTS].create_index([("session_id", ASCENDING)], name="session")
    await db[ORGANIZATIONS].create_index([("province.code", ASCENDING)], name="province")
    await ensure_meeting_indexes(db)


async def ensure_meeting_indexes(db: AsyncDatabase) -> None:
    """A session's meetings, outcomes and deliveries are read by session. The seat indexes
    make a double booking impossible in the store itself: a scheduled meeting holds
    ``session|slot|table`` and ``session|org|slot`` for each party (requested and cancelled
    ones hold values of their own), so a write that would seat a table or an organization twice
    is refused, whatever raced."""
    for name in (MEETINGS, OUTCOMES, DELIVERIES):
        await db[name].create_index([("session_id", ASCENDING)], name="session")
    for seat in ("seat", "buyer_seat", "supplier_seat"):
        await db[MEETINGS].create_index([(seat, ASCENDING)], unique=True, name=seat)
    await db[DELIVERIES].create_index([("meeting_id", ASCENDING)], name="meeting")


async def ensure_gateway_indexes(db: AsyncDatabase) -> None:
    """The gateway's own collections: keys are listed and revoked by their short id."""
    await db[API_KEYS].create_index([("key_id", ASCENDING)], unique=True, name="key_id")
    await db[API_KEYS].create_index([("org_id", ASCENDING)], name="org")
    await db[IDEMPOTENCY].create_index([("created_at", ASCENDING)], name="created")
