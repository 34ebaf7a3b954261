"""The recorder's meeting, outcome and delivery writes on the real store: stages never go back,
a redelivery changes nothing, the store itself refuses a double booking, and what both parties
agree on follows the statements stored."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pymongo.errors import OperationFailure

from ketnoi.settings import Settings
from schemas import events as ev
from schemas.fields import Quantity
from schemas.meetings import DeliveryStatement, MeetingPlan, OutcomeStatement
from services.common.store import connect, database, ensure_indexes
from services.recorder.programme import delivery_id
from services.recorder.worker import write

pytestmark = pytest.mark.infra
T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
SESSION = "s-1"


def _meta() -> dict:
    return {"event_id": uuid.uuid4(), "occurred_at": T0, "source": "test", "session_id": SESSION}


def _scheduled(meeting: str, buyer: str, supplier: str, slot: int, table: int):
    return ev.MeetingScheduled(**_meta(), meeting_id=meeting, buyer_id=buyer,
                               supplier_id=supplier, slot=slot, table=table,
                               starts_at=T0 + timedelta(minutes=20 * slot),
                               ends_at=T0 + timedelta(minutes=20 * slot + 20))  # fmt: skip


def _outcome(party: str, statement: OutcomeStatement) -> ev.OutcomeStated:
    org = {"buyer": "b1", "supplier": "s1"}[party]
    return ev.OutcomeStated(**_meta(), meeting_id="m-1", buyer_id="b1", supplier_id="s1",
                            party=party, org_id=org, statement=statement)  # fmt: skip


def _run(infra: Settings, scenario) -> None:
    async def go() -> None:
        client = connect(infra)
        db = database(client, infra.model_copy(update={"mongo_db": f"meet_{uuid.uuid4().hex[:8]}"}))
        try:
            await ensure_indexes(db)
            await scenario(db)
        finally:
            await client.drop_database(db.name)
            await client.close()

    asyncio.run(go())


def test_meeting_stages_move_forward_only_and_redeliveries_change_nothing(infra: Settings):
    async def scenario(db) -> None:
        plan = MeetingPlan(slots=[{"start": T0, "end": T0 + timedelta(minutes=20)}], tables=3)
        await db.sessions.insert_one({"_id": SESSION, "status": "open"})
        await write(db, ev.MeetingPlanSet(**_meta(), plan=plan))
        stored = await db.sessions.find_one({"_id": SESSION})
        assert stored["status"] == "open" and stored["meeting_plan"]["tables"] == 3
        assert stored["meeting_plan"]["slots"][0]["start"].startswith("2026-12-05T08:00")

        request = ev.MeetingRequested(**_meta(), meeting_id="m-1", buyer_id="b1",
                                      supplier_id="s1", requested_by=["b1"])  # fmt: skip
        await write(db, request)
        second = request.model_copy(update={"event_id": uuid.uuid4(),
                                            "requested_by": ["b1", "s1"]})  # fmt: skip
        await write(db, second)
        doc = await db.meetings.find_one({"_id": "m-1"})
        assert doc["status"] == "requested" and doc["requested_by"] == ["b1", "s1"]

        scheduled = _scheduled("m-1", "b1", "s1", 0, 2)
        await write(db, scheduled)
        cancel = ev.MeetingCancelled(**_meta(), meeting_id="m-1", org_id="s1", party="supplier",
                                     reason="Xe hỏng")  # fmt: skip
        await write(db, cancel)
        for again in (scheduled, request, cancel):  # redelivered in any order: no change
            await write(db, again)
        doc = await db.meetings.find_one({"_id": "m-1"})
        assert doc["status"] == "cancelled" and doc["cancelled_by"] == "s1"
        assert doc["slot"] == 0 and doc["table"] == 2  # where it was, for the record
        assert doc["cancel_reason"] == "Xe hỏng"

        # Its seat is free again: another meeting takes slot 0, table 2.
        await write(db, _scheduled("m-2", "b1", "s2", 0, 2))
        assert (await db.meetings.find_one({"_id": "m-2"}))["status"] == "scheduled"

    _run(infra, scenario)


def test_the_store_refuses_a_double_booking(infra: Settings):
    async def scenario(db) -> None:
        await write(db, _scheduled("m-1", "b1", "s1", 0, 1))
        # The same table in the same slot, then the same buyer in the same slot: not stored.
        await write(db, _scheduled("m-2", "b2", "s2", 0, 1))
        await write(db, _scheduled("m-3", "b1", "s3", 0, 2))
        assert await db.meetings.count_documents({}) == 1
        # Over a stored request, the clash is an error the worker dead-letters.
        request = ev.MeetingRequested(**_meta(), meeting_id="m-4", buyer_id="b4",
                                      supplier_id="s1", requested_by=["b4"])  # fmt: skip
        await write(db, request)
        with pytest.raises(OperationFailure):  # DuplicateKeyError on MongoDB; FerretDB: code 1
            await write(db, _scheduled("m-4", "b4", "s1", 0, 3))
        assert (await db.meetings.find_one({"_id": "m-4"}))["status"] == "requested"

    _run(infra, scenario)


def test_outcomes_keep_both_statements_and_derive_the_agreement(infra: Settings):
    contract = OutcomeStatement(
        kind="contract",
        volume=Quantity(amount=20, unit="tấn"),
        value_vnd=900_000_000,
        delivery={"start": date(2026, 12, 10), "end": date(2026, 12, 31)},
    )
    same_in_kg = contract.model_copy(update={"volume": Quantity(amount=20000, unit="kg")})
    smaller = contract.model_copy(update={"volume": Quantity(amount=15, unit="tấn")})  # fmt: skip

    async def scenario(db) -> None:
        await write(db, _outcome("supplier", contract))
        doc = await db.outcomes.find_one({"_id": "m-1"})
        assert doc["agreed"] is None and doc["claimed_by"] == ["supplier"]
        assert doc["statements"]["supplier"]["volume_kg"] == 20000.0

        await write(db, _outcome("buyer", smaller))
        doc = await db.outcomes.find_one({"_id": "m-1"})
        assert doc["agreed"] is None and doc["claimed_by"] == ["buyer", "supplier"]

        restated = _outcome("buyer", same_in_kg)  # replaces the buyer's earlier statement
        await write(db, restated)
        await write(db, restated)  # redelivered
        doc = await db.outcomes.find_one({"_id": "m-1"})
        assert doc["agreed"] == {"kind": "contract", "volume_kg": 20000.0,
                                 "value_vnd": 900_000_000}  # fmt: skip
        assert doc["claimed_by"] == [] and set(doc["statements"]) == {"buyer", "supplier"}

        delivery = DeliveryStatement(delivery_ref="HD-001", delivered_on=date(2026, 12, 20),
                                     quantity=Quantity(amount=Decimal(5), unit="tấn"),
                                     value_vnd=225_000_000)  # fmt: skip
        stated = {"meeting_id": "m-1", "buyer_id": "b1", "supplier_id": "s1"}
        await write(db, ev.DeliveryStated(**_meta(), **stated, party="supplier", org_id="s1",
                                          delivery=delivery))  # fmt: skip
        doc = await db.deliveries.find_one({"_id": delivery_id("m-1", "HD-001")})
        assert doc["confirmed"] is False and doc["claimed_by"] == ["supplier"]
        assert doc["quantity_kg"] == 5000.0  # the one side's figures, marked unconfirmed
        await write(db, ev.DeliveryStated(**_meta(), **stated, party="buyer", org_id="b1",
                                          delivery=delivery))  # fmt: skip
        doc = await db.deliveries.find_one({"_id": delivery_id("m-1", "HD-001")})
        assert doc["confirmed"] is True and doc["claimed_by"] == []
        assert (doc["delivered_on"], doc["value_vnd"]) == ("2026-12-20", 225_000_000)

    _run(infra, scenario)
