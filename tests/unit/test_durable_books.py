"""Crash consistency of the matcher's table state, at every possible crash point.

A crash keeps a prefix of each partition's table writes (they go in order to one changelog
partition) and the consumer resumes from some committed offset at or before the last marker.
Whatever the prefix and the commit point, and however the events are cut into batches before
and after the crash, the outputs after recovery must be exactly the uninterrupted run's outputs
for the replayed events (byte-identical, so consumers can dedupe), and the books must end
identical.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas import events as ev
from services.matcher.durable import DurableBooks, _as_applied
from services.matcher.engine import MatchConfig
from tests.factories import demand, offer

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CONFIG = MatchConfig(proposal_ttl=timedelta(hours=2))


class RecordingTable(dict):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[tuple[str, object]] = []

    def __setitem__(self, key, value) -> None:
        self.log.append((key, value))
        super().__setitem__(key, value)


def _orders(
    category: str = "coffee", base: int = 0, clearing: str = "instant"
) -> list[ev.AnyEvent]:
    """A market: offers and demands, so that a 20 t demand needs three suppliers. ``rounds``:
    orders cleared in rounds, so nothing matches on arrival and two ticks closing a round
    allocate it (the first the first two offers to the 20 t demand, the second the rest)."""
    n = iter(range(base + 1, base + 1000))
    p = "" if category == "coffee" else f"{category}-"

    def env(minutes: int) -> dict:
        return {"event_id": uuid.UUID(int=next(n)), "occurred_at": T0 + timedelta(minutes=minutes),
                "source": "test"}  # fmt: skip

    market = {"category": category}
    events: list[ev.AnyEvent] = [
        ev.OfferPublished(offer=offer(f"{p}o1", "8", **market), **env(0)),
        ev.OfferPublished(offer=offer(f"{p}o2", "7", **market), **env(1)),
        ev.DemandPosted(demand=demand(f"{p}d1", "20", **market), **env(2)),
        ev.OfferPublished(offer=offer(f"{p}o3", "5", **market), **env(3)),
        ev.DemandPosted(demand=demand(f"{p}d2", "4", **market), **env(4)),
        ev.OfferPublished(offer=offer(f"{p}o4", "6", **market), **env(5)),
    ]
    if clearing == "rounds":
        events = [_in_rounds(e) for e in events]
        events.insert(3, ev.MarketTick(category=category, closes_round=True, **env(2)))
        events.append(ev.MarketTick(category=category, closes_round=True, **env(5)))
    return events


def _in_rounds(event: ev.AnyEvent) -> ev.AnyEvent:
    """An offer or a demand as the gateway sends it to a market cleared in rounds."""
    field = "offer" if isinstance(event, ev.OfferPublished) else "demand"
    order = getattr(event, field).model_copy(update={"clearing": "rounds"})
    return event.model_copy(update={field: order})


def _stream(
    category: str = "coffee", base: int = 0, clearing: str = "instant"
) -> list[ev.AnyEvent]:
    """The orders, then: both sides accept the first proposal, the buyer declines the second
    (its quantity returns and is re-matched: at once, or by the last tick when the market
    clears in rounds), and a tick three hours later expires the rest."""
    orders = _orders(category, base, clearing)
    books = DurableBooks({}, CONFIG)
    proposals = [
        parsed.match
        for offset, event in enumerate(orders)
        for out in books.process(0, offset, event)
        if isinstance(parsed := ev.parse_event(out.value), ev.MatchProposed)
    ]
    assert len(proposals) >= 3
    first, second = proposals[0], proposals[1]
    at = T0 + timedelta(minutes=30)

    def decision(kind, match, party: str, n: int) -> ev.AnyEvent:
        org = match.buyer_id if party == "buyer" else match.supplier_id
        return kind(event_id=uuid.UUID(int=base + 500 + n), occurred_at=at + timedelta(minutes=n),
                    source="test", match_id=match.match_id, category=category, party=party,
                    org_id=org)  # fmt: skip

    return [
        *orders,
        decision(ev.MatchAccepted, first, "buyer", 1),
        decision(ev.MatchAccepted, first, "supplier", 2),
        decision(ev.MatchDeclined, second, "buyer", 3),
        ev.MarketTick(event_id=uuid.UUID(int=base + 900), occurred_at=T0 + timedelta(hours=3),
                      source="test", category=category, closes_round=clearing == "rounds"),
    ]  # fmt: skip


def _run(table: RecordingTable, events, start: int = 0) -> list[list[tuple[bytes, bytes]]]:
    books = DurableBooks(table, CONFIG)
    return [
        [(o.key, o.value) for o in books.process(0, offset, event)]
        for offset, event in enumerate(events)
        if offset >= start
    ]


def _effective_records(table: dict) -> dict[str, object]:
    books = DurableBooks(table, CONFIG)
    return {
        k: _as_applied(v, books.applied_offset(v["p"]))
        for k, v in table.items()
        if not k.startswith("__")
    }


CLEARING = pytest.mark.parametrize("clearing", ["instant", "rounds"])


@CLEARING
def test_the_stream_exercises_every_kind_of_outcome(clearing):
    stream = _stream(clearing=clearing)
    outputs = [ev.parse_event(v) for out in _run(RecordingTable(), stream) for _, v in out]
    kinds = {e.type for e in outputs}
    assert {"match.proposed", "match.confirmed", "match.released", "match.expired"} <= kinds
    if clearing == "rounds":  # every proposal came from a tick closing a round
        rounds = {e.event_id for e in stream if isinstance(e, ev.MarketTick) and e.closes_round}
        proposed = [e for e in outputs if isinstance(e, ev.MatchProposed)]
        assert proposed and all(e.correlation_id in rounds for e in proposed)


@CLEARING
def test_reference_run_allocates_without_over_promising(clearing):
    table = RecordingTable()
    outputs = _run(table, _orders(clearing=clearing))
    proposed = [ev.parse_event(v) for out in outputs for _, v in out]
    proposed = [e for e in proposed if isinstance(e, ev.MatchProposed)]
    per_offer: dict[str, Decimal] = {}
    for e in proposed:
        per_offer[e.match.offer_id] = (
            per_offer.get(e.match.offer_id, Decimal(0)) + e.match.quantity_kg
        )
    offered = {"o1": 8000, "o2": 7000, "o3": 5000, "o4": 6000}
    assert all(per_offer[o] <= offered[o] for o in per_offer)
    d1 = sum(e.match.quantity_kg for e in proposed if e.match.demand_id == "d1")
    assert d1 == Decimal(20000)  # 8 + 7 + 5 t (or any mix) fills the 20 t demand
    assert len({e.match.match_id for e in proposed}) == len(proposed)


def _applied(persisted: Mapping[str, Any]) -> int:
    """The last offset the persisted marker says was applied (-1: no marker yet)."""
    marker = persisted.get("__applied__|0")
    return -1 if marker is None else marker["offset"]


@CLEARING
@pytest.mark.parametrize("committed_policy", ["from-start", "at-marker"])
def test_recovery_after_a_crash_at_every_write(committed_policy, clearing):
    events = _stream(clearing=clearing)
    reference_table = RecordingTable()
    reference = _run(reference_table, events)
    writes = reference_table.log
    for crash_at in range(len(writes) + 1):
        persisted = dict(writes[:crash_at])
        recovering = RecordingTable(persisted)
        applied = _applied(persisted)
        start = 0 if committed_policy == "from-start" else applied + 1
        after = _run(recovering, events, start=start)
        assert after == reference[start:], f"crash after write {crash_at} diverged"
        assert _effective_records(recovering) == _effective_records(reference_table), crash_at


def _two_markets() -> list[ev.AnyEvent]:
    """Two markets' streams interleaved on one partition, so batches touch several books; the
    second market clears in rounds."""
    coffee, fruit = _stream(), _stream("fresh-fruit", base=10_000, clearing="rounds")
    mixed = [e for pair in zip(coffee, fruit, strict=False) for e in pair]
    return mixed + coffee[len(fruit) :] + fruit[len(coffee) :]


def _cut(items: list, sizes: list[int]) -> list[list]:
    """Consecutive batches of the given sizes, cycling."""
    batches, at = [], 0
    for size in itertools.cycle(sizes):
        if at >= len(items):
            return batches
        batches.append(items[at : at + size])
        at += size
    raise AssertionError  # unreachable


def _run_batches(table: RecordingTable, events, sizes: list[int], start: int = 0):
    """Per event from ``start``, its outputs, the events fed in batches of ``sizes``."""
    books = DurableBooks(table, CONFIG)
    out: list[list[tuple[bytes, bytes]]] = []
    for batch in _cut(list(enumerate(events))[start:], sizes):
        out += [[(o.key, o.value) for o in outs] for outs in books.process_batch(0, batch)]
    return out


REFERENCE_BATCHES = [3, 1, 4, 2, 6]
RECOVERY_BATCHES = {"one by one": [1], "other cuts": [2, 5, 1, 3], "all at once": [10_000]}


def test_batches_decide_exactly_as_events_one_by_one():
    events = _two_markets()
    one_by_one, batched = RecordingTable(), RecordingTable()
    assert _run_batches(batched, events, REFERENCE_BATCHES) == _run(one_by_one, events)
    assert _effective_records(batched) == _effective_records(one_by_one)
    assert len(batched.log) < len(one_by_one.log) * 0.75, "batches should coalesce writes"


def test_a_batch_writes_each_record_once_and_the_marker_last():
    events = _two_markets()
    table = RecordingTable()
    books = DurableBooks(table, CONFIG)
    for batch in _cut(list(enumerate(events)), [7]):
        table.log.clear()
        books.process_batch(0, batch)
        keys = [k for k, _ in table.log]
        assert len(keys) == len(set(keys)), "a key written twice in one batch"
        assert keys[-1] == "__applied__|0" and table.log[-1][1]["offset"] == batch[-1][0]


@pytest.mark.parametrize("recovery", sorted(RECOVERY_BATCHES))
@pytest.mark.parametrize("committed_policy", ["from-start", "halfway", "at-marker"])
def test_recovery_after_a_crash_at_every_write_of_batches(committed_policy, recovery):
    """Crash after every single table write of a batched run, including in the middle of a
    batch's writes; restart from a commit point at or before the marker and cut the replayed
    events into different batches."""
    events = _two_markets()
    reference_table = RecordingTable()
    reference = _run_batches(reference_table, events, REFERENCE_BATCHES)
    assert reference == _run(RecordingTable(), events)
    writes = reference_table.log
    for crash_at in range(len(writes) + 1):
        persisted = dict(writes[:crash_at])
        recovering = RecordingTable(persisted)
        applied = _applied(persisted)
        start = {"from-start": 0, "halfway": (applied + 1) // 2, "at-marker": applied + 1}[
            committed_policy
        ]
        after = _run_batches(recovering, events, RECOVERY_BATCHES[recovery], start=start)
        assert after == reference[start:], f"crash after write {crash_at} diverged"
        assert _effective_records(recovering) == _effective_records(reference_table), crash_at


def test_a_second_crash_during_recovery_still_recovers():
    """Crash mid-batch, restart with other batch cuts, crash again mid-batch, restart again."""
    events = _two_markets()
    reference_table = RecordingTable()
    reference = _run_batches(reference_table, events, REFERENCE_BATCHES)
    first_writes = reference_table.log
    for first_crash in range(0, len(first_writes) + 1, 3):
        table = RecordingTable(dict(first_writes[:first_crash]))
        start = _applied(table) + 1
        _run_batches(table, events, [4, 1, 3], start=start)
        second_writes = table.log
        for second_crash in range(0, len(second_writes) + 1, 2):
            persisted = dict(first_writes[:first_crash])
            persisted.update(second_writes[:second_crash])
            recovering = RecordingTable(persisted)
            start = (_applied(persisted) + 1) // 2
            after = _run_batches(recovering, events, [5, 2], start=start)
            assert after == reference[start:], (first_crash, second_crash)
            assert _effective_records(recovering) == _effective_records(reference_table)


def test_a_table_left_by_the_per_event_format_is_taken_over():
    """An upgrade after a crash: the table holds the format before batches (a marker without
    seq, outputs per event in ``__out__|p|offset``); redelivered events get those outputs."""
    events = _stream()
    reference_table = RecordingTable()
    reference = _run(reference_table, events)
    upgrade_at = len(events) // 2
    old = {k: v for k, v in reference_table.log[: _marker_write(reference_table, upgrade_at) + 1]}
    old = {k: v for k, v in old.items() if not k.startswith("__")}
    old["__applied__|0"] = {"offset": upgrade_at}
    for offset in range(upgrade_at + 1):
        pairs = [[k.decode(), v.decode()] for k, v in reference[offset]]
        old[f"__out__|0|{offset}"] = {"offset": offset, "out": pairs, "chunks": 1}
    start = upgrade_at - 3  # the committed offset was a little behind the marker
    assert _run_batches(RecordingTable(old), events, [2, 3], start=start) == reference[start:]


def _marker_write(table: RecordingTable, offset: int) -> int:
    return max(i for i, (k, v) in enumerate(table.log)
               if k == "__applied__|0" and v["offset"] == offset)  # fmt: skip


def test_a_table_rewound_behind_the_cache_is_detected():
    """Faust's recovery after a rebalance can put an older persisted state back into the table
    while this worker keeps its cached books; the redelivered events must not apply twice."""
    events = _stream()
    reference = _run(RecordingTable(), events)
    table = RecordingTable()
    books = DurableBooks(table, CONFIG)
    rewind_to = len(events) // 2
    for offset, event in enumerate(events[: rewind_to + 3]):
        books.process(0, offset, event)
    snapshot_writes = [w for w in table.log]
    # The changelog held only the writes up to event `rewind_to`; recovery overwrites the
    # table with them (newer keys written later stay, as Faust's memory store keeps them).
    marker_write = max(i for i, (k, v) in enumerate(snapshot_writes)
                       if k == "__applied__|0" and v["offset"] == rewind_to)  # fmt: skip
    for key, value in snapshot_writes[: marker_write + 1]:
        dict.__setitem__(table, key, value)
    replayed = [
        [(o.key, o.value) for o in books.process(0, offset, event)]
        for offset, event in enumerate(events)
        if offset > rewind_to
    ]
    assert replayed == reference[rewind_to + 1 :]


def test_an_event_with_huge_outputs_is_stored_in_chunks_under_the_message_limit():
    """A tick after weeks of silence expires every pending proposal at once; its outputs must
    not make one table value (one Kafka message) exceed the broker's 1 MB limit."""
    import json

    n = iter(range(1, 10_000))

    def env(minutes: int) -> dict:
        return {"event_id": uuid.UUID(int=next(n)), "occurred_at": T0 + timedelta(minutes=minutes),
                "source": "test"}  # fmt: skip

    events: list[ev.AnyEvent] = [
        ev.OfferPublished(offer=offer(f"o{i}", "1", category="coffee"), **env(0))
        for i in range(3000)
    ]
    events += [ev.DemandPosted(demand=demand(f"d{i}", "1", category="coffee"), **env(1))
               for i in range(3000)]  # fmt: skip
    events.append(ev.MarketTick(category="coffee", **env(60 * 24 * 30)))
    table = RecordingTable()
    outputs = _run(table, events)
    expiries = [v for _, v in outputs[-1] if b'"match.expired"' in v]
    assert len(expiries) == 3000  # about 1.1 MB of outputs for this one event
    largest = max(len(json.dumps(value)) for _, value in table.log)
    assert largest < 1_000_000, f"a table value of {largest} bytes exceeds Kafka's limit"
    # ... and a redelivery of that tick sends every output again, in order.
    again = DurableBooks(table, CONFIG).process(0, len(events) - 1, events[-1])
    assert [(o.key, o.value) for o in again] == outputs[-1]
