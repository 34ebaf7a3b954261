"""Session scope in the engine: an offer and a demand pair only when their pools are equal.

A pool is a session-scoped session's id (None: the public market). Pools are filed apart in
the indexes, so a search never spends its scan limit on orders of another pool.
"""

from __future__ import annotations

import json
from typing import Any

from schemas import events as ev
from services.matcher.engine import MarketBook, MatchConfig, Unmatched
from services.matcher.engine.records import DemandState, OfferState
from services.matcher.engine.terms import DemandTerms, OfferTerms
from tests.factories import demand, offer
from tests.unit.test_engine_support import MARKET, Feed, proposals


def unmatched(outcomes: list[Any]) -> Unmatched:
    [last] = [o for o in outcomes if isinstance(o, Unmatched)]
    return last


def test_a_session_pool_matches_within_itself():
    feed = Feed()
    feed.offer("o1", pool="phien-1")
    [proposal] = proposals(feed.demand("d1", pool="phien-1"))
    assert proposal.offer_id == "o1"
    assert feed.book.explain("o1", "d1") == []


def test_a_session_offer_never_matches_a_market_demand_and_the_reason_says_why():
    feed = Feed()
    feed.offer("o1", pool="phien-1")
    feed.offer("o2", pool="phien-1")
    outcomes = feed.demand("d1")
    assert proposals(outcomes) == []
    assert feed.book.explain("o1", "d1") == ["session"]
    assert unmatched(outcomes).reason == (
        "session: 2 of 2 open offers in this market belong to a session-scoped session's "
        "closed pool; none is open in the public market"
    )


def test_a_session_demand_matches_neither_the_market_nor_another_session():
    feed = Feed()
    feed.offer("market")
    feed.offer("other", pool="phien-2")
    outcomes = feed.demand("d1", pool="phien-1")
    assert proposals(outcomes) == []
    assert feed.book.explain("market", "d1") == ["session"]
    assert feed.book.explain("other", "d1") == ["session"]
    assert unmatched(outcomes).reason == (
        "session: 2 of 2 open offers in this market are outside this session; its orders "
        "match only each other (session scope)"
    )
    # the market demand still finds the market offer
    assert [p.offer_id for p in proposals(feed.demand("d2"))] == ["market"]


def test_a_reason_within_the_pool_notes_the_offers_of_other_pools():
    feed = Feed()
    feed.offer("dear", price=60_000)
    feed.offer("s1", pool="phien-1")
    feed.offer("s2", pool="phien-1")
    outcomes = feed.demand("d1", ceiling=50_000)
    assert unmatched(outcomes).reason == (
        "price: 1 of 1 open offers are above the maximum price (2 more open offers are in "
        "session-scoped sessions and never match it)"
    )
    session = feed.demand("d2", ceiling=45_000, pool="phien-1")
    assert unmatched(session).reason == (
        "price: 2 of 2 open offers of this session are above the maximum price (1 more open "
        "offers are outside this session and never match it)"
    )


def test_an_offer_reaches_its_session_demands_past_any_number_of_market_demands():
    """With one shared queue the offer would spend its scan limit on the older market demands
    (4 here) and never reach the session's demand."""
    feed = Feed(MatchConfig(scan_limit=4))
    for i in range(10):
        feed.demand(f"m{i}")  # waiting in the market, older, admitting any price
    feed.demand("s", pool="phien-1")
    [proposal] = proposals(feed.offer("o1", pool="phien-1"))
    assert proposal.demand_id == "s"
    market = proposals(feed.offer("o2"))  # 8 t: the three oldest market demands
    assert [p.demand_id for p in market] == ["m0", "m1", "m2"]


def test_a_demand_finds_market_offers_past_any_number_of_cheaper_session_offers():
    feed = Feed(MatchConfig(scan_limit=4))
    for i in range(10):
        feed.offer(f"s{i}", price=30_000, pool="phien-1")  # cheaper, another pool
    feed.offer("market", price=50_000)
    [proposal] = proposals(feed.demand("d1"))
    assert proposal.offer_id == "market"


def test_an_order_keeps_the_pool_it_was_first_seen_with():
    feed = Feed()
    feed.offer("o1", pool="phien-1")
    feed.update_offer("o1", "8", revision=2)  # an update that names no pool
    feed.demand("d1", pool="phien-1", ceiling=40_000)
    feed.update_demand("d1", "3", revision=2, ceiling=None)  # now fits; pool stays
    book = feed.book
    assert book.offers["o1"].terms.pool == "phien-1"
    assert book.demands["d1"].terms.pool == "phien-1"
    assert [m.offer_id for m in book.matches.values()] == ["o1"]
    assert proposals(feed.demand("d2")) == []  # the market demand still cannot take it


def test_withdrawing_a_pool_offers_empties_its_pool():
    feed = Feed()
    feed.offer("o1", pool="phien-1")
    feed.demand("d1", pool="phien-2")
    assert set(feed.book.offer_index.pools) == {"phien-1"}
    feed.withdraw("o1")
    feed.cancel("d1")
    assert feed.book.offer_index.pools == {}
    assert not any("/" in region for region in feed.book.offer_index.serving_count)
    assert feed.book.waiting._pools == {}
    assert feed.book.offer_index.pool_size(None) == 0


def test_pools_are_stored_in_the_terms_and_restored():
    feed = Feed()
    feed.offer("o1", pool="phien-1")
    feed.offer("o2")
    feed.demand("d1", "10", pool="phien-1")
    records = json.loads(json.dumps(dict(feed.book.records())))
    assert records["o:o1"]["terms"]["pool"] == "phien-1"
    assert "pool" not in records["o:o2"]["terms"]  # a market record is as it always was
    restored = MarketBook.restore(MARKET, records.items())
    restored.check_invariants()
    assert restored.offers["o1"].terms.pool == "phien-1"
    assert restored.offers["o2"].terms.pool is None
    event = feed.event(ev.DemandPosted, demand=demand("d2", "1", pool="phien-1"))
    assert restored.apply(event) == feed.book.apply(event)


def test_records_from_before_pools_read_as_the_market():
    o = OfferTerms.from_offer(offer("o1"))
    d = DemandTerms.from_demand(demand("d1"))
    old_offer = {k: v for k, v in o.record.items() if k != "pool"}
    old_demand = {k: v for k, v in d.record.items() if k != "pool"}
    assert OfferTerms.from_record(old_offer).pool is None
    assert DemandTerms.from_record(old_demand).pool is None
    state = DemandState("d1", 1, d, d.quantity_kg).to_record()
    for key in ("reason", "reason_at"):
        del state[key]
    restored = DemandState.from_record("d1", state)
    assert (restored.reason, restored.reason_at) == (None, 0)
    assert OfferState.from_record("o1", OfferState("o1", 1, o, o.quantity_kg).to_record())
