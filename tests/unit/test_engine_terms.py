"""Terms are built straight from the pydantic orders for speed; they must equal what their own
stored record gives back, and the cached price per kg, kilograms and match ids must equal the
reference functions they stand in for."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import KETNOI_NAMESPACE
from schemas.fields import Quantity
from schemas.reference import price_per_kg, to_kg
from schemas.reference.units import _UNITS, UnitKind
from services.matcher.engine.ids import match_id
from services.matcher.engine.scoring import CRITERIA, LABELS, reason
from services.matcher.engine.terms import DemandTerms, OfferTerms, _per_kg, kg_of
from tests.factories import demand, offer, window

WEIGHT_UNITS = [unit.name_vi for unit, _ in _UNITS if unit.kind is UnitKind.WEIGHT]
PROVINCES = ["Hà Nội", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "Lâm Đồng"]


def same(a: object, b: object) -> bool:
    """Equal, and equal as text (a Decimal's exponent shows in records and outcomes)."""
    return a == b and str(a) == str(b)


def share(amount: str, factor: str, unit: str) -> dict[str, str]:
    return {"amount": str(Decimal(amount) * Decimal(factor)), "unit": unit}


def assert_same_terms(built: OfferTerms | DemandTerms, restored: OfferTerms | DemandTerms):
    for name in type(built).__dataclass_fields__:
        assert same(getattr(built, name), getattr(restored, name)), name


@settings(max_examples=150, deadline=None)
@given(
    amount=st.sampled_from(["0.5", "1", "8", "12.25", "300"]),
    unit=st.sampled_from(WEIGHT_UNITS),
    price=st.integers(0, 2_000_000),
    lead=st.integers(0, 30),
    span=st.tuples(st.integers(0, 200), st.integers(0, 200)),
    ships=st.none() | st.lists(st.sampled_from(PROVINCES), min_size=1, max_size=3),
    min_order=st.none() | st.sampled_from(["0.5", "1"]),  # share of the quantity
    stars=st.sampled_from([0, 3, 5]),
    certifications=st.lists(st.sampled_from(["VietGAP", "HACCP"]), unique=True),
    excluded=st.lists(st.sampled_from(["b-1", "b-2"])),
)
def test_offer_terms_equal_their_restored_record(
    amount, unit, price, lead, span, ships, min_order, stars, certifications, excluded
):
    body = {
        "price": price,
        "price_unit": unit,
        "lead_time_days": lead,
        "available": window(min(span), max(span)),
        "ships_to": ships,
        "excluded_buyers": excluded,
        "min_order": None if min_order is None else share(amount, min_order, unit),
        "product": {
            "name": "Vải thiều",
            "category": "fresh-fruit",
            "ocop_stars": stars,
            "ocop_rated_on": "2024-02-29" if stars else None,
            "certifications": certifications,
        },
    }
    terms = OfferTerms.from_offer(offer("o1", amount, unit, **body))
    assert_same_terms(terms, OfferTerms.from_record(terms.record))


@settings(max_examples=150, deadline=None)
@given(
    amount=st.sampled_from(["0.5", "1", "8", "12.25"]),
    unit=st.sampled_from(WEIGHT_UNITS),
    ceiling=st.none() | st.integers(0, 2_000_000),
    span=st.tuples(st.integers(0, 200), st.integers(0, 200)),
    min_lot=st.none() | st.sampled_from(["0.5", "1"]),
    required=st.lists(st.sampled_from(["VietGAP", "HACCP"]), unique=True),
    excluded=st.lists(st.sampled_from(["s-1", "s-2"])),
)
def test_demand_terms_equal_their_restored_record(
    amount, unit, ceiling, span, min_lot, required, excluded
):
    body = {
        "ceiling": ceiling,
        "price_unit": unit,
        "delivery_window": window(min(span), max(span)),
        "excluded_suppliers": excluded,
        "min_lot": None if min_lot is None else share(amount, min_lot, unit),
        "criteria": {"category": "fresh-fruit", "required_certifications": required},
    }
    terms = DemandTerms.from_demand(demand("d1", amount, unit, **body))
    assert_same_terms(terms, DemandTerms.from_record(terms.record))


@pytest.mark.parametrize("unit", WEIGHT_UNITS)
@pytest.mark.parametrize("price", [0, 1, 7, 999, 35_000, 52_123, 1_000_000, 123_456_789])
def test_cached_price_per_kg_equals_the_reference(price, unit):
    assert same(_per_kg(price, unit), price_per_kg(price, unit))


@pytest.mark.parametrize("unit", WEIGHT_UNITS)
@pytest.mark.parametrize(
    "amount", ["0.001", "0.5", "1", "8", "12.250", "300", "1E+3", "999999999999999.999"]
)
def test_kg_by_the_cached_factor_equals_the_reference(amount, unit):
    quantity = Quantity(amount=Decimal(amount), unit=unit)
    assert same(kg_of(quantity), to_kg(Decimal(amount), unit))


@pytest.mark.parametrize("price", [-1, 1.5])
def test_cached_price_per_kg_refuses_what_the_reference_refuses(price):
    with pytest.raises(ValueError):
        price_per_kg(price, "kg")
    with pytest.raises(ValueError):
        _per_kg(price, "kg")


def test_price_per_kg_of_a_count_unit_needs_a_pack_weight_either_way():
    with pytest.raises(ValueError) as reference:
        price_per_kg(10_000, "hộp")
    with pytest.raises(ValueError) as cached:
        _per_kg(10_000, "hộp")
    assert str(cached.value) == str(reference.value)


@settings(max_examples=300, deadline=None)
@given(offer_id=st.text(min_size=1), demand_id=st.text(min_size=1), n=st.integers(0, 10**6))
def test_match_ids_are_name_based_uuids_of_the_pair_and_its_count(offer_id, demand_id, n):
    try:
        expected = str(uuid.uuid5(KETNOI_NAMESPACE, f"match|{offer_id}|{demand_id}|{n}"))
    except UnicodeEncodeError:  # lone surrogates: both refuse them
        with pytest.raises(UnicodeEncodeError):
            match_id(offer_id, demand_id, n)
        return
    assert match_id(offer_id, demand_id, n) == expected


def reference_reason(breakdown: dict[str, float]) -> str:
    """``scoring.reason`` as first written (sorted by a key function), the reference."""
    order = sorted(CRITERIA, key=lambda name: -breakdown[name] / CRITERIA[name])
    parts = [f"{LABELS[n]} ({breakdown[n]:g}/{CRITERIA[n]:g})" for n in order[:2]]
    return f"Strongest on {parts[0]} and {parts[1]}."


POINTS = st.sampled_from([0.0, 2.5, 5.0, 7.5, 10.0, 12.34, 15.0, 30.0])


@settings(max_examples=300, deadline=None)
@given(points=st.lists(POINTS, min_size=5, max_size=5))
def test_reason_equals_the_key_function_version_ties_included(points):
    breakdown = {name: min(p, top) for (name, top), p in zip(CRITERIA.items(), points, strict=True)}
    assert reason(breakdown) == reference_reason(breakdown)
