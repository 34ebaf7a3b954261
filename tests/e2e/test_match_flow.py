"""Offers and demands posted over HTTP meet in the matcher and land in MongoDB and the API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from schemas import events as ev
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


def test_offer_and_matching_demand_are_proposed(api, mongo):
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
    assert stored["status"] == "proposed" and 0 < stored["score"] <= 100
    assert sum(stored["score_breakdown"].values()) == pytest.approx(stored["score"], abs=0.1)

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
        lambda: mongo.demands.find_one({"_id": demand_id, "match_status": "proposed"}),
        what="demand marked proposed",
    )
    assert demand["quantity_kg"] == 2000.0


def test_demand_that_fits_nothing_stays_open_with_the_reason(api, mongo):
    # The only offer is too small and the buyer wants one supplier for everything.
    offer_id = _post(api, "/v1/offers", offer_body(
        "5", "tạ", category="nuts", price=150_000, supplier_id=_unique("htx-cao-bang"),
        origin_province="Cao Bằng", product={"name": "Hạt dẻ Trùng Khánh", "category": "nuts"},
    ))  # fmt: skip
    demand_id = _post(api, "/v1/demands", demand_body(
        "2", "tấn", category="nuts", buyer_id=_unique("cho-dau-moi"), accepts_partial=False,
    ))  # fmt: skip

    # The matcher's decision is the barrier: once recorded, the demand has been processed.
    demand = eventually(
        lambda: mongo.demands.find_one({"_id": demand_id, "match_status": {"$exists": True}}),
        what="matcher decision on the demand",
    )
    assert demand["match_status"] == "open"
    assert demand["unmatched_open_kg"] == 2000.0  # what the matcher said, stored as said
    assert demand["unmatched_reason"]  # the engine names the constraint that failed most
    assert mongo.matches.count_documents({"demand_id": demand_id}) == 0
    assert mongo.matches.count_documents({"offer_id": offer_id}) == 0
    assert api.get("/v1/matches", params={"demand_id": demand_id}).json()["items"] == []


def test_twenty_tonnes_from_three_cooperatives_confirmed_by_both_sides(api, mongo, services):
    """8 + 7 + 5 t fill a 20 t demand; both sides accept each proposal; the demand is filled."""
    market = "honey"
    offer_ids = [
        _post(
            api,
            "/v1/offers",
            offer_body(
                amount,
                "tấn",
                category=market,
                price=150_000,
                supplier_id=_unique("htx-mat-ong"),
                product={"name": "Mật ong bạc hà", "category": market},
            ),
        )
        for amount in ("8", "7", "5")
    ]
    demand_id = _post(api, "/v1/demands", demand_body(
        "20", "tấn", category=market, buyer_id=_unique("chuoi-sieu-thi"),
    ))  # fmt: skip
    proposals = eventually(
        lambda: (docs if len(docs := list(mongo.matches.find({"demand_id": demand_id}))) == 3
                 else None),
        what="three proposals",
    )  # fmt: skip
    assert sorted(m["quantity_kg"] for m in proposals) == [5000.0, 7000.0, 8000.0]
    assert {m["offer_id"] for m in proposals} == set(offer_ids)

    async def accept_all() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=services.settings.kafka_bootstrap,
                                    acks="all")  # fmt: skip
        await producer.start()
        try:
            for m in proposals:
                for party, org in (("buyer", m["buyer_id"]), ("supplier", m["supplier_id"])):
                    decision = ev.MatchAccepted(
                        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), source="test",
                        match_id=m["_id"], category=market, party=party, org_id=org,
                    )  # fmt: skip
                    value = decision.model_dump_json().encode()
                    topic = services.settings.topics.orders
                    await producer.send_and_wait(topic, key=market.encode(), value=value)
        finally:
            await producer.stop()

    asyncio.run(accept_all())
    demand = eventually(
        lambda: mongo.demands.find_one({"_id": demand_id, "match_status": "filled"}),
        what="the demand to be filled",
    )
    assert demand["filled_kg"] == 20000.0
    statuses = {m["status"] for m in mongo.matches.find({"demand_id": demand_id})}
    assert statuses == {"confirmed"}


def test_no_kilogram_is_promised_twice(api, mongo):
    """Two demands of 6 t against one offer of 8 t: 6 t + 2 t, never more than 8 t."""
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
                {"_id": {"$in": demand_ids}, "match_status": "open"}
            ))) == 1 and mongo.matches.count_documents({"offer_id": offer_id}) == 2
            else None
        ),
        what="one demand fully proposed, the other partly and open",
    )  # fmt: skip
    assert decided[0]["unmatched_open_kg"] == 4000.0
    matches = list(mongo.matches.find({"offer_id": offer_id}))
    assert sorted(m["quantity_kg"] for m in matches) == [2000.0, 6000.0]


def test_invalid_body_names_the_field_and_what_is_allowed(api):
    response = api.post(
        "/v1/demands", json=demand_body(unit="hôpp", delivery_province="Hai Phongg")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["path"]: e for e in response.json()["errors"]}
    assert "tấn" in errors["quantity.unit"]["problem"]
    assert errors["quantity.unit"]["suggestion"] == "hộp"
    assert errors["delivery_province"]["suggestion"] == "Hải Phòng"
