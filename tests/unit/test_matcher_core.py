"""The skeleton matching rule, on the pure core (no Kafka, no store)."""

from __future__ import annotations

from decimal import Decimal

from schemas.orders import Offer
from services.matcher.core import MarketBook, Proposal, Waiting
from tests.factories import demand, offer


def test_demand_matches_an_offer_with_enough_quantity_in_kilograms():
    book = MarketBook()
    assert book.add_offer(offer("o1", "2", "tấn")) == []
    [outcome] = book.add_demand(demand("d1", "150", "yến"))
    assert outcome == Proposal("o1", "d1", "s-o1", "b-d1", Decimal(1500), 50_000, "kg")
    assert book.offers["o1"].remaining_kg == Decimal(500)


def test_cheapest_fitting_offer_wins_then_the_earliest():
    book = MarketBook()
    book.add_offer(offer("dear", "5", price=60_000))
    book.add_offer(offer("cheap-late", "5", price=40_000))
    book.add_offer(offer("cheap-early-small", "1", price=40_000))
    [outcome] = book.add_demand(demand("d1", "3"))
    assert outcome.offer_id == "cheap-late"  # cheap-early-small has too little


def test_price_ceiling_compares_per_kg_across_price_units():
    book = MarketBook()
    book.add_offer(offer("o1", "5", price=4_500_000, price_unit="tạ"))  # 45,000 per kg
    [too_low] = book.add_demand(demand("d1", "1", ceiling=44_000))
    assert isinstance(too_low, Waiting) and "above the maximum price" in too_low.reason
    [fits] = book.add_demand(demand("d2", "1", ceiling=45_000_000, price_unit="tấn"))
    assert isinstance(fits, Proposal) and fits.offer_id == "o1"


def test_no_kilogram_is_promised_twice():
    book = MarketBook()
    book.add_offer(offer("o1", "8"))
    first = book.add_demand(demand("d1", "6"))
    second = book.add_demand(demand("d2", "6"))
    assert isinstance(first[0], Proposal)
    assert second == [
        Waiting("d2", Decimal(6000), "no offer has enough quantity (largest open: 2000 kg)")
    ]


def test_waiting_demand_is_filled_when_a_fitting_offer_arrives():
    book = MarketBook()
    [waiting] = book.add_demand(demand("d1", "3"))
    assert waiting.reason == "no open offer in this category"
    [proposal] = book.add_offer(offer("o1", "3"))
    assert (proposal.offer_id, proposal.demand_id) == ("o1", "d1")
    assert "o1" not in book.offers and "d1" not in book.demands  # both fully used


def test_duplicate_deliveries_change_nothing():
    book = MarketBook()
    book.add_offer(offer("o1", "8"))
    book.add_demand(demand("d1", "3"))
    assert book.add_offer(offer("o1", "8")) == []
    assert book.add_demand(demand("d1", "3")) == []
    assert book.offers["o1"].remaining_kg == Decimal(5000)


def test_state_round_trip_keeps_decisions_identical():
    events = [offer("o1", "8"), demand("d1", "3"), demand("d2", "9"), offer("o2", "10")]
    straight, resumed = MarketBook(), MarketBook()
    outcomes_straight, outcomes_resumed = [], []
    for item in events:
        add = straight.add_offer if isinstance(item, Offer) else straight.add_demand
        outcomes_straight += add(item)
        resumed = MarketBook.from_state(resumed.to_state())  # as if reloaded from the table
        add = resumed.add_offer if isinstance(item, Offer) else resumed.add_demand
        outcomes_resumed += add(item)
    assert outcomes_straight == outcomes_resumed
    assert straight.to_state() == resumed.to_state()


def test_withdrawn_offer_is_never_matched():
    book = MarketBook()
    book.add_offer(offer("o1", "8"))
    book.withdraw_offer("o1")
    [outcome] = book.add_demand(demand("d1", "1"))
    assert isinstance(outcome, Waiting)


def test_cancelled_demand_is_not_filled_later():
    book = MarketBook()
    book.add_demand(demand("d1", "3"))
    book.cancel_demand("d1")
    assert book.add_offer(offer("o1", "8")) == []


def test_offer_update_keeps_what_is_already_promised():
    book = MarketBook()
    book.add_offer(offer("o1", "8"))
    book.add_demand(demand("d1", "6"))  # 6 t promised, 2 t left
    book.update_offer(offer("o1", "7", revision=2))  # the supplier now has 7 t in all
    assert book.offers["o1"].remaining_kg == Decimal(1000)
    book.update_offer(offer("o1", "5", revision=3))  # less than promised: nothing left
    assert "o1" not in book.offers


def test_demand_update_is_decided_again():
    book = MarketBook()
    book.add_offer(offer("o1", "2"))
    [waiting] = book.add_demand(demand("d1", "3"))
    assert isinstance(waiting, Waiting)
    [proposal] = book.update_demand(demand("d1", "2", revision=2))
    assert proposal.quantity_kg == Decimal(2000)
