"""What the core computes with is bounded at validation: the poison events of issue 11 are
refused by the contracts themselves, so the gateway and every worker refuse them alike."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.events import MarketTick, OfferPublished, parse_event
from schemas.orders import DemandSubmission, OfferSubmission
from schemas.problems import describe
from tests.factories import demand_body, offer_body


def _refusal(model: type, body: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return describe(caught.value)


def test_an_ocop_rating_in_year_9998_is_refused():
    product = {"name": "Cà phê", "category": "coffee", "ocop_stars": 4,
               "ocop_rated_on": "9998-01-01"}  # fmt: skip
    reason = _refusal(OfferSubmission, offer_body(product=product))
    assert "product.ocop_rated_on" in reason and "2100-12-31" in reason


@pytest.mark.parametrize("day", ["1999-12-31", "2101-01-01", "9999-12-31"])
def test_availability_dates_outside_the_supported_range_are_refused(day: str):
    reason = _refusal(OfferSubmission, offer_body(available={"start": "2026-12-01", "end": day}))
    assert "available.end" in reason and "supported range" in reason


def test_the_range_edges_are_accepted():
    body = offer_body(available={"start": "2000-01-01", "end": "2100-12-31"}, lead_time_days=365)
    assert OfferSubmission.model_validate(body).available.end.year == 2100


def test_an_unknown_province_code_in_an_object_is_refused():
    body = demand_body(delivery_province={"code": "atlantis", "name": "X"})
    reason = _refusal(DemandSubmission, body)
    assert "delivery_province" in reason and "atlantis" in reason


def test_a_province_object_gets_the_reference_names_not_free_text():
    body = demand_body(delivery_province={"code": "lam-dong", "name": "Lâm Đồng",
                                          "legacy_name": "dak nong"})  # fmt: skip
    province = DemandSubmission.model_validate(body).delivery_province
    assert (province.name, province.legacy_name) == ("Lâm Đồng", "Đắk Nông")
    forged = demand_body(delivery_province={"code": "lam-dong", "name": "<b>Atlantis</b>"})
    assert "not the name of province 'lam-dong'" in _refusal(DemandSubmission, forged)
    wrong_legacy = demand_body(
        delivery_province={"code": "lam-dong", "name": "Lâm Đồng", "legacy_name": "Hà Giang"}
    )
    assert "legacy_name" in _refusal(DemandSubmission, wrong_legacy)


@pytest.mark.parametrize("field", ["unit_price_vnd", "lead_time_days"])
def test_booleans_are_not_numbers(field: str):
    reason = _refusal(OfferSubmission, offer_body(**{field: True}))
    assert field in reason and "not true/false" in reason


def test_amounts_take_ascii_digits_only():
    reason = _refusal(OfferSubmission, offer_body(quantity={"amount": "١٢", "unit": "kg"}))
    assert "quantity.amount" in reason and "ASCII digits" in reason


def test_ships_to_is_capped():
    assert OfferSubmission.model_validate(offer_body(ships_to=["Hà Nội"] * 100)).ships_to
    reason = _refusal(OfferSubmission, offer_body(ships_to=["Hà Nội"] * 101))
    assert "ships_to" in reason


@pytest.mark.parametrize("moment", ["9999-12-31T00:00:00+00:00", "1970-01-01T00:00:00+00:00"])
def test_occurred_at_outside_the_supported_range_is_refused(moment: str):
    tick = {"type": "market.tick", "event_id": str(uuid.uuid4()), "source": "t",
            "category": "coffee", "occurred_at": moment}  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        parse_event(json.dumps(tick))
    assert "occurred_at" in describe(caught.value)


def test_an_event_names_a_known_market():
    tick = {"event_id": str(uuid.uuid4()), "source": "t", "occurred_at": datetime.now(UTC)}
    assert MarketTick.model_validate({**tick, "category": "coffee"}).market_key == "coffee"
    with pytest.raises(ValidationError, match="category"):
        MarketTick.model_validate({**tick, "category": "x" * 40})


def test_a_valid_offer_event_still_round_trips():
    offer = {**offer_body(), "offer_id": "o-1"}
    event = OfferPublished.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "source": "t",
            "occurred_at": datetime.now(UTC),
            "offer": offer,
        }
    )
    assert parse_event(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("name", "words"),
    [("Trà\x00", "U+0000"), ("\x1b[31mTrà", "U+001B"), ("Trà\x85", "U+0085"),
     ("\u200d\u200c", "no visible character"), ("\u200b\ufeff", "blank")],
)  # fmt: skip
def test_control_and_invisible_only_names_are_refused(name: str, words: str):
    product = {"name": name, "category": "tea"}
    assert words in _refusal(OfferSubmission, offer_body(product=product))


def test_zero_width_characters_inside_a_name_are_dropped_and_text_is_nfc():
    product = {"name": "Tra\u0300\u200b Shan tuye\u0302\u0301t\ufeff", "category": "tea"}
    offer = OfferSubmission.model_validate(offer_body(product=product))
    assert offer.product.name == "Trà Shan tuyết"
