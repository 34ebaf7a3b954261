"""Each hard constraint rejects with its own name, and passes once satisfied."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from schemas.orders import Demand, Offer
from services.matcher.engine import Unmatched
from services.matcher.engine.constraints import RULE_NAMES, failures, passes, terms_fit
from services.matcher.engine.terms import DemandTerms, OfferTerms
from tests import strategies
from tests.factories import demand_body, offer_body, window
from tests.unit.test_engine_properties import DEMAND_TERMS, OFFER_TERMS
from tests.unit.test_engine_support import Feed, proposals

RATED = {"name": "Vải thiều Lục Ngạn", "category": "fresh-fruit", "ocop_rated_on": "2025-06-01"}
FRUIT = {"category": "fresh-fruit"}

# name -> (offer overrides, demand overrides) that fail, and offer overrides that fix it
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "stars": (
        {"product": {**RATED, "ocop_stars": 3}},
        {"criteria": {**FRUIT, "min_ocop_stars": 4}},
        {"product": {**RATED, "ocop_stars": 4}},
    ),
    "certifications": (
        {"product": {**RATED, "certifications": ["HACCP"]}},
        {"criteria": {**FRUIT, "required_certifications": ["VietGAP"]}},
        {"product": {**RATED, "certifications": ["Viet GAP", "HACCP"]}},
    ),
    "price": ({"price": 50_000}, {"ceiling": 45_000}, {"price": 4_500_000, "price_unit": "tạ"}),
    "region": (
        {"ships_to": ["Hà Nội"]},
        {},
        {"ships_to": ["Hà Nội", "Hải Dương"]},  # legacy Hải Dương is now part of Hải Phòng
    ),
    "dates": (
        {"available": window(0, 3)},  # delivery window is days 7-30
        {},
        {"available": window(0, 3), "lead_time_days": 5},  # arrives days 5-8
    ),
    "payment": (
        {"max_deferred_payment_days": 15},
        {"payment_terms_days": 30},
        {"max_deferred_payment_days": 45},
    ),
    "vat-invoice": ({}, {"requires_vat_invoice": True}, {"issues_vat_invoice": True}),
    "traceability": ({}, {"requires_traceability": True}, {"has_traceability_stamps": True}),
    "lot": ({}, {"accepts_partial": False}, {"amount": "20"}),
    "excluded": ({"excluded_buyers": ["b-d1"]}, {}, {"excluded_buyers": ["b-other"]}),
    "session": ({"pool": "phien-1"}, {}, {}),  # a session-scoped session's offer, a market demand
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULE_NAMES)


@pytest.mark.parametrize("name", list(CASES))
def test_a_failing_rule_is_named_and_blocks_the_match(name):
    offer_kw, demand_kw, _ = CASES[name]
    feed = Feed()
    feed.offer("o1", offer_kw.pop("amount", "8"), **offer_kw)
    outcomes = feed.demand("d1", "10", **demand_kw)
    assert proposals(outcomes) == []
    assert feed.book.explain("o1", "d1") == [name]
    assert isinstance(outcomes[-1], Unmatched) and outcomes[-1].reason.startswith(f"{name}: ")


@pytest.mark.parametrize("name", list(CASES))
def test_a_satisfied_rule_lets_the_pair_match(name):
    _, demand_kw, fixed_kw = CASES[name]
    feed = Feed()
    feed.offer("o1", fixed_kw.pop("amount", "8"), **fixed_kw)
    [proposal] = proposals(feed.demand("d1", "10", **demand_kw))
    assert proposal.offer_id == "o1"
    assert feed.book.explain("o1", "d1") == []


def test_the_supplier_can_be_excluded_by_the_buyer_too():
    feed = Feed()
    feed.offer("o1")
    assert proposals(feed.demand("d1", excluded_suppliers=["s-o1"])) == []
    assert feed.book.explain("o1", "d1") == ["excluded"]


def test_stars_lapse_36_months_after_the_rating():
    feed = Feed()
    old = {**RATED, "ocop_stars": 5, "ocop_rated_on": "2023-12-01"}  # lapses 2026-12-01
    feed.offer("o1", product=old)
    # delivery from day 7 (2026-12-04): the rating has lapsed by then
    assert proposals(feed.demand("d1", criteria={**FRUIT, "min_ocop_stars": 3})) == []
    assert feed.book.explain("o1", "d1") == ["stars"]
    # delivery from 2026-11-28: still valid
    early = {"start": "2026-11-28", "end": "2026-12-20"}
    demand_kw = {"criteria": {**FRUIT, "min_ocop_stars": 3}, "delivery_window": early}
    assert [p.offer_id for p in proposals(feed.demand("d2", **demand_kw))] == ["o1"]


def test_several_failures_are_all_named_in_rule_order():
    feed = Feed()
    feed.offer("o1", price=90_000, ships_to=["Cà Mau"], max_deferred_payment_days=0)
    feed.demand("d1", ceiling=50_000, payment_terms_days=30, requires_vat_invoice=True)
    assert feed.book.explain("o1", "d1") == ["price", "region", "payment", "vat-invoice"]


def test_unmatched_names_the_constraint_failing_most_often_with_counts():
    feed = Feed()
    for i in range(12):
        feed.offer(f"dear-{i}", price=60_000)
    for i in range(3):
        feed.offer(f"north-{i}", price=40_000, ships_to=["Hà Nội"])
    [unmatched] = feed.demand("d1", ceiling=50_000)
    assert unmatched.reason == "price: 12 of 15 open offers are above the maximum price"
    other = Feed()
    for i in range(12):
        other.offer(f"north-{i}", price=40_000, ships_to=["Hà Nội"])
    for i in range(3):
        other.offer(f"dear-{i}", price=60_000)
    [by_region] = other.demand("d1", ceiling=50_000)
    assert by_region.reason == "region: 12 of 15 open offers do not deliver to Hải Phòng"


def test_unmatched_counts_other_rules_on_the_offers_within_price_and_region():
    feed = Feed()
    feed.offer("o1", available=window(40, 60))
    feed.offer("o2", available=window(50, 60))
    feed.offer("o3", max_deferred_payment_days=0)
    [unmatched] = feed.demand("d1", payment_terms_days=30)
    assert unmatched.reason == (
        "payment: 3 of the 3 cheapest open offers within price and region do not accept "
        "the deferred payment terms"
    )
    [by_dates] = feed.demand("d2", excluded_suppliers=["s-o3"])
    assert by_dates.reason.startswith("dates: 2 of the 3 cheapest open offers")


def test_an_empty_market_says_so():
    feed = Feed()
    [unmatched] = feed.demand("d1")
    assert unmatched.reason == "no open offer in this market"


def offer_body_of(kw: dict[str, Any]) -> dict[str, Any]:
    kw = dict(kw)
    return {**offer_body(kw.pop("amount"), **kw), "offer_id": "o1"}


def demand_body_of(kw: dict[str, Any]) -> dict[str, Any]:
    kw = dict(kw)
    return {**demand_body(kw.pop("amount"), **kw), "demand_id": "d1"}


_NEAR = st.tuples(OFFER_TERMS.map(offer_body_of), DEMAND_TERMS.map(demand_body_of))  # often fit
PAIRS = st.one_of(st.tuples(strategies.offers(), strategies.demands()), _NEAR, _NEAR, _NEAR)


@settings(max_examples=400, deadline=None)
@given(pair=PAIRS, share=st.sampled_from(["0.5", "1", "1"]))
def test_the_fast_check_agrees_with_the_named_rules(pair, share):
    offer, demand = pair
    o = OfferTerms.from_offer(Offer.model_validate(offer))
    d = DemandTerms.from_demand(Demand.model_validate(demand))
    open_kg = d.quantity_kg
    q = min(o.quantity_kg, open_kg * Decimal(share))
    failed = failures(o, d, q, open_kg)
    assert passes(o, d, q, open_kg) == (failed == [])
    assert terms_fit(o, d) == (not [name for name in failed if name != "lot"])
    event("passes" if not failed else "fails")
