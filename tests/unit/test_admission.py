"""One rule for where an event may stand, and dead-letter records that always fit Kafka."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas import events as ev
from schemas.admission import Misplaced, check_placement, kafka_time, replay_timestamp_ms
from services.common.dead_letter import MAX_RAW_BYTES, dead_letter_record
from tests.factories import offer

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _published(at: datetime = NOW) -> ev.OfferPublished:
    return ev.OfferPublished(event_id=uuid.uuid4(), occurred_at=at, source="t",
                             offer=offer("o1", category="coffee"))  # fmt: skip


def test_an_orders_event_under_its_market_key_near_its_timestamp_is_placed():
    check_placement(_published(), "orders", b"coffee", NOW + timedelta(seconds=30))


def test_an_outcome_type_on_orders_is_misplaced():
    match = ev.MatchConfirmed(event_id=uuid.uuid4(), occurred_at=NOW, source="t", match_id="m",
                              category="coffee", offer_id="o", demand_id="d",
                              quantity_kg=1)  # fmt: skip
    with pytest.raises(Misplaced, match="belongs on 'matches', not on 'orders'"):
        check_placement(match, "orders", b"coffee", NOW)


@pytest.mark.parametrize("key", [None, b"tea", b"x" * 5000])
def test_a_key_other_than_the_market_is_misplaced(key):
    with pytest.raises(Misplaced, match="Kafka key") as caught:
        check_placement(_published(), "orders", key, NOW)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("skew", [timedelta(minutes=6), -timedelta(days=3)])
def test_an_orders_event_far_from_its_broker_timestamp_is_misplaced(skew):
    with pytest.raises(Misplaced, match="broker's timestamp"):
        check_placement(_published(NOW + skew), "orders", b"coffee", NOW)


def test_the_clock_check_holds_only_for_orders_and_can_be_turned_off():
    late = NOW - timedelta(days=3)
    outcome = ev.DemandFilled(event_id=uuid.uuid4(), occurred_at=late, source="t",
                              demand_id="d", category="coffee", filled_kg=1)  # fmt: skip
    check_placement(outcome, "matches", b"coffee", NOW)  # a backlog's outcomes come late
    check_placement(_published(late), "orders", b"coffee", NOW, max_skew=None)


def test_a_replaying_producer_stamps_the_event_time():
    event = _published(NOW - timedelta(days=30))
    assert kafka_time(replay_timestamp_ms(event)) == event.occurred_at
    check_placement(event, "orders", b"coffee", kafka_time(replay_timestamp_ms(event)))
    assert kafka_time(-1) is None and kafka_time(None) is None


def _record(raw: bytes, key: bytes = b"coffee", error: BaseException | None = None) -> dict:
    value = dead_letter_record(service="matcher", stage="parse", topic="p.orders", partition=2,
                               offset=7, key=key, raw=raw, reason="r" * 10_000,
                               error=error)  # fmt: skip
    return json.loads(value)


def test_a_small_event_is_kept_whole_with_its_hash():
    raw = b'{"type": "offer.published"}'
    record = _record(raw)
    assert base64.b64decode(record["raw_base64"]) == raw and not record["raw_truncated"]
    assert record["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(record["reason"]) <= 4000


def test_an_oversized_event_and_key_are_cut_so_the_record_fits_a_kafka_message():
    raw = b"x" * 1_200_000
    record = _record(raw, key=b"k" * 100_000)
    assert record["raw_truncated"] and record["raw_size"] == len(raw)
    assert len(base64.b64decode(record["raw_base64"])) == MAX_RAW_BYTES
    assert record["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(json.dumps(record)) < 1_000_000 // 2


def test_the_record_names_where_the_error_was_raised_and_is_the_same_id_on_replay():
    try:
        {}["missing"]
    except KeyError as exc:
        error = exc
    record = _record(b"{}", error=error)
    assert record["error_type"] == "KeyError"
    assert "test_admission.py" in record["where"]
    assert record["dead_letter_id"] == _record(b"{}")["dead_letter_id"]
