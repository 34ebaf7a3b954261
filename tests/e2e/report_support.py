"""A small session run through the API for the report tests: an organizer in Hải Phòng, a
cooperative from Quảng Ngãi offering 5-star ginseng (or another category), a supermarket asking
for it, a proposal both accept. Its demand is posted first and asks for what the offer has (5
OCOP stars, VAT invoice, traceability), so other tests' orders of the shared market do not take
its place."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.factories import demand_body, offer_body
from tests.support import eventually

CATEGORY = "ginseng"
QUANTITY_KG = 300.0
PRICE_PER_KG = 2_500_000
DATES = {"start": "2026-12-07", "end": "2026-12-08"}


@dataclass
class SmallSession:
    session_id: str
    organizer_id: str
    organizer_key: str
    organizer: httpx.Client
    supplier_id: str
    buyer_id: str
    supplier: httpx.Client
    buyer: httpx.Client
    offer_id: str
    demand_id: str
    match_id: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _org(org_id: str, name: str, kind: str, province: str) -> dict:
    return {"org_id": org_id, "name": name, "kind": kind, "province": province}


def run_small_session(
    api: httpx.Client,
    issue_key: Callable[..., str],
    client_for: Callable[[str], httpx.Client],
    mongo,
    category: str = CATEGORY,
) -> SmallSession:
    organizer_id = unique("so-cong-thuong-hp")
    supplier_id, buyer_id = unique("htx-sam-ngoc-linh"), unique("sieu-thi-hp")
    organizer_key = issue_key(organizer_id, "organizer")
    organizer = client_for(organizer_key)
    own = _org(organizer_id, "Sở Công Thương Hải Phòng", "organizer", "Hải Phòng")
    assert organizer.post("/v1/organizations", json=own).status_code == 202
    for body in (
        _org(supplier_id, "HTX Sâm Ngọc Linh <Kon Tum>", "cooperative", "Kon Tum"),
        _org(buyer_id, "Siêu thị Hải Phòng", "supermarket-chain", "Hải Phòng"),
    ):
        assert api.post("/v1/organizations", json=body).status_code == 202
    created = organizer.post(
        "/v1/sessions",
        json={
            "name": "Kết nối cung cầu Hải Phòng – Quảng Ngãi",
            "host_province": "Hải Phòng",
            "dates": DATES,
            "venue": "Cung Văn hóa Lao động",
            "invited_provinces": ["Quảng Ngãi"],
            "scope": "session",  # its orders meet only each other, whatever other tests post
        },
    )
    assert created.status_code == 202, created.text
    session_id, url = created.json()["id"], created.json()["status_url"]
    eventually(lambda: organizer.get(url).status_code == 200, what="the session recorded")
    eventually(
        lambda: mongo.organizations.count_documents({"_id": {"$in": [supplier_id, buyer_id]}}) == 2,
        what="the organizations recorded",
    )
    join = f"{url}/participants"
    for org_id, party in ((supplier_id, "supplier"), (buyer_id, "buyer")):
        answer = organizer.post(join, json={"org_id": org_id, "party": party})
        assert answer.status_code == 202, answer.text
    eventually(lambda: organizer.get(join).json()["count"] == 2, what="two participants")
    assert organizer.post(f"{url}/open").status_code == 202
    eventually(lambda: organizer.get(url).json()["status"] == "open", what="the session open")

    supplier = client_for(issue_key(supplier_id, "supplier"))
    buyer = client_for(issue_key(buyer_id, "retailer"))
    inside = {"session_id": session_id}
    demand = demand_body(
        "3",
        "tạ",
        category=category,
        buyer_id=buyer_id,
        criteria={"category": category, "min_ocop_stars": 5},
        requires_vat_invoice=True,
        requires_traceability=True,
    )
    posted = buyer.post("/v1/demands", params=inside, json=demand)
    assert posted.status_code == 202, posted.text
    demand_id = posted.json()["id"]
    product = {
        "name": "Sâm Ngọc Linh",
        "category": category,
        "ocop_stars": 5,
        "ocop_rated_on": "2026-01-15",
    }
    offer = offer_body(
        "300",
        "kg",
        category=category,
        price=PRICE_PER_KG,
        supplier_id=supplier_id,
        origin_province="Kon Tum",
        product=product,
        issues_vat_invoice=True,
        has_traceability_stamps=True,
    )
    published = supplier.post("/v1/offers", params=inside, json=offer)
    assert published.status_code == 202, published.text
    offer_id = published.json()["id"]
    match = eventually(
        lambda: mongo.matches.find_one({"offer_id": offer_id, "demand_id": demand_id}),
        what="the proposal of the offer to the demand",
    )
    for client in (buyer, supplier):
        answer = client.post(f"/v1/matches/{match['_id']}/accept")
        assert answer.status_code == 202, answer.text
    eventually(
        lambda: mongo.matches.find_one({"_id": match["_id"], "status": "confirmed"}),
        what="the match confirmed by both sides",
    )
    return SmallSession(
        session_id,
        organizer_id,
        organizer_key,
        organizer,
        supplier_id,
        buyer_id,
        supplier,
        buyer,
        offer_id,
        demand_id,
        match["_id"],
    )


CONTRACT = {
    "kind": "contract",
    "volume": {"amount": "300", "unit": "kg"},
    "value_vnd": 750_000_000,
    "delivery": {"start": "2026-12-15", "end": "2026-12-31"},
}
PLAN = {
    "slots": [
        {"start": "2026-12-07T09:00:00+07:00", "end": "2026-12-07T09:20:00+07:00"},
        {"start": "2026-12-07T09:30:00+07:00", "end": "2026-12-07T09:50:00+07:00"},
    ],
    "tables": 2,
}


def hold_the_meeting(small: SmallSession, mongo) -> str:
    """The organizer plans slots and schedules the confirmed pair's meeting; both parties state
    the same contract; the supplier alone states a first delivery. The meeting's id."""
    base = f"/v1/sessions/{small.session_id}"
    planned = small.organizer.put(f"{base}/meeting-plan", json=PLAN)
    assert planned.status_code == 202, planned.text
    eventually(
        lambda: (mongo.sessions.find_one({"_id": small.session_id}) or {}).get("meeting_plan"),
        what="the meeting plan recorded",
    )
    run = small.organizer.post(f"{base}/meetings:schedule")
    assert run.status_code == 202 and run.json()["placed"] == 1, run.text
    meeting = eventually(
        lambda: mongo.meetings.find_one({"session_id": small.session_id, "status": "scheduled"}),
        what="the meeting scheduled",
    )
    url = f"/v1/meetings/{meeting['_id']}"
    for client in (small.buyer, small.supplier):
        stated = client.post(f"{url}/outcome", json=CONTRACT)
        assert stated.status_code == 202, stated.text
    eventually(
        lambda: (mongo.outcomes.find_one({"_id": meeting["_id"]}) or {}).get("agreed"),
        what="the contract agreed by both sides",
    )
    delivery = {"delivery_ref": "PXK-0001", "delivered_on": "2026-12-20",
                "quantity": {"amount": "100", "unit": "kg"}, "value_vnd": 250_000_000}  # fmt: skip
    delivered = small.supplier.post(f"{url}/deliveries", json=delivery)
    assert delivered.status_code == 202, delivered.text
    eventually(
        lambda: mongo.deliveries.find_one({"meeting_id": meeting["_id"]}),
        what="the delivery recorded",
    )
    return meeting["_id"]
