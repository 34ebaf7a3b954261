"""A rounds lane's draft (draft.py) is built as its orders arrive, and dropped on any other
change to the lane; a book restored from its records has none and builds it from the open
orders. Both must decide the same, at every moment: these tests restore the live book before
every event of random streams (arrivals, updates, cancellations, rounds, answers, expiries)
and require the same outcomes and records from both; and after every event, each draft the
live book keeps must equal one built afresh from the lane's open orders (white box: the
book's ``_drafts``), so a stale draft is caught even where it would not yet change a round.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import events as ev
from schemas.orders import Offer
from services.matcher.engine import MarketBook, MatchConfig, Proposed
from services.matcher.engine.draft import VERY_DEEP, LaneDraft
from tests.factories import demand as demand_body
from tests.factories import offer_body
from tests.unit.test_engine_support import MARKET, Feed

SMALL = MatchConfig(round_scan=2, round_candidates=2, scan_limit=4, redraft_after=1,
                    proposal_ttl=timedelta(minutes=30))  # fmt: skip
"""Limits so small that a dozen offers make a lane deep (more than one scan) and very deep
(more than ``VERY_DEEP`` scans): every way a draft searches is reached. A dropped draft is
built again at the lane's next arrival (in a lane of fewer than 16 orders)."""
HALF = {"amount": "0.5", "unit": "tấn"}
amounts = st.sampled_from(["0.5", "1", "2.25", "3", "4"])

provinces = st.sampled_from(["Hải Phòng", "Hà Nội", "Bắc Giang"])
offer_terms = st.fixed_dictionaries(
    {
        "amount": amounts,
        "price": st.sampled_from([30_000, 40_000, 50_000]),
        "origin_province": provinces,
        "min_order": st.sampled_from([None, HALF]),
        "supplier_id": st.sampled_from(["htx-a", "htx-b"]),  # offers in several lanes each
    }
)
demand_terms = st.fixed_dictionaries(
    {
        "amount": amounts,
        "delivery_province": provinces,
        "accepts_partial": st.booleans(),
        "min_lot": st.sampled_from([None, HALF]),
        "ceiling": st.sampled_from([None, 45_000]),
    }
)
pools = st.sampled_from([None, None, "phien-1"])  # the public market's lanes and a session's
arrivals = st.one_of(
    st.tuples(st.just("offer"), offer_terms, st.booleans(), pools),
    st.tuples(st.just("demand"), demand_terms, st.booleans(), pools),
)
changes = st.one_of(
    st.tuples(st.just("update offer"), st.integers(0, 50), amounts),
    st.tuples(st.just("withdraw"), st.integers(0, 50)),
    st.tuples(st.just("update demand"), st.integers(0, 50), amounts),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("round"), st.sampled_from([None, "phien-1"])),  # every lane, a session's
    st.tuples(st.just("offer by update"), offer_terms, st.booleans(), pools),  # never seen
    st.tuples(st.just("accept"), st.integers(0, 50), st.sampled_from(["buyer", "supplier"])),
    st.tuples(st.just("decline"), st.integers(0, 50), st.sampled_from(["buyer", "supplier"])),
    st.tuples(st.just("later")),
)
steps = st.one_of(arrivals, arrivals, arrivals, changes)  # mostly arrivals: lanes grow deep


def lane_of(terms: object) -> dict:
    """The clearing mode and session an order was posted with (an update keeps them)."""
    rounds, record = terms.rounds, terms.record  # type: ignore[attr-defined]
    return {"clearing": "rounds" if rounds else "instant", "pool": record.get("pool")}


def new_offer(offer_id: str, amount: str, supplier_id: str, **body: object) -> Offer:
    """An offer of ``supplier_id`` (the factory's ``offer`` gives each offer its own)."""
    fields = offer_body(amount, **body)
    return Offer.model_validate({**fields, "offer_id": offer_id, "supplier_id": supplier_id})


