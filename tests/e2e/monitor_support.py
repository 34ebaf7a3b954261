"""A trade-connection session to watch, and a small server-sent-events reader for the tests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories import demand_body, offer_body
from tests.support import eventually

PRODUCTS = {
    # Markets no other e2e test trades in: all tests share the run's topics and matcher, and a
    # demand here must not be matched with another test's offer.
    "meat-products": "Giò lụa Ước Lễ",
    "handicrafts-bamboo-rattan": "Mây tre đan Phú Vinh",
    "ornamental-plants": "Đào cảnh Nhật Tân",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class WatchedSession:
    """An open session with one supplier and one buyer registered, and clients acting for each."""

    session_id: str
    market: str
    organizer_id: str
    organizer_key: str
    organizer: httpx.Client
    supplier_id: str
    seller: httpx.Client
    buyer_id: str
    retailer: httpx.Client
    posted: list[str] = field(default_factory=list)

    @property
    def product(self) -> str:
        return PRODUCTS[self.market]

    @property
    def supplier_name(self) -> str:
        return f"HTX {self.product}"

    def post_offer(self, **overrides: Any) -> str:
        body = offer_body(
            supplier_id=self.supplier_id,
            origin_province="Bắc Giang",
            product={"name": self.product, "category": self.market},
            **overrides,
        )
        response = self.seller.post("/v1/offers", params={"session_id": self.session_id}, json=body)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def post_demand(self, **overrides: Any) -> str:
        body = demand_body(
            buyer_id=self.buyer_id, category=self.market, **{"ceiling": 60_000, **overrides}
        )
        response = self.retailer.post(
            "/v1/demands", params={"session_id": self.session_id}, json=body
        )
        assert response.status_code == 202, response.text
        return response.json()["id"]


def open_session(
    api: httpx.Client,
    issue_key: Callable[..., str],
    client_for: Callable[[str], httpx.Client],
    market: str,
) -> WatchedSession:
    organizer_id = unique("so-cong-thuong-hai-phong")
    supplier_id, buyer_id = unique("htx-vai-luc-ngan"), unique("sieu-thi-hai-phong")
    key = issue_key(organizer_id, "organizer")
    organizer = client_for(key)
    orgs = [
        (organizer_id, "Sở Công Thương Hải Phòng", "organizer", "Hải Phòng"),
        (supplier_id, f"HTX {PRODUCTS[market]}", "cooperative", "Bắc Giang"),
        (buyer_id, "Siêu thị Hải Phòng", "supermarket-chain", "Hải Phòng"),
    ]
    for org_id, name, kind, province in orgs:
        body = {"org_id": org_id, "name": name, "kind": kind, "province": province}
        assert api.post("/v1/organizations", json=body).status_code == 202
    created = organizer.post(
        "/v1/sessions",
        json={
            "name": "Kết nối cung cầu Hải Phòng 2026",
            "host_province": "Hải Phòng",
            "dates": {"start": "2026-12-05", "end": "2026-12-06"},
            "venue": "Trung tâm Hội nghị Thành phố",
            "invited_provinces": ["Bắc Ninh"],  # Bắc Giang merged into Bắc Ninh in 2025
        },
    )
    assert created.status_code == 202, created.text
    session_id, url = created.json()["id"], created.json()["status_url"]
    eventually(lambda: organizer.get(url).status_code == 200, what="the session recorded")
    eventually(
        lambda: all(api.get(f"/v1/organizations/{o[0]}").status_code == 200 for o in orgs),
        what="the organizations recorded",
    )
    for org_id, party in ((supplier_id, "supplier"), (buyer_id, "buyer")):
        joined = organizer.post(f"{url}/participants", json={"org_id": org_id, "party": party})
        assert joined.status_code == 202, joined.text
    assert organizer.post(f"{url}/open").status_code == 202
    eventually(lambda: organizer.get(url).json()["status"] == "open", what="the session open")
    return WatchedSession(
        session_id=session_id,
        market=market,
        organizer_id=organizer_id,
        organizer_key=key,
        organizer=organizer,
        supplier_id=supplier_id,
        seller=client_for(issue_key(supplier_id, "supplier")),
        buyer_id=buyer_id,
        retailer=client_for(issue_key(buyer_id, "retailer")),
    )


@dataclass
class Sse:
    event: str
    id: str | None
    data: dict[str, Any]


def sse_events(response: httpx.Response) -> Iterator[Sse]:
    """Parse a text/event-stream response into events (comments and retry lines skipped)."""
    event, event_id, data = "message", None, []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield Sse(event, event_id, json.loads("\n".join(data)))
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "id":
            event_id = value
        elif name == "data":
            data.append(value)


def read_until(
    events: Iterator[Sse], done: Callable[[list[Sse]], bool], timeout: float, what: str
) -> list[Sse]:
    """Events until ``done`` holds for what was read; fails at the deadline. A stream without
    traffic still sends a keep-alive, and the client's read timeout bounds every wait."""
    seen: list[Sse] = []
    deadline = time.monotonic() + timeout
    for sse in events:
        seen.append(sse)
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no {what} within {timeout:.0f}s; got {[s.event for s in seen]}")


def rows_of(events: list[Sse]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for sse in events:
        for row in sse.data.get("matches", []):
            rows[row["id"]] = row
    return rows
