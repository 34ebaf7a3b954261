"""An offer and a demand posted over HTTP meet in the matcher and land in MongoDB and the API."""

from __future__ import annotations

import uuid

import pytest

from tests.support import eventually

pytestmark = pytest.mark.infra


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _post(api, path: str, body: dict) -> str:
    response = api.post(path, json=body)
    assert response.status_code == 202, response.text
    payload = response.json()
    assert uuid.UUID(payload["event_id"])
    assert payload["status_url"] == f"{path}/{payload['id']}"
    return payload["id"]


def test_offer_and_matching_demand_are_matched(api, mongo):
    supplier, buyer = _unique("htx-kon-tum"), _unique("sieu-thi-hai-phong")
    offer_id = _post(api, "/v1/offers", {
        "supplier_id": supplier, "product_name": "Cà phê Robusta", "category": "coffee",
        "origin_province": "tinh kon tum", "quantity": {"amount": "8", "unit": "tấn"},
        "unit_price_vnd": 95_000,
    })  # fmt: skip
    demand_id = _post(api, "/v1/demands", {
        "buyer_id": buyer, "category": "cà phê", "quantity": {"amount": "20", "unit": "tạ"},
        "max_unit_price_vnd": 100_000_000, "price_unit": "tấn", "delivery_province": "Hải Phòng",
    })  # fmt: skip

    stored = eventually(
        lambda: mongo.matches.find_one({"demand_id": demand_id}), what="match in MongoDB"
    )
    assert stored["offer_id"] == offer_id
    assert stored["supplier_id"] == supplier and stored["buyer_id"] == buyer
    assert stored["quantity_kg"] == 2000.0  # 20 tạ
    assert stored["unit_price_vnd"] == 95_000

    listed = eventually(
        lambda: api.get("/v1/matches", params={"demand_id": demand_id}).json()["items"],
        what="match in GET /v1/matches",
    )
    assert [m["match_id"] for m in listed] == [stored["_id"]]

    offer = eventually(lambda: mongo.offers.find_one({"_id": offer_id}), what="offer recorded")
    assert offer["origin_province"] == {
        "code": "quang-ngai", "name": "Quảng Ngãi", "legacy_name": "Kon Tum"
    }  # fmt: skip
    demand = eventually(
        lambda: mongo.demands.find_one({"_id": demand_id, "match_status": "matched"}),
        what="demand marked matched",
    )
    assert demand["quantity_kg"] == 2000.0


def test_demand_that_fits_nothing_stays_open_with_the_reason(api, mongo):
    # An offer that is too small: the demand must not match it, and must say why.
    offer_id = _post(api, "/v1/offers", {
        "supplier_id": _unique("htx-cao-bang"), "product_name": "Hạt dẻ Trùng Khánh",
        "category": "nuts", "origin_province": "Cao Bằng",
        "quantity": {"amount": "5", "unit": "tạ"}, "unit_price_vnd": 150_000,
    })  # fmt: skip
    demand_id = _post(api, "/v1/demands", {
        "buyer_id": _unique("cho-dau-moi"), "category": "nuts",
        "quantity": {"amount": "2", "unit": "tấn"}, "delivery_province": "Hai Phong",
    })  # fmt: skip

    # The matcher's decision is the barrier: once recorded, the demand has been processed.
    demand = eventually(
        lambda: mongo.demands.find_one({"_id": demand_id, "match_status": {"$exists": True}}),
        what="matcher decision on the demand",
    )
    assert demand["match_status"] == "open"
    # Offer and demand share the market's partition, so the offer was in the book first.
    assert demand["unmatched_reason"] == "no offer has enough quantity (largest open: 500 kg)"
    assert mongo.matches.count_documents({"demand_id": demand_id}) == 0
    assert mongo.matches.count_documents({"offer_id": offer_id}) == 0
    assert api.get("/v1/matches", params={"demand_id": demand_id}).json()["items"] == []


def test_no_kilogram_is_promised_twice(api, mongo):
    """Two demands of 6 tấn against one offer of 8 tấn: exactly one is matched."""
    offer_id = _post(api, "/v1/offers", {
        "supplier_id": _unique("htx-son-la"), "product_name": "Mận hậu Sơn La",
        "category": "dried-goods", "origin_province": "Sơn La",
        "quantity": {"amount": "8", "unit": "tấn"}, "unit_price_vnd": 30_000,
    })  # fmt: skip
    demand_ids = [
        _post(
            api,
            "/v1/demands",
            {
                "buyer_id": _unique("buyer"),
                "category": "dried-goods",
                "quantity": {"amount": "60", "unit": "tạ"},
                "delivery_province": "Hà Nội",
            },
        )
        for _ in range(2)
    ]
    decided = eventually(
        lambda: (
            docs
            if len(docs := list(mongo.demands.find(
                {"_id": {"$in": demand_ids}, "match_status": {"$exists": True}}
            ))) == 2 and any(d["match_status"] == "matched" for d in docs)
            else None
        ),
        what="both demands decided",
    )  # fmt: skip
    assert sorted(d["match_status"] for d in decided) == ["matched", "open"]
    matches = list(mongo.matches.find({"offer_id": offer_id}))
    assert len(matches) == 1
    assert sum(m["quantity_kg"] for m in matches) <= 8000.0


def test_invalid_body_names_the_field_and_what_is_allowed(api):
    response = api.post("/v1/demands", json={
        "buyer_id": "b1", "category": "coffee", "quantity": {"amount": "3", "unit": "bao"},
        "delivery_province": "Hai Phongg",
    })  # fmt: skip
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert "tấn" in errors[("body", "quantity", "unit")]
    assert "Hải Phòng" in errors[("body", "delivery_province")]