def event_for(feed: Feed, step: tuple, revisions: dict[str, int]) -> object | None:
    """The event a step stands for in ``feed``'s book now (None: nothing to act on)."""
    book, kind = feed.book, step[0]
    offers, demands = sorted(book.offers), sorted(book.demands)
    matches = sorted(book.matches)
    if kind in ("offer", "demand", "offer by update"):
        _, terms, rounds, pool = step
        body = {k: v for k, v in terms.items() if k != "amount" and v is not None}
        body |= {"clearing": "rounds" if rounds else "instant", "pool": pool}
        if kind != "demand":
            new = new_offer(f"o{len(offers)}", terms["amount"], **body)
            cls = ev.OfferPublished if kind == "offer" else ev.OfferUpdated
            return feed.event(cls, offer=new)
        new = demand_body(f"d{len(demands)}", terms["amount"], **body)
        return feed.event(ev.DemandPosted, demand=new)
    if kind in ("update offer", "withdraw") and offers:
        oid = offers[step[1] % len(offers)]
        if kind == "withdraw":
            return feed.event(ev.OfferWithdrawn, offer_id=oid, category=MARKET)
        revisions[oid] = revisions.get(oid, 0) + 1
        t = book.offers[oid].terms
        new = new_offer(oid, step[2], t.supplier_id, revision=revisions[oid], **lane_of(t))
        return feed.event(ev.OfferUpdated, offer=new)
    if kind in ("update demand", "cancel") and demands:
        did = demands[step[1] % len(demands)]
        if kind == "cancel":
            return feed.event(ev.DemandCancelled, demand_id=did, category=MARKET)
        revisions[did] = revisions.get(did, 0) + 1
        t = book.demands[did].terms
        new = demand_body(did, step[2], revision=revisions[did], **lane_of(t))
        return feed.event(ev.DemandUpdated, demand=new)
    if kind == "round":
        return feed.event(ev.MarketTick, category=MARKET, closes_round=True, round_pool=step[1])
    if kind in ("accept", "decline") and matches:
        cls = ev.MatchAccepted if kind == "accept" else ev.MatchDeclined
        mid, party = matches[step[1] % len(matches)], step[2]
        if kind == "accept":  # half-accepted first, by the other party: a confirmation
            half = [m for m in matches if book.matches[m].buyer_accepted]
            if half:
                mid, party = half[step[1] % len(half)], "supplier"
        return feed.event(cls, match_id=mid, category=MARKET, party=party, org_id="org")
    if kind == "later":  # proposals expire: quantity returns, pairs block, records lapse
        return feed.event(ev.MarketTick, advance=timedelta(minutes=31), category=MARKET)
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.lists(steps, min_size=20, max_size=60))
def test_a_book_restored_before_any_event_decides_as_the_live_one(stream):
    feed = Feed(SMALL)
    revisions: dict[str, int] = {}
    for step in stream:
        event = event_for(feed, step, revisions)
        if event is None:
            continue
        restored = MarketBook.restore(MARKET, list(feed.book.records()), SMALL)
        live = feed.send(event)
        assert restored.apply(event) == live, step
        assert dict(restored.records()) == dict(feed.book.records()), step
        for pool, kept in feed.book._drafts.items():  # what a round would start from
            fresh = LaneDraft.built(feed.book, pool, kept.epoch)  # from the records' notes
            assert network(kept) == network(fresh), (step, pool)
    feed.book.check_invariants()


def network(draft: LaneDraft) -> tuple:
    """Everything a draft would hand its round (arcs with their capacities and weights, grams
    per node, the first-come pairs) and what steers its next arrivals (nodes by seq, claims,
    each demand's best weights, which copies are parked)."""
    r, arcs = draft.arcs.r, draft.arcs
    sold = [(o.seq, d.seq, q) for o, d, q in draft.sold]
    steering = (sorted(arcs.offer_node.items()), sorted(arcs.demand_node.items()),
                arcs.offer_claimed, arcs.demand_claimed, [sorted(b) for b in arcs.best],
                sorted((seq, c.active) for seq, c in draft.copies.items()))  # fmt: skip
    return r.tails, r.heads, r.caps, r.weights, r.supply, r.need, sold, steering


def test_a_deep_lane_keeps_its_draft_across_arrivals_and_a_restored_one_agrees():
    """A lane past ``VERY_DEEP`` scans of offers, demands arriving between them: the live
    book's round (drafted as they came) and a restored book's (drafted at the round) agree,
    and propose something (the comparison is not vacuous)."""
    feed = Feed(SMALL)
    n = VERY_DEEP * SMALL.round_scan + 4
    for i in range(n):
        price = 30_000 + 1_000 * (i % 5)
        feed.offer(f"o{i}", str(1 + i % 3), price=price, clearing="rounds")
        if i % 2:
            feed.demand(f"d{i}", str(1 + i % 4), clearing="rounds", accepts_partial=i % 3 != 0)
    restored = MarketBook.restore(MARKET, list(feed.book.records()), SMALL)
    tick = feed.event(ev.MarketTick, category=MARKET, closes_round=True)
    live = feed.send(tick)
    assert restored.apply(tick) == live
    assert sum(isinstance(o, Proposed) for o in live) >= 3


