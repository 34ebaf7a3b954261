"""A waiting demand's unmatched reason stays current as the book changes.

It is judged when the demand is posted or changed, and again on a MarketTick once offers have
changed since, stalest first and a bounded number per tick; an Unmatched is reported only when
the words changed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from schemas import events as ev
from services.matcher.engine import Expired, MarketBook, MatchConfig, Unmatched
from tests.unit.test_engine_support import MARKET, Feed, proposals

HOUR = timedelta(hours=1)
EMPTY = "no open offer in this market"


def reasons(outcomes: list[Any]) -> dict[str, str]:
    return {o.demand_id: o.reason for o in outcomes if isinstance(o, Unmatched)}


def five_waiting(config: MatchConfig | None = None) -> Feed:
    feed = Feed(config)
    for i in range(5):
        assert reasons(feed.demand(f"d{i}", "10", ceiling=45_000)) == {f"d{i}": EMPTY}
    return feed


def test_reasons_follow_the_offers_after_a_tick():
    feed = five_waiting()
    for i in range(3):
        assert feed.offer(f"o{i}", price=60_000) == []  # above every ceiling: nothing decided
    refreshed = reasons(feed.tick(HOUR))
    price = "price: 3 of 3 open offers are above the maximum price"
    assert refreshed == {f"d{i}": price for i in range(5)}
    assert feed.tick(HOUR) == []  # nothing changed since


def test_no_event_when_a_change_leaves_the_words_the_same():
    feed = five_waiting()
    feed.offer("o1", price=60_000)
    feed.tick(HOUR)
    feed.offer("o2", price=60_000)
    feed.withdraw("o1")  # the book changed twice, and reads as before
    assert feed.tick(HOUR) == []
    assert all(d.reason_at == feed.book._offer_changes for d in feed.book.demands.values())


def test_each_tick_judges_at_most_the_configured_number_stalest_first():
    feed = five_waiting(MatchConfig(reasons_per_tick=2))
    feed.offer("o1", price=60_000)
    assert list(reasons(feed.tick(HOUR))) == ["d0", "d1"]
    feed.offer("o2", price=60_000)  # d0 and d1 stale again, but d2..d4 are staler
    assert list(reasons(feed.tick(HOUR))) == ["d2", "d3"]
    assert list(reasons(feed.tick(HOUR))) == ["d4", "d0"]
    assert list(reasons(feed.tick(HOUR))) == ["d1"]
    assert feed.tick(HOUR) == []


def test_a_tick_delivered_again_or_out_of_order_changes_nothing():
    feed = five_waiting()
    feed.offer("o1", price=60_000)
    tick = feed.event(ev.MarketTick, HOUR, category=MARKET)
    assert len(reasons(feed.send(tick))) == 5
    feed.offer("o2", price=60_000)
    assert feed.send(tick) == []  # the same tick again
    assert len(reasons(feed.tick(HOUR))) == 5  # a later one does


def test_a_demand_open_again_after_an_expiry_gets_its_reason_back():
    feed = Feed(MatchConfig(proposal_ttl=HOUR))
    feed.offer("o1", "3")
    [proposal] = proposals(feed.demand("d1", "3"))
    assert feed.book.demands["d1"].reason is None  # proposed in full: no reason shown
    outcomes = feed.tick(2 * HOUR)  # the proposal expires; the pair may not be proposed again
    assert [type(o) for o in outcomes] == [Expired, Unmatched]
    assert reasons(outcomes) == {
        "d1": "history: 1 of the 1 cheapest open offers within price and region were already "
        "declined or expired for this demand"
    }
    assert proposal.match_id not in feed.book.matches


def test_a_restored_book_refreshes_exactly_as_the_live_one():
    live = five_waiting(MatchConfig(reasons_per_tick=2))
    live.offer("o1", price=60_000)
    live.tick(HOUR)
    live.offer("o2", price=60_000)
    live.demand("d5", "1")  # fills from nothing: judged now, with the newest stamp
    records = json.loads(json.dumps(dict(live.book.records())))
    restored = MarketBook.restore(MARKET, records.items(), live.book.config)
    restored.check_invariants()
    for _ in range(4):
        tick = live.event(ev.MarketTick, HOUR, category=MARKET)
        assert restored.apply(tick) == live.send(tick)
    assert dict(restored.records()) == dict(live.book.records())


def test_the_refresh_is_persisted_with_the_book():
    feed = five_waiting()
    feed.book.drain_changes()
    feed.offer("o1", price=60_000)
    feed.book.drain_changes()
    feed.tick(HOUR)
    changes = feed.book.drain_changes()
    assert changes["meta"]["offer_changes"] == 1
    assert changes["meta"]["ticked"] == feed.now.isoformat()
    assert {key for key in changes if key.startswith("d:")} == {f"d:d{i}" for i in range(5)}
    assert changes["d:d0"]["reason"].startswith("price: 1 of 1")
    assert changes["d:d0"]["reason_at"] == 1
