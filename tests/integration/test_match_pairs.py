"""A pair of orders may be proposed twice (the engine proposes again under a new match id after
an update released the first proposal): the store records both, also a store whose indexes
were made when the pair index was unique (it made the recorder dead-letter the second)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pymongo import ASCENDING

from ketnoi.settings import Settings
from schemas.events import Match, MatchProposed
from services.common.store import MATCHES, connect, database, ensure_indexes
from services.recorder.worker import write

pytestmark = pytest.mark.infra
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _proposal(match_id: str, kg: int) -> MatchProposed:
    match = Match(match_id=match_id, offer_id="o-b", demand_id="d-d", supplier_id="s1",
                  buyer_id="b1", category="fresh-fruit", quantity_kg=Decimal(kg),
                  unit_price_vnd=45_000)  # fmt: skip
    return MatchProposed(event_id=uuid.uuid4(), occurred_at=NOW, source="test", match=match)


def test_a_second_proposal_of_a_pair_is_recorded_after_the_old_unique_index(infra: Settings):
    async def run() -> tuple[dict, list[dict]]:
        client = connect(infra)
        name = f"pairs_{uuid.uuid4().hex[:8]}"
        db = database(client, infra.model_copy(update={"mongo_db": name}))
        try:
            pair = [("offer_id", ASCENDING), ("demand_id", ASCENDING)]
            await db[MATCHES].create_index(pair, unique=True, name="offer_demand")  # as before
            await ensure_indexes(db)
            await ensure_indexes(db)  # a second recorder starting: nothing left to replace
            await write(db, _proposal("m-8t", 8_000))
            await write(db, _proposal("m-5t", 5_000))
            index = (await db[MATCHES].index_information())["offer_demand"]
            docs = await db[MATCHES].find({"offer_id": "o-b"}).sort("_id", 1).to_list()
            return index, docs
        finally:
            await client.drop_database(name)
            await client.close()

    index, docs = asyncio.run(run())
    assert not index.get("unique") and index["key"] == [("offer_id", 1), ("demand_id", 1)]
    assert [(d["_id"], d["quantity_kg"]) for d in docs] == [("m-5t", 5_000.0), ("m-8t", 8_000.0)]
