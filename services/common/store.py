"""MongoDB access shared by the recorder (writes) and the gateway (reads).

Only features that real MongoDB 7 and FerretDB v1 both have: CRUD by ``_id``, ``$set``
upserts, unique indexes. Kafka is the log of record; this store is rebuilt by replaying it.
"""

from __future__ import annotations

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from ketnoi.settings import Settings

OFFERS, DEMANDS, MATCHES = "offers", "demands", "matches"
SESSIONS, ORGANIZATIONS = "sessions", "organizations"


def connect(settings: Settings) -> AsyncMongoClient:
    return AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)


def database(client: AsyncMongoClient, settings: Settings) -> AsyncDatabase:
    return client[settings.mongo_db]


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[MATCHES].create_index(
        [("offer_id", ASCENDING), ("demand_id", ASCENDING)], unique=True, name="offer_demand"
    )
    await db[MATCHES].create_index([("demand_id", ASCENDING)], name="demand")
    await db[MATCHES].create_index([("buyer_id", ASCENDING)], name="buyer")
    await db[MATCHES].create_index([("supplier_id", ASCENDING)], name="supplier")
    await db[OFFERS].create_index([("product.category", ASCENDING)], name="category")
    await db[OFFERS].create_index([("supplier_id", ASCENDING)], name="supplier")
    await db[DEMANDS].create_index([("criteria.category", ASCENDING)], name="category")
    await db[DEMANDS].create_index([("buyer_id", ASCENDING)], name="buyer")
