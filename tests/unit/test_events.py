"""Event contracts: JSON round trips for every event, normalisation, errors naming the field."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import events as ev
from schemas.orders import DemandSubmission, OfferSubmission
from schemas.problems import explain
from schemas.products import Product
from tests import factories, strategies

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def test_every_event_type_has_a_strategy():
    assert strategies.covered_event_types() == set(ev.EVENT_TYPES)


@pytest.mark.parametrize("event_type", ev.EVENT_TYPES, ids=ev.event_type_name)
@settings(max_examples=40, deadline=None)
@given(data=strategies.st.data())
def test_json_round_trip(event_type, data):
    event = data.draw(strategies.events(event_type))
    parsed = ev.parse_event(event.model_dump_json())
    assert type(parsed) is event_type
    assert parsed == event
    assert parsed.model_dump_json() == event.model_dump_json()
    assert parsed.kafka_key  # every event can be routed
    assert event_type.TOPIC in {ev.ORDERS, ev.MATCHES, ev.SESSIONS, ev.ORGANIZATIONS}


def test_demand_normalises_legacy_province_and_category_name():
    demand = factories.demand("d1", criteria={"category": "Cà phê"},
                              delivery_province="tinh dak nong")  # fmt: skip
    assert demand.criteria.category == "coffee" and demand.market_key == "coffee"
    assert demand.delivery_province.name == "Lâm Đồng"
    assert demand.delivery_province.legacy_name == "Đắk Nông"


def test_text_is_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "Miến dong   Cao Bằng")
    product = Product(name=decomposed, category="rice-noodles")
    assert product.name == "Miến dong Cao Bằng"
    assert unicodedata.is_normalized("NFC", product.name)


def test_product_derives_its_ocop_group_and_refuses_a_wrong_one():
    assert Product(name="Chè", category="tea").ocop_group == "food"
    with pytest.raises(ValidationError, match="does not fit category"):
        Product(name="Chè", category="tea", ocop_group="handicrafts")


def test_ocop_rating_needs_a_date_and_lapses_after_36_months():
    with pytest.raises(ValidationError, match="ocop_rated_on is required"):
        Product(name="Sâm", category="ginseng", ocop_stars=5)
    rated = Product(name="Sâm", category="ginseng", ocop_stars=5, ocop_rated_on=date(2023, 3, 31))
    assert rated.ocop_stars_on(date(2026, 3, 30)) == 5
    assert rated.ocop_stars_on(date(2026, 3, 31)) == 0


def test_certifications_are_parsed_and_deduplicated():
    product = Product(name="Vải", category="fresh-fruit",
                      certifications=["Viet GAP", "vietgap", "GlobalG.A.P."])  # fmt: skip
    assert [c.value for c in product.certifications] == ["globalgap", "vietgap"]


def _problems(model, body) -> dict[str, object]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    return {p.path: p for p in explain(info.value)}


def test_problems_name_the_field_what_was_wrong_and_what_is_allowed():
    body = factories.demand_body(
        unit="hôpp", delivery_province="Hai Phongg", buyer_id="siêu thị",
        delivery_window={"start": "2026-12-10", "end": "2026-12-01"},
    )  # fmt: skip
    body["criteria"] = {"category": "cafe sua", "required_certifications": ["vietgapp"]}
    problems = _problems(DemandSubmission, body)
    assert "tấn" in problems["quantity.unit"].problem
    assert problems["quantity.unit"].suggestion == "hộp"
    assert problems["delivery_province"].suggestion == "Hải Phòng"
    assert "coffee" in problems["criteria.category"].problem
    assert "vietgap" in problems["criteria.required_certifications[0]"].allowed
    assert "ASCII" in problems["buyer_id"].problem
    assert "before start" in problems["delivery_window"].problem


def test_piece_units_are_refused_until_pack_sizes_exist():
    problems = _problems(OfferSubmission, factories.offer_body(unit="thùng"))
    assert "piece or package unit" in problems["quantity.unit"].problem


def test_a_sack_is_a_package_to_declare_not_a_typo_of_a_box():
    """``bao`` once answered "did you mean 'hộp'?": a sack is not a box."""
    problem = _problems(OfferSubmission, factories.offer_body(unit="bao"))["quantity.unit"]
    assert "package unit (sack)" in problem.problem and "Quy cách: bao 50 kg" in problem.problem
    assert problem.suggestion is None and "tấn" in problem.allowed


def test_lots_cannot_exceed_the_quantity():
    problems = _problems(DemandSubmission, factories.demand_body(
        amount="1", min_lot={"amount": "2", "unit": "tấn"}))  # fmt: skip
    assert "min_lot (2000 kg) is above quantity (1000 kg)" in problems["(body)"].problem


def test_money_is_integer_vnd():
    problems = _problems(OfferSubmission, factories.offer_body(price=85_000.5))
    assert "unit_price_vnd" in problems


def test_unknown_fields_are_refused_by_name():
    problems = _problems(OfferSubmission, factories.offer_body(colour="red"))
    assert "spelling" in problems["colour"].problem


def test_timestamps_must_carry_a_timezone():
    with pytest.raises(ValidationError, match="timezone"):
        ev.OfferWithdrawn(event_id=uuid.uuid4(), occurred_at=datetime(2026, 1, 1), source="api",
                          offer_id="o1", category="coffee")  # fmt: skip


def test_unknown_event_type_is_rejected():
    with pytest.raises(ValidationError, match=r"offer\.published"):
        ev.parse_event(b'{"type": "offer.teleported"}')


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.text(), min_size=1, max_size=4))
def test_derived_ids_are_the_uuid5_of_the_joined_parts(parts):
    """The fast derived_id is uuid.uuid5's text, byte for byte (ids already stored stay)."""
    try:
        expected = str(uuid.uuid5(ev.KETNOI_NAMESPACE, "|".join(parts)))
    except UnicodeEncodeError:  # lone surrogates: both refuse them
        with pytest.raises(UnicodeEncodeError):
            ev.derived_id(*parts)
        return
    assert ev.derived_id(*parts) == expected


def test_derived_ids_are_deterministic():
    assert ev.derived_id("match", "o1", "d1") == ev.derived_id("match", "o1", "d1")
    assert ev.derived_id("match", "o1", "d1") != ev.derived_id("match", "o1", "d2")
