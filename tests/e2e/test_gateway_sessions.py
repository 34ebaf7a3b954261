"""A trade-connection session run by an organizer: create, register participants, open, trade
inside it, follow its stats, close."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import demand_body, offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra
MARKET = "juice"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _org(org_id: str, kind: str, province: str) -> dict:
    return {"org_id": org_id, "name": f"Đơn vị {org_id}", "kind": kind, "province": province}


def test_a_session_from_creation_to_close(api, issue_key, client_for, mongo):
    organizer_id = _unique("so-ct-hai-phong")
    supplier, far_supplier = _unique("htx-cam-nghe-an"), _unique("htx-son-la")
    buyer, outsider = _unique("sieu-thi"), _unique("sieu-thi-khac")
    organizer = client_for(issue_key(organizer_id, "organizer"))
    # An organizer registers its own organization; the admin registers the others.
    assert (
        organizer.post(
            "/v1/organizations", json=_org(organizer_id, "organizer", "Hải Phòng")
        ).status_code
        == 202
    )
    for body in (
        _org(supplier, "cooperative", "Nghệ An"),
        _org(far_supplier, "cooperative", "Sơn La"),
        _org(buyer, "supermarket-chain", "Hải Phòng"),
        _org(outsider, "supermarket-chain", "Hải Phòng"),
    ):
        assert api.post("/v1/organizations", json=body).status_code == 202
    created = organizer.post(
        "/v1/sessions",
        json={
            "name": "Kết nối cung cầu Hải Phòng - Nghệ An",
            "host_province": "TP. Hải Phòng",
            "dates": {"start": "2026-12-05", "end": "2026-12-06"},
            "venue": "Trung tâm Hội nghị",
            "invited_provinces": ["Nghệ An"],
        },
    )
    assert created.status_code == 202, created.text
    session_id, url = created.json()["id"], created.json()["status_url"]
    eventually(lambda: organizer.get(url).status_code == 200, what="the session recorded")
    session = organizer.get(url).json()
    assert session["status"] == "scheduled" and session["organizer_id"] == organizer_id
    eventually(
        lambda: (
            mongo.organizations.count_documents(
                {"_id": {"$in": [supplier, far_supplier, buyer, outsider]}}
            )
            == 4
        ),
        what="participants registered as organizations",
    )

    seller = client_for(issue_key(supplier, "supplier"))
    retailer = client_for(issue_key(buyer, "retailer"))
    offer = offer_body(
        category=MARKET, supplier_id=supplier, product={"name": "Nước cam Vinh", "category": MARKET}
    )
    early = seller.post("/v1/offers", params={"session_id": session_id}, json=offer)
    assert early.status_code == 409 and "scheduled" in early.json()["detail"]

    join = f"{url}/participants"
    assert organizer.post(join, json={"org_id": supplier, "party": "supplier"}).status_code == 202
    assert organizer.post(join, json={"org_id": buyer, "party": "buyer"}).status_code == 202
    not_invited = organizer.post(join, json={"org_id": far_supplier, "party": "supplier"})
    assert not_invited.status_code == 422
    assert not_invited.json()["errors"][0]["allowed"] == ["Hải Phòng", "Nghệ An"]
    wrong_party = organizer.post(join, json={"org_id": buyer, "party": "supplier"})
    assert (
        wrong_party.status_code == 422
        and "cooperative" in wrong_party.json()["errors"][0]["allowed"]
    )
    eventually(lambda: organizer.get(join).json()["count"] == 2, what="two participants")

    assert organizer.post(f"{url}/open").status_code == 202
    eventually(lambda: organizer.get(url).json()["status"] == "open", what="session open")
    assert organizer.post(f"{url}/open").status_code == 409

    inside = {"session_id": session_id}
    assert seller.post("/v1/offers", params=inside, json=offer).status_code == 202
    demand = demand_body(category=MARKET, buyer_id=buyer)
    assert retailer.post("/v1/demands", params=inside, json=demand).status_code == 202
    stranger = client_for(issue_key(outsider, "retailer"))
    refused = stranger.post("/v1/demands", params=inside, json={**demand, "buyer_id": outsider})
    assert refused.status_code == 403

    def proposed():
        stats = organizer.get(f"{url}/stats").json()
        return stats if stats["matches"].get("proposed", {}).get("count") == 1 else None

    stats = eventually(proposed, what="the session's proposal in its stats")
    assert stats["participants"] == {"buyer": 1, "supplier": 1}
    assert stats["offers"]["count"] == 1 and stats["demands"]["count"] == 1
    assert stats["matches"]["proposed"]["kg"] == 3000.0
    # 3 t of the 8 t offer are reserved for the 3 t demand: the offer is partly matched, the
    # demand has nothing open left (its figures come from its matches, as GET shows them).
    assert stats["offers"]["by_state"] == {"partly_matched": {"count": 1, "kg": 8000.0}}
    assert stats["demands"]["by_state"] == {"reserved": {"count": 1, "kg": 3000.0}}
    assert (stats["offers"]["open_kg"], stats["demands"]["open_kg"]) == (5000.0, 0.0)
    matches = organizer.get("/v1/matches", params={"session_id": session_id}).json()["items"]
    assert [m["buyer_id"] for m in matches] == [buyer]

    assert organizer.post(f"{url}/close").status_code == 202
    eventually(lambda: organizer.get(url).json()["status"] == "closed", what="session closed")
    late = seller.post("/v1/offers", params=inside, json=offer)
    assert late.status_code == 409
    assert organizer.post(join, json={"org_id": supplier, "party": "supplier"}).status_code == 409
