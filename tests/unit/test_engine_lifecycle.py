"""A proposal's life: double opt-in, decline, expiry, withdrawal, cancellation, updates, and
idempotent duplicates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas import events as ev
from schemas.events import derived_id
from services.matcher.engine import (
    Confirmed,
    DemandFilled,
    Expired,
    MatchConfig,
    Proposed,
    Released,
    Unmatched,
)
from tests.factories import demand, offer, window
from tests.unit.test_engine_support import MARKET, Feed, allocation, kg, proposals


def one_proposal(feed: Feed, tonnes: str = "3") -> Proposed:
    feed.offer("o1", "8")
    [proposal] = proposals(feed.demand("d1", tonnes))
    return proposal


@pytest.mark.parametrize("first, second", [("buyer", "supplier"), ("supplier", "buyer")])
def test_both_parties_must_accept_in_either_order(first, second):
    feed = Feed()
    proposal = one_proposal(feed)
    assert feed.accept(proposal.match_id, first) == []
    assert feed.book.offers["o1"].reserved_kg == kg("3")
    outcomes = feed.accept(proposal.match_id, second)
    assert outcomes[0] == Confirmed(proposal.match_id, "o1", "d1", kg("3"))
    o, d = feed.book.offers["o1"], feed.book.demands["d1"]
    assert (o.reserved_kg, o.confirmed_kg, o.available_kg) == (0, kg("3"), kg("5"))
    assert (d.reserved_kg, d.confirmed_kg) == (0, kg("3"))


def test_demand_filled_once_confirmed_matches_cover_it():
    feed = Feed()
    for offer_id, tonnes in (("a", "8"), ("b", "7"), ("c", "5")):
        feed.offer(offer_id, tonnes)
    made = proposals(feed.demand("d1", "20"))
    seen = []
    for proposal in made:
        feed.accept(proposal.match_id, "supplier")
        seen += feed.accept(proposal.match_id, "buyer")
    assert [type(o) for o in seen] == [Confirmed, Confirmed, Confirmed, DemandFilled]
    assert seen[-1] == DemandFilled("d1", kg("20"))


def test_decline_releases_and_rematches_to_the_next_best_offer_at_once():
    feed = Feed()
    feed.offer("best", "8", price=40_000)
    feed.offer("next", "8", price=45_000)
    [proposal] = proposals(feed.demand("d1", "3", ceiling=50_000))
    assert proposal.offer_id == "best"
    outcomes = feed.decline(proposal.match_id, "buyer")
    assert outcomes[0] == Released(proposal.match_id, "best", "d1", kg("3"), "declined")
    [again] = proposals(outcomes)
    assert (again.offer_id, again.demand_id, again.quantity_kg) == ("next", "d1", kg("3"))
    assert feed.book.offers["best"].available_kg == kg("8")


def test_a_declined_pair_is_never_proposed_again():
    feed = Feed()
    proposal = one_proposal(feed)
    outcomes = feed.decline(proposal.match_id, "supplier")
    assert proposals(outcomes) == []  # the only offer is the one that was declined
    assert proposals(feed.update_offer("o1", "20", revision=2)) == []
    assert proposals(feed.update_demand("d1", "4", revision=2)) == []
    assert allocation(feed.offer("o2", "8")) == [("o2", kg("4"))]
    assert feed.book.explain("o1", "d1") == []  # compatible, yet blocked by its history


def test_a_party_that_decided_cannot_decide_again():
    feed = Feed()
    proposal = one_proposal(feed)
    feed.accept(proposal.match_id, "buyer")
    assert feed.accept(proposal.match_id, "buyer") == []
    assert feed.decline(proposal.match_id, "buyer") == []
    assert proposal.match_id in feed.book.matches
    [released] = feed.decline(proposal.match_id, "supplier")
    assert released.reason == "declined"
    assert feed.accept(proposal.match_id, "supplier") == []  # no longer pending


def test_a_proposal_expires_on_a_tick_after_its_ttl_and_the_quantity_is_rematched():
    feed = Feed(MatchConfig(proposal_ttl=timedelta(hours=2)))
    feed.offer("first", "8", price=40_000)
    feed.offer("second", "8", price=45_000)
    [proposal] = proposals(feed.demand("d1", "3", ceiling=50_000))
    assert proposal.expires_at == feed.now + timedelta(hours=2)
    assert feed.tick(timedelta(minutes=110)) == []
    outcomes = feed.tick(timedelta(minutes=10))
    assert outcomes[0] == Expired(proposal.match_id, "first", "d1", kg("3"))
    assert allocation(outcomes) == [("second", kg("3"))]  # expired pair is blocked


def test_any_later_event_expires_what_is_due_before_anything_else():
    feed = Feed(MatchConfig(proposal_ttl=timedelta(hours=1)))
    proposal = one_proposal(feed, "8")
    outcomes = feed.apply(
        ev.DemandPosted, advance=timedelta(hours=2), demand=demand("d2", "8", ceiling=None)
    )
    assert isinstance(outcomes[0], Expired) and outcomes[0].match_id == proposal.match_id
    # the returned 8 t is offered to the oldest waiting demand first... which is the new one,
    # since d1 can never again be proposed o1
    assert [(p.demand_id, p.quantity_kg) for p in proposals(outcomes)] == [("d2", kg("8"))]


def test_withdrawn_offer_releases_pending_keeps_confirmed_and_demands_rematch():
    feed = Feed()
    feed.offer("o1", "8", price=40_000)
    [confirmed] = proposals(feed.demand("d1", "3"))
    feed.accept(confirmed.match_id, "buyer")
    feed.accept(confirmed.match_id, "supplier")
    [pending] = proposals(feed.demand("d2", "3"))
    feed.offer("o2", "8", price=45_000)
    outcomes = feed.withdraw("o1")
    assert outcomes[0] == Released(pending.match_id, "o1", "d2", kg("3"), "offer-withdrawn")
    assert allocation(outcomes) == [("o2", kg("3"))]
    assert feed.book.offers["o1"].confirmed_kg == kg("3")
    assert feed.book.demands["d1"].confirmed_kg == kg("3")
    assert feed.withdraw("o1") == []
    assert feed.offer("o1", "8") == []  # a known id is never re-published
    assert feed.book.open_counts == (1, 0)


def test_cancelled_demand_releases_pending_and_the_offer_goes_to_the_next_demand():
    feed = Feed()
    proposal = one_proposal(feed, "8")
    [waiting] = feed.demand("d2", "5")
    assert isinstance(waiting, Unmatched)
    outcomes = feed.cancel("d1")
    assert outcomes[0] == Released(proposal.match_id, "o1", "d1", kg("8"), "demand-cancelled")
    assert [(p.demand_id, p.quantity_kg) for p in proposals(outcomes)] == [("d2", kg("5"))]
    assert feed.cancel("d1") == []
    assert feed.offer("o9", "8") == []  # a cancelled demand is never filled later


def test_offer_reduced_below_reserved_releases_newest_first():
    feed = Feed()
    feed.offer("o1", "8")
    [older] = proposals(feed.demand("d1", "3"))
    [newer] = proposals(feed.demand("d2", "3"))
    outcomes = feed.update_offer("o1", "5", revision=2)
    assert outcomes[0] == Released(newer.match_id, "o1", "d2", kg("3"), "offer-reduced")
    assert older.match_id in feed.book.matches
    # 2 t are still free: the released demand gets them, as a new proposal of the pair
    [again] = proposals(outcomes)
    assert again.match_id == derived_id("match", "o1", "d2", "1")
    assert (again.demand_id, again.quantity_kg) == ("d2", kg("2"))


def test_an_offer_update_that_no_longer_fits_releases_its_proposals_to_other_offers():
    feed = Feed()
    feed.offer("o1", "8", price=40_000)
    feed.offer("o2", "8", price=50_000)
    [proposal] = proposals(feed.demand("d1", "3", ceiling=55_000))
    assert proposal.offer_id == "o1"
    outcomes = feed.update_offer("o1", "8", revision=2, price=60_000)  # above the ceiling now
    assert outcomes[0] == Released(proposal.match_id, "o1", "d1", kg("3"), "offer-changed")
    assert [(p.offer_id, p.demand_id) for p in proposals(outcomes)] == [("o2", "d1")]
    # A change that still fits keeps the proposal as it was proposed.
    [kept] = [m for m in feed.book.matches.values() if m.offer_id == "o2"]
    assert feed.update_offer("o2", "8", revision=2, price=52_000) == []
    assert kept.match_id in feed.book.matches


def test_a_demand_update_that_no_longer_fits_releases_its_proposals():
    feed = Feed()
    feed.offer("o1", "8", available=window(0, 20))
    [proposal] = proposals(feed.demand("d1", "3"))
    later = {"delivery_window": window(40, 50)}  # after the offer's availability ends
    outcomes = feed.update_demand("d1", "3", revision=2, **later)
    assert outcomes[0] == Released(proposal.match_id, "o1", "d1", kg("3"), "demand-changed")
    assert proposals(outcomes) == [] and feed.book.offers["o1"].reserved_kg == 0


def test_offer_reduced_below_confirmed_keeps_the_confirmed_quantity_over_committed():
    feed = Feed()
    proposal = one_proposal(feed, "6")
    feed.accept(proposal.match_id, "buyer")
    feed.accept(proposal.match_id, "supplier")
    assert feed.update_offer("o1", "4", revision=2) == []
    o = feed.book.offers["o1"]
    assert (o.offered_kg, o.confirmed_kg, o.over_committed_kg) == (kg("6"), kg("6"), kg("2"))
    assert feed.book.drain_changes()["o:o1"]["over_committed_kg"] == "2000"


def test_demand_reduced_releases_newest_first_and_raised_demand_gets_more():
    feed = Feed()
    feed.offer("a", "4")
    feed.offer("b", "4")
    first, second = proposals(feed.demand("d1", "8"))
    outcomes = feed.update_demand("d1", "5", revision=2)
    assert first.match_id in feed.book.matches  # the older proposal stays
    assert outcomes[0] == Released(
        second.match_id, second.offer_id, "d1", kg("4"), "demand-reduced"
    )
    assert allocation(outcomes) == [(second.offer_id, kg("1"))]
    assert feed.book.demands["d1"].open_kg == 0
    assert feed.update_demand("d1", "9", revision=2) == []  # stale revision
    raised = feed.update_demand("d1", "9", revision=3)
    assert sum(q for _, q in allocation(raised)) == kg("3")  # all that is left in the book
    assert raised[-1] == Unmatched("d1", kg("1"), raised[-1].reason)


def test_demand_reduced_to_what_is_confirmed_is_filled():
    feed = Feed()
    feed.offer("a", "4")
    [proposal] = proposals(feed.demand("d1", "8"))
    feed.accept(proposal.match_id, "buyer")
    feed.accept(proposal.match_id, "supplier")
    outcomes = feed.update_demand("d1", "4", revision=2)
    assert outcomes == [DemandFilled("d1", kg("4"))]


def test_an_update_for_an_unknown_order_is_taken_as_new():
    feed = Feed()
    assert feed.update_offer("o1", "8", revision=3) == []
    assert allocation(feed.demand("d1")) == [("o1", kg("3"))]


def test_the_same_event_twice_changes_nothing():
    feed = Feed(MatchConfig(proposal_ttl=timedelta(hours=1)))
    events = [
        feed.event(ev.OfferPublished, offer=offer("o1", "8")),
        feed.event(ev.OfferPublished, offer=offer("o2", "8", price=60_000)),
        feed.event(ev.DemandPosted, demand=demand("d1", "3")),
        feed.event(ev.DemandPosted, demand=demand("d2", "9")),
        feed.event(ev.OfferUpdated, offer=offer("o1", "9", revision=2)),
        feed.event(ev.DemandUpdated, demand=demand("d2", "4", revision=2)),
        feed.event(ev.MatchAccepted, match_id=derived_id("match", "o1", "d1", "0"),
                   category=MARKET, party="buyer", org_id="b-d1"),
        feed.event(ev.MatchDeclined, match_id=derived_id("match", "o1", "d2", "0"),
                   category=MARKET, party="buyer", org_id="b-d2"),
        feed.event(ev.OfferWithdrawn, offer_id="o2", category=MARKET),
        feed.event(ev.DemandCancelled, demand_id="d2", category=MARKET),
        feed.event(ev.MarketTick, category=MARKET, advance=timedelta(hours=2)),
    ]  # fmt: skip
    for event in events:
        feed.send(event)
        assert feed.book.drain_changes(), event.type  # the first delivery changed something
        assert feed.send(event) == [], event.type
        assert feed.book.drain_changes() == {}, event.type


def test_events_of_other_types_or_markets_are_refused():
    feed = Feed()
    with pytest.raises(TypeError):
        feed.book.apply(feed.event(ev.SessionClosed, session_id="s1"))
    with pytest.raises(ValueError, match="coffee"):
        feed.book.apply(feed.event(ev.OfferPublished, offer=offer("o1", category="coffee")))
    assert feed.book.drain_changes() == {}
