"""Quantity allocation: partial fills, whole fills, best-first, FIFO, lot sizes, limits."""

from __future__ import annotations

from decimal import Decimal

from services.matcher.engine import MatchConfig, Unmatched
from tests.factories import window
from tests.unit.test_engine_support import Feed, allocation, kg, proposals


def three_cooperatives(feed: Feed) -> None:
    for offer_id, tonnes in (("htx-a", "8"), ("htx-b", "7"), ("htx-c", "5")):
        assert feed.offer(offer_id, tonnes) == []  # nothing waits yet


def test_twenty_tonnes_are_filled_by_eight_seven_and_five_from_three_cooperatives():
    feed = Feed()
    three_cooperatives(feed)
    outcomes = feed.demand("sieu-thi", "20")
    assert allocation(outcomes) == [("htx-a", kg("8")), ("htx-b", kg("7")), ("htx-c", kg("5"))]
    assert not [o for o in outcomes if isinstance(o, Unmatched)]
    demand = feed.book.demands["sieu-thi"]
    assert (demand.reserved_kg, demand.open_kg) == (kg("20"), 0)
    assert all(feed.book.offers[o].available_kg == 0 for o in ("htx-a", "htx-b", "htx-c"))
    assert feed.book.open_counts == (0, 0)


def test_a_demand_that_refuses_partial_fills_is_not_split_across_suppliers():
    feed = Feed()
    three_cooperatives(feed)
    outcomes = feed.demand("sieu-thi", "20", accepts_partial=False)
    assert proposals(outcomes) == []
    [unmatched] = outcomes
    assert isinstance(unmatched, Unmatched) and unmatched.open_kg == kg("20")
    assert unmatched.reason.startswith("lot: 3 of the 3 ")
    assert feed.book.offers["htx-a"].reserved_kg == 0
    # one cooperative that can deliver the whole 20 t gets all of it
    assert allocation(feed.offer("htx-big", "25")) == [("htx-big", kg("20"))]


def test_no_kilogram_is_promised_twice():
    feed = Feed()
    feed.offer("o1", "8")
    assert allocation(feed.demand("d1", "6")) == [("o1", kg("6"))]
    second = feed.demand("d2", "6")
    assert allocation(second) == [("o1", kg("2"))]
    assert isinstance(second[-1], Unmatched) and second[-1].open_kg == kg("4")
    assert feed.book.offers["o1"].reserved_kg == kg("8")


def test_best_score_goes_first_and_ties_go_to_the_cheaper_then_the_earlier_offer():
    feed = Feed()
    feed.offer("early-dear", "8", price=50_000)
    feed.offer("late-cheap", "8", price=40_000)  # no ceiling: both earn the same price points
    assert allocation(feed.demand("d1", "3")) == [("late-cheap", kg("3"))]
    feed.offer("twin-1", "8", price=30_000)
    feed.offer("twin-2", "8", price=30_000)
    assert allocation(feed.demand("d2", "3")) == [("twin-1", kg("3"))]


def test_with_a_ceiling_the_bigger_headroom_wins_over_the_bigger_share():
    feed = Feed()
    feed.offer("dear-big", "20", price=55_000)
    feed.offer("cheap-small", "2", price=30_000)
    outcomes = feed.demand("d1", "4", ceiling=60_000)
    assert allocation(outcomes) == [("cheap-small", kg("2")), ("dear-big", kg("2"))]


def test_a_new_offer_goes_to_the_oldest_waiting_demands_first():
    feed = Feed()
    for demand_id in ("d1", "d2", "d3"):
        feed.demand(demand_id, "3")
    placed = proposals(feed.offer("o1", "5"))
    assert [(p.demand_id, p.quantity_kg) for p in placed] == [("d1", kg("3")), ("d2", kg("2"))]
    assert feed.book.demands["d1"].open_kg == 0
    assert feed.book.demands["d2"].open_kg == kg("1")
    assert feed.book.demands["d3"].open_kg == kg("3")


