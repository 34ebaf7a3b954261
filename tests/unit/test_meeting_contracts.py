"""The meeting contracts refuse what a client must not send, naming the field; the recorder maps
each programme event to guarded writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas import events as ev
from schemas.meetings import (
    AvailabilitySubmission,
    MeetingPlan,
    OutcomeSubmission,
)
from schemas.problems import explain
from services.recorder.documents import writes_for
from services.recorder.programme import CANCELLED, SCHEDULED, free_seats

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _slot(start_min: int, length_min: int = 20) -> dict:
    start = T0 + timedelta(minutes=start_min)
    return {"start": start, "end": start + timedelta(minutes=length_min)}


def _problems(model, body) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    return [str(p) for p in explain(info.value)]


def _plan(slots: list[dict], tables: int = 1) -> dict:
    return {"slots": slots, "tables": tables}


def test_a_plan_is_bounded_ordered_and_without_overlap():
    plan = MeetingPlan(slots=[_slot(0), _slot(20), _slot(60)], tables=40)
    assert len(plan.slots) == 3 and plan.tables == 40
    assert _problems(MeetingPlan, _plan([_slot(0), _slot(10)])) == [
        "slots: slot 1 starts at 2026-12-05T08:10:00+00:00, before slot 0 ends "
        "(2026-12-05T08:20:00+00:00): list slots in time order, without overlap"
    ]
    too_many = _problems(MeetingPlan, _plan([_slot(20 * i) for i in range(49)]))
    assert any(p.startswith("slots:") for p in too_many)
    assert any(p.startswith("tables:") for p in _problems(MeetingPlan, _plan([_slot(0)], 501)))
    assert any(p.startswith("slots[0]") for p in _problems(MeetingPlan, _plan([_slot(0, 2)])))
    naive = {"start": "2026-12-05T08:00:00", "end": "2026-12-05T08:20:00"}
    assert any(p.startswith("slots[0].start") for p in _problems(MeetingPlan, _plan([naive])))


def test_availability_is_a_short_list_of_slot_indexes():
    assert AvailabilitySubmission(unavailable_slots=[3, 1, 3]).unavailable_slots == [1, 3]
    assert any("unavailable_slots[0]" in p for p in _problems(
        AvailabilitySubmission, {"unavailable_slots": [48]}))  # fmt: skip
    assert any("unavailable_slots[0]" in p for p in _problems(
        AvailabilitySubmission, {"unavailable_slots": [True]}))  # fmt: skip


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"kind": "contract", "value_vnd": 1, "delivery": {"start": "2026-12-10",
                                                           "end": "2026-12-20"}}, "volume"),
        ({"kind": "contract", "volume": {"amount": 5, "unit": "tấn"}, "value_vnd": 0,
          "delivery": {"start": "2026-12-10", "end": "2026-12-20"}}, "value_vnd"),
        ({"kind": "contract", "volume": {"amount": 5, "unit": "tấn"}, "value_vnd": 1}, "delivery"),
        ({"kind": "no_deal", "value_vnd": 5}, "value_vnd"),
        ({"kind": "mou", "volume": {"amount": 5, "unit": "bao"}}, "volume.unit"),
        ({"kind": "deal"}, "kind"),
        ({"kind": "mou", "surprise": 1}, "surprise"),
    ],
)  # fmt: skip
def test_an_outcome_refuses_terms_that_do_not_fit_its_kind(body, path):
    problems = _problems(OutcomeSubmission, body)
    assert any(p.startswith(f"{path}:") or f": {path}:" in p for p in problems), problems


def test_a_contract_statement_keeps_its_terms_without_the_party():
    body = OutcomeSubmission(kind="contract", volume={"amount": 20, "unit": "tấn"},
                             value_vnd=900_000_000, party="buyer",
                             delivery={"start": "2026-12-10", "end": "2026-12-31"})  # fmt: skip
    statement = body.statement()
    assert statement.volume.kg == 20000 and "party" not in statement.model_dump()


def _meta() -> dict:
    return {"event_id": uuid.uuid4(), "occurred_at": T0, "source": "t", "session_id": "s-1"}


def test_meeting_events_become_staged_writes_with_seats():
    scheduled = ev.MeetingScheduled(**_meta(), meeting_id="m-1", buyer_id="b1",
                                    supplier_id="s1", slot=2, table=7, starts_at=T0,
                                    ends_at=T0 + timedelta(minutes=20))  # fmt: skip
    (write,) = writes_for(scheduled)
    assert (write.collection, write.doc_id, write.newer_than_stored) == ("meetings", "m-1",
                                                                         SCHEDULED)  # fmt: skip
    assert (write.fields["seat"], write.fields["buyer_seat"]) == ("s-1|2|7", "s-1|b1|2")
    cancelled = ev.MeetingCancelled(**_meta(), meeting_id="m-1", org_id="b1", party="buyer")
    (write,) = writes_for(cancelled)
    assert write.newer_than_stored == CANCELLED
    assert write.fields["seat"] == free_seats("m-1")["seat"] != "s-1|2|7"


def test_an_outcome_writes_only_its_own_party_statement():
    stated = ev.OutcomeStated(
        **_meta(),
        meeting_id="m-1",
        buyer_id="b1",
        supplier_id="s1",
        party="supplier",
        org_id="s1",
        statement={"kind": "mou", "volume": {"amount": 2, "unit": "tấn"}},
    )
    (write,) = writes_for(stated)
    assert write.collection == "outcomes" and write.doc_id == "m-1"
    assert "statements.buyer" not in write.fields
    assert write.fields["statements.supplier"]["volume_kg"] == 2000.0
