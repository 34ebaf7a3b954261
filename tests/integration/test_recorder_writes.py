"""The recorder's guarded writes on the real store: a newer revision wins whatever the order
events arrive in, a guarded value is never overwritten, and a write stays an ``_id`` lookup
(FerretDB scanned the collection for an upsert with the guard in its filter)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ketnoi.settings import Settings
from schemas.events import Match, MatchProposed, OfferPublished, OfferUpdated, OfferWithdrawn
from services.common.store import connect, database
from services.recorder.worker import write
from tests import factories

pytestmark = pytest.mark.infra
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _meta() -> dict:
    return {"event_id": uuid.uuid4(), "occurred_at": NOW, "source": "test"}


def _offer_event(revision: int, price: int) -> OfferPublished | OfferUpdated:
    offer = factories.offer("o-1", unit_price_vnd=price).model_copy(update={"revision": revision})
    kind = OfferPublished if revision == 1 else OfferUpdated
    return kind(**_meta(), offer=offer)


def _proposal(demand_id: str) -> MatchProposed:
    match = Match(match_id=f"m-{demand_id}", offer_id="o-1", demand_id=demand_id,
                  supplier_id="s1", buyer_id="b1", category="fresh-fruit",
                  quantity_kg=Decimal(1000), unit_price_vnd=50_000)  # fmt: skip
    return MatchProposed(**_meta(), match=match)


def test_newer_revisions_win_in_any_order_and_guards_hold(infra: Settings):
    async def run() -> dict:
        client = connect(infra)
        db = database(
            client, infra.model_copy(update={"mongo_db": f"writes_{uuid.uuid4().hex[:8]}"})
        )
        try:
            await write(db, _offer_event(3, 70_000))  # the newest first: inserted
            await write(db, _offer_event(2, 60_000))  # older: ignored
            await write(db, _offer_event(1, 50_000))  # older still: ignored
            newest = await db.offers.find_one({"_id": "o-1"})
            await write(db, _offer_event(4, 80_000))  # newer: applied
            updated = await db.offers.find_one({"_id": "o-1"})
            # A withdrawal recorded before its offer (no revision stored): the offer applies.
            await write(db, OfferWithdrawn(**_meta(), offer_id="o-2", category="fresh-fruit"))
            late = factories.offer("o-2").model_copy(update={"revision": 1})
            await write(db, OfferPublished(**_meta(), offer=late))
            revisionless = await db.offers.find_one({"_id": "o-2"})
            # A filled demand is never set back to proposed; an unknown one is created.
            await db.demands.insert_one({"_id": "d-filled", "match_status": "filled"})
            await write(db, _proposal("d-filled"))
            await write(db, _proposal("d-new"))
            filled = await db.demands.find_one({"_id": "d-filled"})
            new = await db.demands.find_one({"_id": "d-new"})
            await client.drop_database(db.name)
            return {"newest": newest, "updated": updated, "revisionless": revisionless,
                    "filled": filled, "new": new}  # fmt: skip
        finally:
            await client.close()

    docs = asyncio.run(run())
    assert (docs["newest"]["revision"], docs["newest"]["unit_price_vnd"]) == (3, 70_000)
    assert (docs["updated"]["revision"], docs["updated"]["unit_price_vnd"]) == (4, 80_000)
    assert docs["revisionless"]["revision"] == 1 and docs["revisionless"]["status"] == "open"
    assert docs["filled"]["match_status"] == "filled"
    assert docs["new"]["match_status"] == "proposed"


def test_a_proposal_is_recorded_in_its_demands_session_else_its_offers(infra: Settings):
    """Whatever session its event carries (a tick's re-proposal carries none): the rule of
    ``figures.match_session``, as the stats and the monitor count it."""

    async def run() -> dict[str, str | None]:
        client = connect(infra)
        db = database(
            client, infra.model_copy(update={"mongo_db": f"sessions_{uuid.uuid4().hex[:8]}"})
        )
        try:
            await db.offers.insert_one({"_id": "o-1", "session_id": "s-offer"})
            await db.demands.insert_many([
                {"_id": "d-in", "session_id": "s-demand"},
                {"_id": "d-out", "session_id": None},
            ])  # fmt: skip
            seen: dict[str, str | None] = {}
            for demand_id, carried in (("d-in", None), ("d-out", "s-other"), ("d-new", "s-ev")):
                event = _proposal(demand_id).model_copy(update={"session_id": carried})
                await write(db, event)
                stored = await db.matches.find_one({"_id": f"m-{demand_id}"})
                seen[demand_id] = stored["session_id"]
            return seen
        finally:
            await client.drop_database(db.name)
            await client.close()

    assert asyncio.run(run()) == {
        "d-in": "s-demand",  # the demand's session wins
        "d-out": "s-offer",  # a demand outside sessions: the offer's
        "d-new": "s-ev",  # the demand not stored yet: the event's session stands
    }
