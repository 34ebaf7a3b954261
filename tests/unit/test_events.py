"""Event contracts: JSON round trips, normalisation, and errors that name the field."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.events import (
    DemandPosted,
    MatchProposed,
    OfferPublished,
    derived_id,
    parse_event,
)
from schemas.orders import Demand, Offer, OfferSubmission

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _offer(**overrides) -> Offer:
    body = {
        "offer_id": "o1", "supplier_id": "htx-1", "product_name": "Miến dong Cao Bằng",
        "category": "rice-noodles", "origin_province": "Cao Bằng",
        "quantity": {"amount": "30", "unit": "tạ"}, "unit_price_vnd": 85_000,
    }  # fmt: skip
    return Offer(**{**body, **overrides})


def test_offer_event_round_trips_through_json():
    event = OfferPublished(event_id=uuid.uuid4(), occurred_at=NOW, source="api", offer=_offer())
    parsed = parse_event(event.model_dump_json())
    assert parsed == event
    assert parsed.market_key == "rice-noodles"
    assert parsed.offer.quantity_kg == 3000


def test_demand_event_round_trips_and_normalises_legacy_province():
    demand = Demand(
        demand_id="d1", buyer_id="b1", category="Cà phê",
        quantity={"amount": "2", "unit": "tan"}, delivery_province="tinh dak nong",
    )  # fmt: skip
    event = DemandPosted(event_id=uuid.uuid4(), occurred_at=NOW, source="api", demand=demand)
    parsed = parse_event(event.model_dump_json().encode())
    assert parsed.demand.category == "coffee"
    assert parsed.demand.delivery_province.name == "Lâm Đồng"
    assert parsed.demand.delivery_province.legacy_name == "Đắk Nông"


def test_text_is_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "Miến dong   Cao Bằng")
    offer = _offer(product_name=decomposed)
    assert offer.product_name == "Miến dong Cao Bằng"
    assert unicodedata.is_normalized("NFC", offer.product_name)


def test_unknown_unit_error_names_field_and_allowed_units():
    with pytest.raises(ValidationError) as info:
        OfferSubmission(
            supplier_id="s", product_name="x", category="coffee", origin_province="Sơn La",
            quantity={"amount": "1", "unit": "bao"}, unit_price_vnd=1,
        )  # fmt: skip
    [error] = info.value.errors()
    assert error["loc"] == ("quantity", "unit")
    assert "tấn" in error["msg"] and "yến" in error["msg"]


def test_piece_units_are_refused_until_pack_sizes_exist():
    with pytest.raises(ValidationError, match="piece unit"):
        _offer(quantity={"amount": "10", "unit": "thùng"})


def test_money_is_integer_vnd():
    with pytest.raises(ValidationError) as info:
        _offer(unit_price_vnd=85_000.5)
    assert info.value.errors()[0]["loc"] == ("unit_price_vnd",)


def test_timestamps_must_carry_a_timezone():
    with pytest.raises(ValidationError, match="timezone"):
        OfferPublished(event_id=uuid.uuid4(), occurred_at=datetime(2026, 1, 1), source="api",
                       offer=_offer())  # fmt: skip


def test_unknown_event_type_is_rejected():
    with pytest.raises(ValidationError, match=r"offer\.published"):
        parse_event(b'{"type": "offer.teleported"}')


def test_derived_ids_are_deterministic():
    assert derived_id("match", "o1", "d1") == derived_id("match", "o1", "d1")
    assert derived_id("match", "o1", "d1") != derived_id("match", "o1", "d2")


def test_match_event_refuses_extra_fields():
    with pytest.raises(ValidationError, match="extra"):
        MatchProposed.model_validate(
            {"event_id": str(uuid.uuid4()), "occurred_at": NOW.isoformat(), "source": "m",
             "match": {}, "surprise": 1}
        )  # fmt: skip
