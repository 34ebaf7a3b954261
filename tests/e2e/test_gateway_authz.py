"""The authorization matrix: every role tries every access to another organization's data.

Two "worlds" (a and b), each with a supplier, a retailer, an organizer and a province, and each
with an offer, a demand, a proposed match between them, and a session. Every key of one world
tries to read, change or act for every object of the other: each try must be refused (403, or
404 where existence must not leak). Controls show the owners can do the same things, so a
refusal is the rule working, not a broken route. A barrier at the end proves no refused write
reached Kafka.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.factories import demand_body, offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra

ROLES = ("supplier", "retailer", "organizer", "province")


@dataclass
class World:
    name: str
    province: str
    market: str
    supplier: str
    retailer: str
    organizer: str
    province_org: str
    keys: dict[str, str] = field(default_factory=dict)
    offer_id: str = ""
    demand_id: str = ""
    match_id: str = ""
    session_id: str = ""


def _accepted(response) -> str:
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _org(org_id: str, kind: str, province: str) -> dict[str, Any]:
    return {"org_id": org_id, "name": f"Tổ chức {org_id}", "kind": kind, "province": province}


def _session_body(world: World) -> dict[str, Any]:
    return {
        "name": f"Hội nghị kết nối cung cầu {world.name}",
        "host_province": "Hải Phòng",
        "dates": {"start": "2026-12-01", "end": "2026-12-02"},
        "venue": "Cung văn hóa",
        "invited_provinces": [world.province],
    }


@pytest.fixture(scope="module")
def worlds(api, issue_key, client_for, mongo) -> dict[str, World]:
    tag = uuid.uuid4().hex[:6]
    worlds = {
        "a": World(
            "a",
            "Sơn La",
            "ceramics",
            f"htx-a-{tag}",
            f"sieu-thi-a-{tag}",
            f"so-ct-hp-a-{tag}",
            f"so-ct-son-la-{tag}",
        ),
        "b": World(
            "b",
            "Cao Bằng",
            "textiles",
            f"htx-b-{tag}",
            f"sieu-thi-b-{tag}",
            f"so-ct-hp-b-{tag}",
            f"so-ct-cao-bang-{tag}",
        ),
    }
    for w in worlds.values():
        for body in (
            _org(w.supplier, "cooperative", w.province),
            _org(w.retailer, "supermarket-chain", "Hải Phòng"),
            _org(w.organizer, "organizer", "Hải Phòng"),
        ):
            _accepted(api.post("/v1/organizations", json=body))
        w.keys = {
            "supplier": issue_key(w.supplier, "supplier"),
            "retailer": issue_key(w.retailer, "retailer"),
            "organizer": issue_key(w.organizer, "organizer"),
            "province": issue_key(w.province_org, "province", w.province),
        }
    for w in worlds.values():
        eventually(
            lambda w=w: api.get(f"/v1/organizations/{w.supplier}").status_code == 200,
            what="supplier registered",
        )
        product = {"name": "Gốm thủ công", "category": w.market}
        w.offer_id = _accepted(
            client_for(w.keys["supplier"]).post(
                "/v1/offers",
                json=offer_body(category=w.market, supplier_id=w.supplier, product=product),
            )
        )
        w.demand_id = _accepted(
            client_for(w.keys["retailer"]).post(
                "/v1/demands", json=(demand_body(category=w.market, buyer_id=w.retailer))
            )
        )
        w.session_id = _accepted(
            client_for(w.keys["organizer"]).post("/v1/sessions", json=_session_body(w))
        )
    for w in worlds.values():
        match = eventually(
            lambda w=w: mongo.matches.find_one({"demand_id": w.demand_id}),
            what=f"the proposal of world {w.name}",
        )
        assert match["offer_id"] == w.offer_id
        w.match_id = match["_id"]
        eventually(lambda w=w: mongo.sessions.find_one({"_id": w.session_id}), what="session")
        eventually(lambda w=w: mongo.offers.find_one({"_id": w.offer_id}), what="offer")
    return worlds


def _offer_of(w: World) -> dict[str, Any]:
    return offer_body(
        category=w.market,
        supplier_id=w.supplier,
        price=1,
        product={"name": "Gốm thủ công", "category": w.market},
    )


# action -> (method, path, body) against the target world
ACTIONS: dict[str, Any] = {
    "read offer": lambda t: ("GET", f"/v1/offers/{t.offer_id}", None),
    "update offer": lambda t: ("PUT", f"/v1/offers/{t.offer_id}", _offer_of(t)),
    "withdraw offer": lambda t: ("POST", f"/v1/offers/{t.offer_id}/withdraw", {}),
    "publish offer for its supplier": lambda t: ("POST", "/v1/offers", _offer_of(t)),
    "bulk-publish for its supplier": lambda t: (
        "POST",
        "/v1/offers:bulk",
        {"items": [_offer_of(t)]},
    ),
    "bulk-update offer": lambda t: (
        "POST",
        "/v1/offers:bulk-update",
        {"items": [{"offer_id": t.offer_id, "offer": _offer_of(t)}]},
    ),
    "list its supplier's offers": lambda t: ("GET", f"/v1/offers?supplier_id={t.supplier}", None),
    "read demand": lambda t: ("GET", f"/v1/demands/{t.demand_id}", None),
    "update demand": lambda t: (
        "PUT",
        f"/v1/demands/{t.demand_id}",
        demand_body(category=t.market, buyer_id=t.retailer),
    ),
    "cancel demand": lambda t: ("POST", f"/v1/demands/{t.demand_id}/cancel", {}),
    "post demand for its buyer": lambda t: (
        "POST",
        "/v1/demands",
        demand_body(category=t.market, buyer_id=t.retailer),
    ),
    "bulk-post for its buyer": lambda t: (
        "POST",
        "/v1/demands:bulk",
        {"items": [demand_body(category=t.market, buyer_id=t.retailer)]},
    ),
    "bulk-update demand": lambda t: (
        "POST",
        "/v1/demands:bulk-update",
        {
            "items": [
                {
                    "demand_id": t.demand_id,
                    "demand": demand_body(category=t.market, buyer_id=t.retailer),
                }
            ]
        },
    ),
    "list its buyer's demands": lambda t: ("GET", f"/v1/demands?buyer_id={t.retailer}", None),
    "read match": lambda t: ("GET", f"/v1/matches/{t.match_id}", None),
    "accept match": lambda t: ("POST", f"/v1/matches/{t.match_id}/accept", None),
    "decline match": lambda t: ("POST", f"/v1/matches/{t.match_id}/decline", {}),
    "list matches by buyer": lambda t: ("GET", f"/v1/matches?buyer_id={t.retailer}", None),
    "list matches by supplier": lambda t: ("GET", f"/v1/matches?supplier_id={t.supplier}", None),
    "list matches by session": lambda t: ("GET", f"/v1/matches?session_id={t.session_id}", None),
    "read session": lambda t: ("GET", f"/v1/sessions/{t.session_id}", None),
    "session stats": lambda t: ("GET", f"/v1/sessions/{t.session_id}/stats", None),
    "session participants": lambda t: ("GET", f"/v1/sessions/{t.session_id}/participants", None),
    "register participant": lambda t: (
        "POST",
        f"/v1/sessions/{t.session_id}/participants",
        {"org_id": t.retailer, "party": "buyer"},
    ),
    "open session": lambda t: ("POST", f"/v1/sessions/{t.session_id}/open", None),
    "close session": lambda t: ("POST", f"/v1/sessions/{t.session_id}/close", None),
    "create session for its organizer": lambda t: (
        "POST",
        "/v1/sessions",
        {**_session_body(t), "organizer_id": t.organizer},
    ),
    "read organization": lambda t: ("GET", f"/v1/organizations/{t.supplier}", None),
    "register its supplier": lambda t: (
        "POST",
        "/v1/organizations",
        _org(t.supplier, "cooperative", t.province),
    ),
}


# A list filtered by another organization's id is refused where the filter contradicts the
# caller's scope. Elsewhere it only narrows the caller's own items (a supplier's matches with
# one buyer), which test_lists_show_only_the_callers_own_items covers.
ONLY = {
    "list matches by buyer": {"retailer"},
    "list matches by supplier": {"supplier", "province"},
    "list matches by session": {"organizer"},
}
CASES = [(role, action) for action in ACTIONS for role in ROLES if role in ONLY.get(action, ROLES)]


@pytest.mark.parametrize("direction", ["a->b", "b->a"])
@pytest.mark.parametrize(("role", "action"), CASES)
def test_cross_organization_access_is_refused(worlds, client_for, role, action, direction):
    actor, target = (worlds[n] for n in direction.split("->"))
    method, path, body = ACTIONS[action](target)
    response = client_for(actor.keys[role]).request(method, path, json=body)
    if path.endswith((":bulk", ":bulk-update")) and response.status_code == 422:
        # All items refused: the per-item result says why (an update: not visible, 404).
        results = response.json()["results"]
        assert [r["status"] for r in results] == [404 if "update" in path else 403], response.text
        return
    assert response.status_code in (403, 404), f"{role} {action}: {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code


def test_admin_cannot_decide_for_a_party(worlds, api):
    response = api.post(f"/v1/matches/{worlds['a'].match_id}/accept")
    assert response.status_code == 403


OWNER_READS = [
    ("supplier", lambda w: f"/v1/offers/{w.offer_id}"),
    ("province", lambda w: f"/v1/offers/{w.offer_id}"),
    ("retailer", lambda w: f"/v1/demands/{w.demand_id}"),
    ("retailer", lambda w: f"/v1/matches/{w.match_id}"),
    ("supplier", lambda w: f"/v1/matches/{w.match_id}"),
    ("province", lambda w: f"/v1/matches/{w.match_id}"),
    ("organizer", lambda w: f"/v1/sessions/{w.session_id}"),
    ("organizer", lambda w: f"/v1/sessions/{w.session_id}/stats"),
    ("province", lambda w: f"/v1/organizations/{w.supplier}"),
    ("supplier", lambda w: f"/v1/organizations/{w.supplier}"),
    ("supplier", lambda w: f"/v1/offers?supplier_id={w.supplier}"),
    ("retailer", lambda w: f"/v1/matches?buyer_id={w.retailer}"),
]


@pytest.mark.parametrize(
    ("role", "path"), OWNER_READS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_owners_can_read_what_others_cannot(worlds, client_for, role, path):
    w = worlds["a"]
    response = client_for(w.keys[role]).get(path(w))
    assert response.status_code == 200, response.text


def test_lists_show_only_the_callers_own_items(worlds, client_for):
    a, b = worlds["a"], worlds["b"]
    offers = client_for(a.keys["province"]).get("/v1/offers", params={"limit": 200}).json()
    suppliers = {o["supplier_id"] for o in offers["items"]}
    assert a.supplier in suppliers and b.supplier not in suppliers
    matches = client_for(a.keys["retailer"]).get("/v1/matches").json()["items"]
    assert {m["buyer_id"] for m in matches} == {a.retailer}
    by_other_supplier = client_for(a.keys["retailer"]).get(
        "/v1/matches", params={"supplier_id": b.supplier}
    )
    assert by_other_supplier.status_code == 200 and by_other_supplier.json()["items"] == []
    demands = client_for(b.keys["retailer"]).get("/v1/demands").json()["items"]
    assert [d["demand_id"] for d in demands] == [b.demand_id]


def test_a_province_publishes_for_its_own_suppliers_only(worlds, client_for):
    a, b = worlds["a"], worlds["b"]
    province = client_for(a.keys["province"])
    bulk = province.post("/v1/offers:bulk", json={"items": [_offer_of(a), _offer_of(b)]})
    assert bulk.status_code == 202, bulk.text
    assert [r["status"] for r in bulk.json()["results"]] == [202, 403]
    assert bulk.json()["results"][1]["errors"][0]["path"] == "items[1].supplier_id"


def test_refused_writes_never_reached_kafka(worlds, client_for, mongo):
    """Barrier: each owner now updates its offer and demand (same markets, so the same
    partitions). Had any refused write been produced, it would be recorded before these."""
    for w in worlds.values():
        offer = _offer_of(w) | {"unit_price_vnd": 51_000}
        response = client_for(w.keys["supplier"]).put(
            f"/v1/offers/{w.offer_id}", json=offer, headers={"If-Match": '"1"'}
        )
        assert response.status_code == 202, response.text
        assert response.json()["revision"] == 2
    for w in worlds.values():
        stored = eventually(
            lambda w=w: mongo.offers.find_one({"_id": w.offer_id, "revision": 2}),
            what="the owner's update",
        )
        assert stored["status"] == "open" and stored["unit_price_vnd"] == 51_000
        demand = mongo.demands.find_one({"_id": w.demand_id})
        assert demand["status"] == "open" and demand["revision"] == 1
        match = mongo.matches.find_one({"_id": w.match_id})
        assert "buyer_decision" not in match and "supplier_decision" not in match
        assert mongo.sessions.find_one({"_id": w.session_id})["status"] == "scheduled"
        assert mongo.participants.count_documents({"session_id": w.session_id}) == 0