def test_answers_keep_the_draft_and_the_round_reads_what_they_returned():
    """Answers to a round come among the next round's arrivals. An acceptance changes only a
    supplier's record, a decline returns quantity and blocks a pair: the draft stays, and the
    round reads both from the book (a draft took the quantities of its drafting). After a
    round the lane drafts again only after ``redraft_after`` arrivals; an update drops it."""
    config = MatchConfig(redraft_after=3, proposal_ttl=timedelta(hours=1))
    feed = Feed(config)
    for i in range(4):
        feed.offer(f"o{i}", "2", clearing="rounds")
        feed.demand(f"d{i}", "2", clearing="rounds")
    [first, second, *_] = [o for o in feed.send(feed.event(ev.MarketTick, category=MARKET,
                                                           closes_round=True))
                           if isinstance(o, Proposed)]  # fmt: skip
    lane = feed.book.offers["o0"].terms.pool
    for i in range(3):  # a new round's orders: the third arrival drafts the lane
        assert lane not in feed.book.drafted_lanes
        feed.demand(f"n{i}", "1", clearing="rounds")
    kept = feed.book._drafts[lane]
    feed.accept(first.match_id, "buyer")
    feed.accept(first.match_id, "supplier")  # confirmed: the supplier's record changes
    feed.decline(second.match_id, "buyer")  # its 2 t return to the lane, the pair blocks
    assert feed.book._drafts[lane] is kept
    restored = MarketBook.restore(MARKET, list(feed.book.records()), config)
    tick = feed.event(ev.MarketTick, category=MARKET, closes_round=True)
    live = feed.send(tick)
    assert restored.apply(tick) == live
    again = [(p.offer_id, p.demand_id) for p in live if isinstance(p, Proposed)]
    assert (second.offer_id, second.demand_id) not in again  # blocked
    assert any(oid == second.offer_id for oid, _ in again)  # its returned 2 t went elsewhere
    feed.update_offer("o3", "3", revision=2, clearing="rounds")
    assert lane not in feed.book.drafted_lanes


def rounds_tick(feed: Feed) -> object:
    return feed.event(ev.MarketTick, category=MARKET, closes_round=True)


def test_a_decline_between_drafted_orders_leaves_live_and_restored_rounds_equal():
    """A pair blocked after the drafting (a decline of an earlier round's proposal) must not
    make the draft differ from one built from the records: drafting reads no blocked pair,
    the round closes the blocked arc (the review's case)."""
    config = MatchConfig(round_scan=2, round_candidates=2, scan_limit=4, redraft_after=1)
    feed = Feed(config)
    for i in (1, 2, 3):
        feed.apply(ev.DemandPosted, demand=demand_body(f"D{i}", "3", clearing="rounds"))
    feed.apply(ev.OfferPublished, offer=new_offer("O", "1", "s1", clearing="rounds"))
    [first] = [p for p in feed.send(rounds_tick(feed)) if isinstance(p, Proposed)]
    feed.apply(ev.OfferUpdated, offer=new_offer("O", "4", "s1", revision=2, clearing="rounds"))
    feed.apply(ev.OfferPublished, offer=new_offer("X", "1", "s2", price=99_000, clearing="rounds"))
    assert feed.book.drafted_lanes  # the arrival drafted the lane, O with its 3 t open
    feed.decline(first.match_id, "buyer")
    restored = MarketBook.restore(MARKET, list(feed.book.records()), config)
    tick = rounds_tick(feed)
    live = feed.send(tick)
    assert restored.apply(tick) == live
    assert (first.offer_id, first.demand_id) not in [
        (p.offer_id, p.demand_id) for p in live if isinstance(p, Proposed)
    ]


def test_a_whole_fill_demand_that_got_quantity_back_is_not_split_by_first_come():
    """The first-come replay ran with the quantities of the drafting; a release since can make
    a whole-fill demand want more, and the replay's grams would then split it (the review's
    case): the round proposes whole fills only."""
    config = MatchConfig(redraft_after=2)
    feed = Feed(config)
    whole = {"clearing": "rounds", "accepts_partial": False}
    feed.apply(ev.DemandPosted, demand=demand_body("D", "1", **whole))
    feed.apply(ev.OfferPublished, offer=new_offer("O1", "1", "s1", clearing="rounds"))
    [first] = [p for p in feed.send(rounds_tick(feed)) if isinstance(p, Proposed)]
    feed.apply(ev.DemandUpdated, demand=demand_body("D", "3", revision=2, **whole))
    feed.apply(ev.DemandPosted, demand=demand_body("E", "3", **whole))
    feed.apply(ev.OfferPublished, offer=new_offer("O2", "5", "s2", clearing="rounds"))
    assert feed.book.drafted_lanes
    feed.decline(first.match_id, "buyer")  # D has 3 t open again, drafted with 2 t
    wanted = {did: feed.book.demands[did].open_kg for did in ("D", "E")}
    proposed = [p for p in feed.send(rounds_tick(feed)) if isinstance(p, Proposed)]
    assert proposed  # not vacuous
    for p in proposed:
        assert p.quantity_kg == wanted[p.demand_id], p
