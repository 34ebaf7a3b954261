"""Persistence: small JSON records per entity, and restore that decides like the original."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from schemas import events as ev
from schemas.events import derived_id
from services.matcher.engine import Expired, MarketBook, MatchConfig, Proposed
from tests.factories import demand, offer
from tests.unit.test_engine_support import MARKET, Feed, proposals


def store(feed: Feed, table: dict[str, Any]) -> dict[str, Any]:
    """Apply drained changes as the wiring does: None deletes the entry."""
    for key, record in feed.book.drain_changes().items():
        if record is None:
            table.pop(key, None)
        else:
            table[key] = json.loads(json.dumps(record))  # must survive JSON as is
    return table


def scenario(feed: Feed) -> list[str]:
    feed.offer("o1", "8", price=40_000)
    feed.offer("o2", "7", price=45_000)
    [first, second] = proposals(feed.demand("d1", "10"))
    feed.accept(first.match_id, "buyer")
    feed.accept(first.match_id, "supplier")
    return [first.match_id, second.match_id]


def test_records_are_small_json_keyed_by_entity():
    feed = Feed()
    confirmed, pending = scenario(feed)
    changes = feed.book.drain_changes()
    json.dumps(changes)  # Decimal and datetime are strings already
    assert set(changes) == {
        "meta", "o:o1", "o:o2", "d:d1", f"m:{confirmed}", f"m:{pending}",
        "p:o1|d1", "p:o2|d1", "s:s-o1",
    }  # fmt: skip
    assert changes[f"m:{confirmed}"] is None  # confirmed: no longer pending, deleted
    assert changes[f"m:{pending}"]["quantity_kg"] == "2000"
    assert changes["o:o1"]["confirmed_kg"] == "8000"
    assert "o2" not in json.dumps(changes["o:o1"])  # one offer's record holds no other offer
    assert changes["p:o1|d1"] == {"proposals": 1, "blocked": False}
    assert changes["s:s-o1"] == {"confirmed": 1, "lapsed": 0}
    assert changes["meta"]["clock"] == feed.now.isoformat()
    assert feed.book.drain_changes() == {}


def test_match_ids_derive_from_the_pair_and_its_proposal_count():
    feed = Feed()
    confirmed, pending = scenario(feed)
    assert confirmed == derived_id("match", "o1", "d1", "0")
    assert pending == derived_id("match", "o2", "d1", "0")


def test_restore_from_drained_records_then_continuing_decides_identically():
    config = MatchConfig(proposal_ttl=timedelta(hours=3))
    straight = Feed(config)
    scenario(straight)
    table = store(straight, {})
    restored = MarketBook.restore(MARKET, table.items(), config)
    restored.check_invariants()
    assert restored.drain_changes() == {}
    assert dict(restored.records()) == dict(straight.book.records())
    assert restored.open_counts == straight.book.open_counts

    more = [
        straight.event(ev.OfferPublished, offer=offer("o3", "5", price=42_000)),
        straight.event(ev.DemandPosted, demand=demand("d2", "6")),
        straight.event(ev.MarketTick, category=MARKET, advance=timedelta(hours=4)),
    ]
    expected = [straight.send(event) for event in more]
    assert [restored.apply(event) for event in more] == expected
    assert any(isinstance(o, Expired) for o in expected[-1])  # o2 -> d1 expired, re-matched
    assert any(isinstance(o, Proposed) for o in expected[-1])
    assert dict(restored.records()) == dict(straight.book.records())
    # the drained changes add up to the whole book
    assert store(straight, dict(table)) == dict(straight.book.records())


def test_a_replay_of_the_same_events_gives_identical_outcomes():
    feed = Feed()
    scenario(feed)
    feed.decline(proposals(feed.demand("d2", "1"))[0].match_id, "buyer")
    first, second = MarketBook(MARKET), MarketBook(MARKET)
    outcomes = [first.apply(event) for event in feed.events]
    assert outcomes == [second.apply(event) for event in feed.events]
    assert sum(len(o) for o in outcomes) == 5  # 3 proposals, 1 confirmation, 1 release
    assert dict(first.records()) == dict(second.records()) == dict(feed.book.records())