def test_a_new_offer_skips_waiting_demands_whose_ceiling_is_below_its_price():
    feed = Feed()
    feed.demand("stingy", "3", ceiling=40_000)
    feed.demand("generous", "3", ceiling=60_000)
    [proposal] = proposals(feed.offer("o1", "8", price=50_000))
    assert proposal.demand_id == "generous"
    assert feed.book.explain("o1", "stingy") == ["price"]


def test_min_lot_stops_a_remainder_too_small_to_be_worth_it():
    feed = Feed()
    three_cooperatives(feed)
    outcomes = feed.demand("d1", "20", min_lot={"amount": "6", "unit": "tấn"})
    assert allocation(outcomes) == [("htx-a", kg("8")), ("htx-b", kg("7"))]
    assert outcomes[-1] == Unmatched("d1", kg("5"), outcomes[-1].reason)
    assert outcomes[-1].reason.startswith("lot: ")


def test_min_order_of_the_supplier_is_respected():
    feed = Feed()
    feed.offer("o1", "8", min_order={"amount": "4", "unit": "tấn"})
    assert proposals(feed.demand("small", "3")) == []
    assert feed.book.explain("o1", "small") == ["lot"]
    assert allocation(feed.demand("big", "4")) == [("o1", kg("4"))]


def test_one_event_makes_at_most_max_proposals_per_event():
    feed = Feed(MatchConfig(max_proposals_per_event=2))
    three_cooperatives(feed)
    outcomes = feed.demand("d1", "20")
    assert len(proposals(outcomes)) == 2
    assert outcomes[-1].reason.startswith("limit: ")


def test_scanning_stops_at_scan_limit_so_near_misses_cannot_make_an_event_slow():
    def book_with_near_misses(config: MatchConfig) -> list:
        feed = Feed(config)
        for i in range(3):  # cheapest, but without the VAT invoice the buyer needs
            feed.offer(f"no-invoice-{i}", "8", price=10_000 + i)
        feed.offer("fits", "8", price=50_000, issues_vat_invoice=True)
        return allocation(feed.demand("d1", "3", requires_vat_invoice=True))

    assert book_with_near_misses(MatchConfig()) == [("fits", kg("3"))]
    assert book_with_near_misses(MatchConfig(scan_limit=3)) == []


def test_an_offer_counts_demands_it_cannot_reach_in_time_toward_scan_limit():
    """The waiting-demand tree passes over date misses without a look, but they still count
    as examined, so a date miss costs a scan step as any other near miss (same decisions as
    checking dates one by one)."""

    def offer_after_date_misses(config: MatchConfig) -> list:
        feed = Feed(config)
        for i in range(3):  # older, but wanting delivery long after the offer's season
            feed.demand(f"too-late-{i}", "3", delivery_window=window(200, 210))
        feed.demand("in-season", "3")
        return allocation(feed.offer("o1", "8"))

    assert offer_after_date_misses(MatchConfig()) == [("o1", kg("3"))]
    assert offer_after_date_misses(MatchConfig(scan_limit=3)) == []
    assert offer_after_date_misses(MatchConfig(scan_limit=4)) == [("o1", kg("3"))]


def test_candidate_limit_bounds_the_candidates_scored():
    feed = Feed(MatchConfig(candidate_limit=1))
    feed.offer("near-dear", "8", price=45_000, origin_province="Hải Dương")
    feed.offer("far-cheap", "8", price=44_000, origin_province="Cà Mau")
    # only the cheapest candidate is scored, though the nearer one would score higher
    assert allocation(feed.demand("d1", "3")) == [("far-cheap", kg("3"))]
    feed2 = Feed()
    feed2.offer("near-dear", "8", price=45_000, origin_province="Hải Dương")
    feed2.offer("far-cheap", "8", price=44_000, origin_province="Cà Mau")
    assert allocation(feed2.demand("d1", "3")) == [("near-dear", kg("3"))]


def test_quantities_compare_in_kilograms_across_units():
    feed = Feed()
    feed.offer("o1", "25", unit="tạ")  # 2,500 kg
    outcomes = feed.demand("d1", "300", unit="yến")  # 3,000 kg
    assert allocation(outcomes) == [("o1", Decimal(2500))]
    assert outcomes[-1].open_kg == Decimal(500)
