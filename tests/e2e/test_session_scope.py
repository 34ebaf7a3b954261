"""Session scope, end to end: a "session"-scoped session is a closed pool that its close ends;
a "market"-scoped one joins the public market, and its orders outlive its close.

Every order here delivers in March 2031, a window no other test uses, so other tests' orders in
the same market can neither take these orders' matches nor give them any.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.factories import demand_body, offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra
MARKET = "ginseng"
AVAILABLE = {"start": "2031-03-01", "end": "2031-03-31"}
WINDOW = {"start": "2031-03-05", "end": "2031-03-25"}
CLOSED_REASON = "phiên đã đóng / session closed"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _offer(supplier: str, amount: str, price: int, **kw: Any) -> dict[str, Any]:
    product = {"name": "Sâm Ngọc Linh", "category": MARKET}
    return offer_body(amount, category=MARKET, price=price, supplier_id=supplier,
                      product=product, available=AVAILABLE, **kw)  # fmt: skip


def _demand(buyer: str, amount: str, **kw: Any) -> dict[str, Any]:
    return demand_body(amount, category=MARKET, buyer_id=buyer, delivery_window=WINDOW, **kw)


def _posted(client: httpx.Client, path: str, body: dict, session_id: str | None = None) -> str:
    params = {"session_id": session_id} if session_id else None
    answer = client.post(path, json=body, params=params)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def _matches(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    return client.get("/v1/matches", params=query).json()["items"]


class Stage:
    """The organizer, its two sessions and the organizations taking part."""

    def __init__(self, api: httpx.Client, issue_key: Callable, client_for: Callable) -> None:
        self.api, self.issue_key, self.client_for = api, issue_key, client_for
        organizer_id = _unique("so-ct-lao-cai")
        self.organizer = client_for(issue_key(organizer_id, "organizer"))
        body = {"org_id": organizer_id, "name": "Sở Công Thương", "kind": "organizer",
                "province": "Hải Phòng"}  # fmt: skip
        assert self.organizer.post("/v1/organizations", json=body).status_code == 202

    def org(self, prefix: str, kind: str) -> tuple[str, httpx.Client]:
        org_id = _unique(prefix)
        body = {"org_id": org_id, "name": f"Đơn vị {org_id}", "kind": kind,
                "province": "Hải Phòng"}  # fmt: skip
        assert self.api.post("/v1/organizations", json=body).status_code == 202
        role = "supplier" if kind == "cooperative" else "retailer"
        eventually(lambda: self.api.get(f"/v1/organizations/{org_id}").status_code == 200,
                   what=f"{org_id} registered")  # fmt: skip
        return org_id, self.client_for(self.issue_key(org_id, role))

    def session(self, scope: str, parties: dict[str, str], **fields: Any) -> str:
        body = {"name": f"Phiên {scope}", "host_province": "Hải Phòng",
                "dates": {"start": "2031-03-01", "end": "2031-03-02"}, "scope": scope,
                **fields}  # fmt: skip
        created = self.organizer.post("/v1/sessions", json=body)
        assert created.status_code == 202, created.text
        url = created.json()["status_url"]
        eventually(lambda: self.organizer.get(url).status_code == 200, what="session recorded")
        assert self.organizer.get(url).json()["scope"] == scope
        for org_id, party in parties.items():
            joined = self.organizer.post(f"{url}/participants", json={"org_id": org_id,
                                                                       "party": party})  # fmt: skip
            assert joined.status_code == 202, joined.text
        count = len(parties)
        eventually(lambda: self.organizer.get(f"{url}/participants").json()["count"] == count,
                   what="participants recorded")  # fmt: skip
        assert self.organizer.post(f"{url}/open").status_code == 202
        eventually(lambda: self.organizer.get(url).json()["status"] == "open", what="open")
        return created.json()["id"]

    def close(self, session_id: str) -> None:
        url = f"/v1/sessions/{session_id}"
        assert self.organizer.post(f"{url}/close").status_code == 202
        eventually(lambda: self.organizer.get(url).json()["status"] == "closed", what="closed")


def _reason(client: httpx.Client, demand_id: str) -> str | None:
    answer = client.get(f"/v1/demands/{demand_id}")
    return answer.json().get("unmatched_reason") if answer.status_code == 200 else None


def test_session_scope_decides_what_matches_and_what_closing_does(api, issue_key, client_for):
    stage = Stage(api, issue_key, client_for)
    sup_a, seller_a = stage.org("htx-sam-a", "cooperative")
    sup_b, seller_b = stage.org("htx-sam-b", "cooperative")
    sup_out, seller_out = stage.org("htx-sam-ngoai", "cooperative")
    buy_a1, buyer_a1 = stage.org("sieu-thi-a1", "supermarket-chain")
    buy_a2, buyer_a2 = stage.org("sieu-thi-a2", "supermarket-chain")
    buy_out, buyer_out = stage.org("sieu-thi-ngoai", "supermarket-chain")
    closed_pool = stage.session("session", {sup_a: "supplier", buy_a1: "buyer", buy_a2: "buyer"})
    market_wide = stage.session("market", {sup_b: "supplier"})

    # (a) A session-scoped demand does not take the market's offer, and says why ...
    offer_out = _posted(seller_out, "/v1/offers", _offer(sup_out, "8", 50_000))
    demand_a1 = _posted(buyer_a1, "/v1/demands", _demand(buy_a1, "3"), closed_pool)
    reason = eventually(lambda: _reason(buyer_a1, demand_a1), what="the pooled demand's reason")
    assert reason.startswith("session: "), reason
    assert _matches(buyer_a1, demand_id=demand_a1) == []
    # ... takes an offer of its own session, cheaper than the market's ...
    offer_a = _posted(seller_a, "/v1/offers", _offer(sup_a, "4", 40_000), closed_pool)
    [m1] = eventually(lambda: _matches(buyer_a1, demand_id=demand_a1), what="a pooled match")
    assert (m1["offer_id"], m1["quantity_kg"]) == (offer_a, 3000.0)
    # ... whose last tonne a market demand never gets, cheaper as it is.
    demand_out = _posted(buyer_out, "/v1/demands", _demand(buy_out, "2"))
    [m_out] = eventually(lambda: _matches(buyer_out, demand_id=demand_out), what="market match")
    assert m_out["offer_id"] == offer_out
    for party in (buyer_a1, seller_a):
        assert party.post(f"/v1/matches/{m1['match_id']}/accept").status_code == 202
    eventually(lambda: buyer_a1.get(f"/v1/matches/{m1['match_id']}").json()["status"]
               == "confirmed", what="the pooled match confirmed")  # fmt: skip
    # A second buyer of the session asks below the session's price: it waits, open.
    demand_a2 = _posted(buyer_a2, "/v1/demands", _demand(buy_a2, "5", ceiling=30_000), closed_pool)
    eventually(lambda: _reason(buyer_a2, demand_a2), what="the second pooled demand's reason")

    # (b) A market-scoped session's offer matches the public market's demands.
    traced = {"has_traceability_stamps": True}
    offer_b = _posted(seller_b, "/v1/offers", _offer(sup_b, "10", 60_000, **traced), market_wide)
    needs_stamps = {"requires_traceability": True}  # only offer_b has them
    demand_out2 = _posted(buyer_out, "/v1/demands", _demand(buy_out, "2", **needs_stamps))
    [m2] = eventually(lambda: _matches(buyer_out, demand_id=demand_out2), what="market-wide")
    assert m2["offer_id"] == offer_b

    # (c) Closing the session-scoped session withdraws and cancels what is still open in it,
    # keeps the filled demand as it is, and frees no confirmed match.
    stage.close(closed_pool)
    withdrawn = eventually(
        lambda: (doc if (doc := seller_a.get(f"/v1/offers/{offer_a}").json())["status"]
                 == "withdrawn" else None),
        what="the pooled offer withdrawn",
    )  # fmt: skip
    assert withdrawn["withdrawn_reason"] == CLOSED_REASON
    assert withdrawn["confirmed_kg"] == 3000.0 and withdrawn["open_kg"] == 0.0
    cancelled = eventually(
        lambda: (doc if (doc := buyer_a2.get(f"/v1/demands/{demand_a2}").json())["status"]
                 == "cancelled" else None),
        what="the pooled demand cancelled",
    )  # fmt: skip
    assert cancelled["cancelled_reason"] == CLOSED_REASON
    filled = buyer_a1.get(f"/v1/demands/{demand_a1}").json()
    assert (filled["status"], filled["state"], filled["confirmed_kg"]) == ("open", "filled", 3000.0)
    assert buyer_a1.get(f"/v1/matches/{m1['match_id']}").json()["status"] == "confirmed"
    # the market's own orders are untouched
    assert seller_out.get(f"/v1/offers/{offer_out}").json()["status"] == "open"

    # (d) After the market-scoped session closes, its offer stays open and matches.
    stage.close(market_wide)
    assert seller_b.get(f"/v1/offers/{offer_b}").json()["status"] == "open"
    demand_out3 = _posted(buyer_out, "/v1/demands", _demand(buy_out, "2", **needs_stamps))
    [m3] = eventually(lambda: _matches(buyer_out, demand_id=demand_out3), what="after close")
    assert (m3["offer_id"], m3["quantity_kg"]) == (offer_b, 2000.0)
