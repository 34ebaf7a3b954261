"""Scores: the breakdown adds up, and better price, distance, stars and record score higher."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.matcher.engine.records import SupplierRecord
from services.matcher.engine.scoring import CRITERIA, reason, score
from services.matcher.engine.terms import DemandTerms, OfferTerms
from tests.factories import demand, offer
from tests.unit.test_engine_support import Feed, proposals

RATED = {"name": "Vải thiều", "category": "fresh-fruit", "ocop_rated_on": "2025-06-01"}


def points(offer_kw=None, demand_kw=None, q="3000", open_kg="3000", supplier=None):
    o = OfferTerms.from_offer(offer("o1", **(offer_kw or {})))
    d = DemandTerms.from_demand(demand("d1", **(demand_kw or {})))
    return score(o, d, Decimal(q), Decimal(open_kg), supplier)


@pytest.mark.parametrize(
    "offer_kw, demand_kw",
    [
        ({}, {}),
        ({"price": 20_000}, {"ceiling": 50_000}),
        ({"product": {**RATED, "ocop_stars": 5}, "origin_province": "Hải Phòng"}, {}),
        ({"origin_province": "Cà Mau"}, {"ceiling": 50_000}),
    ],
)
def test_breakdown_has_every_criterion_and_adds_up_to_the_score(offer_kw, demand_kw):
    total, breakdown = points(offer_kw, demand_kw)
    assert list(breakdown) == list(CRITERIA)
    assert all(0 <= breakdown[k] <= CRITERIA[k] for k in CRITERIA)
    assert total == pytest.approx(sum(breakdown.values()), abs=1e-9)
    assert 0 <= total <= 100


def test_more_headroom_under_the_ceiling_scores_higher():
    cheap, cheap_parts = points({"price": 30_000}, {"ceiling": 50_000})
    dear, dear_parts = points({"price": 49_000}, {"ceiling": 50_000})
    assert cheap > dear and cheap_parts["price"] > dear_parts["price"]
    assert points({"price": 10_000}, {"ceiling": 50_000})[1]["price"] == 30  # half or less
    assert points({"price": 50_000}, {"ceiling": 50_000})[1]["price"] == 0
    assert points({}, {})[1]["price"] == 15  # no ceiling


def test_a_nearer_origin_scores_higher():
    near, near_parts = points({"origin_province": "Hải Phòng"})
    far, far_parts = points({"origin_province": "Cà Mau"})
    assert near_parts["distance"] == 25  # same province centre: 0 km
    assert 0 < far_parts["distance"] < 5  # about 1,300 km
    assert near > far
    farthest = points({"origin_province": "Cà Mau"}, {"delivery_province": "Cao Bằng"})
    assert farthest[1]["distance"] == 0  # the one pair of centres over 1,500 km apart


def test_more_stars_above_the_minimum_score_higher():
    demand_kw = {"criteria": {"category": "fresh-fruit", "min_ocop_stars": 3}}
    five, five_parts = points({"product": {**RATED, "ocop_stars": 5}}, demand_kw)
    four, four_parts = points({"product": {**RATED, "ocop_stars": 4}}, demand_kw)
    assert (five_parts["stars"], four_parts["stars"]) == (10, 5)
    assert five > four


def test_covering_more_of_the_open_quantity_scores_higher():
    assert points(q="3000")[1]["share"] == 20
    assert points(q="1500")[1]["share"] == 10


def test_a_supplier_record_of_confirmed_matches_scores_higher_than_unknown():
    unknown = points()[1]["record"]
    good = points(supplier=SupplierRecord(confirmed=8, lapsed=0))[1]["record"]
    poor = points(supplier=SupplierRecord(confirmed=0, lapsed=8))[1]["record"]
    assert unknown == 5 and poor < unknown < good


def test_reason_names_the_strongest_criteria():
    _, breakdown = points({"origin_province": "Hải Phòng", "price": 10_000}, {"ceiling": 50_000})
    assert reason(breakdown) == "Strongest on price (30/30) and short distance (25/25)."


def test_proposals_carry_score_breakdown_and_reason():
    feed = Feed()
    feed.offer("o1", price=20_000, origin_province="Hải Phòng")
    [proposal] = proposals(feed.demand("d1", ceiling=50_000))
    assert proposal.score == pytest.approx(sum(proposal.breakdown.values()))
    assert proposal.breakdown["price"] == 30 and proposal.breakdown["distance"] == 25
    assert "price" in proposal.reason


def test_confirmed_matches_raise_the_supplier_record_in_later_proposals():
    feed = Feed()
    feed.offer("o1", "20")
    [first] = proposals(feed.demand("d1", "3"))
    feed.accept(first.match_id, "buyer")
    feed.accept(first.match_id, "supplier")
    [second] = proposals(feed.demand("d2", "3"))
    assert first.breakdown["record"] == 5 and second.breakdown["record"] > 5
