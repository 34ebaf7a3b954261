"""An offer and a demand posted over HTTP meet in the matcher and land in MongoDB and the API."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import demand_body, offer_body
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
    offer_id = _post(api, "/v1/offers", offer_body(
        "8", "tấn", category="coffee", price=95_000, supplier_id=supplier,
        origin_province="tinh kon tum",
        product={"name": "Cà phê Robusta", "category": "coffee"},
    ))  # fmt: skip
    demand_id = _post(api, "/v1/demands", demand_body(
        "20", "tạ", category="cà phê", ceiling=100_000_000, price_unit="tấn", buyer_id=buyer,
    ))  # fmt: skip

    stored = eventually(
        lambda: mongo.matches.find_one({"demand_id": demand_id}), what="match in MongoDB"
    )
    assert stored["offer_id"] == offer_id
    assert stored["supplier_id"] == supplier and stored["buyer_id"] == buyer
    assert stored["quantity_kg"] == 2000.0  # 20 tạ
    assert stored["unit_price_vnd"] == 95_000 and stored["category"] == "coffee"

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
    offer_id = _post(api, "/v1/offers", offer_body(
        "5", "tạ", category="nuts", price=150_000, supplier_id=_unique("htx-cao-bang"),
        origin_province="Cao Bằng", product={"name": "Hạt dẻ Trùng Khánh", "category": "nuts"},
    ))  # fmt: skip
    demand_id = _post(api, "/v1/demands", demand_body(
        "2", "tấn", category="nuts", buyer_id=_unique("cho-dau-moi"),
    ))  # fmt: skip

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
    offer_id = _post(api, "/v1/offers", offer_body(
        "8", "tấn", category="dried-goods", supplier_id=_unique("htx-son-la"),
        origin_province="Sơn La", product={"name": "Mận hậu sấy", "category": "dried-goods"},
    ))  # fmt: skip
    demand_ids = [
        _post(
            api,
            "/v1/demands",
            demand_body("60", "tạ", category="dried-goods", buyer_id=_unique("buyer")),
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
    response = api.post("/v1/demands", json=demand_body(unit="bao", delivery_province="Hai Phongg"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["path"]: e for e in response.json()["errors"]}
    assert "tấn" in errors["quantity.unit"]["problem"]
    assert errors["quantity.unit"]["suggestion"] == "hộp"
    assert errors["delivery_province"]["suggestion"] == "Hải Phòng"
