"""Clearing rounds, end to end on the real broker, matcher, recorder and store.

Each test runs services of its own (``own_stack``: private topics and database) with its own
settings, so its rounds clear nobody else's orders and no other test's order joins a round.

- Organizer-declared rounds: the stack's ticker is off (``match_tick_seconds`` of an hour), so
  only ``POST /v1/sessions/{id}/rounds`` closes a round. Four orders arrive in the order where
  first come, first served sells half: the instant session shows it, the rounds session waits
  and then fills both demands.
- The ticker's rounds: a stack whose matcher ticks every half second and closes a round every
  second, with the market in ``KETNOI_ROUND_MARKETS``: public orders wait and are matched with
  no organizer at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ketnoi.settings import Settings
from tests.e2e.conftest import PrivateStack, own_stack
from tests.e2e.test_session_scope import Stage, _posted, _reason
from tests.factories import demand_body, offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra
MARKET = "ginseng"
AVAILABLE = {"start": "2031-03-01", "end": "2031-03-31"}
WINDOW = {"start": "2031-03-05", "end": "2031-03-25"}
STAMPED = {"has_traceability_stamps": True}
NEEDS_STAMPS = {"requires_traceability": True}


def _offer(supplier: str, amount: str, price: int, market: str = MARKET, **kw: Any) -> dict:
    product = {"name": "Sâm Ngọc Linh", "category": market}
    return offer_body(amount, category=market, price=price, supplier_id=supplier,
                      product=product, available=AVAILABLE, **kw)  # fmt: skip


def _demand(buyer: str, amount: str, market: str = MARKET, **kw: Any) -> dict:
    return demand_body(amount, category=market, buyer_id=buyer, delivery_window=WINDOW, **kw)


def _read(
    client: httpx.Client, url: str, until: Callable[[dict], bool] = bool, what: str = "recorded"
) -> dict[str, Any]:
    """The document at ``url`` once it is recorded and ``until`` holds for it."""

    def probe() -> dict[str, Any] | None:
        answer = client.get(url)
        return answer.json() if answer.status_code == 200 and until(answer.json()) else None

    return eventually(probe, what=f"{url} {what}")


def _pairs(client: httpx.Client, session_id: str) -> set[tuple[str, str, float]]:
    items = client.get("/v1/matches", params={"session_id": session_id}).json()["items"]
    return {(m["offer_id"], m["demand_id"], m["quantity_kg"]) for m in items}


class Clients:
    """HTTP clients of a private stack's gateway, one per API key, closed together."""

    def __init__(self, stack: PrivateStack) -> None:
        self.url, self.open = stack.services.settings.gateway_url, []

    def __call__(self, key: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=10.0,
                              headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        self.open.append(client)
        return client

    def close(self) -> None:
        for client in self.open:
            client.close()


@pytest.fixture(scope="module")
def organizer_rounds(infra: Settings) -> Iterator[tuple[PrivateStack, Clients]]:
    """The whole stack, ticker off, and `tea` a public market that clears in rounds."""
    with own_stack(infra, match_tick_seconds=3600.0, round_markets=("tea",)) as stack:
        clients = Clients(stack)
        try:
            yield stack, clients
        finally:
            clients.close()


def test_an_organizer_round_fills_what_first_come_leaves_unsold(organizer_rounds):
    stack, client_for = organizer_rounds
    stage = Stage(stack.api, stack.issue_key, client_for)
    orgs = {name: stage.org(name, kind)
            for name, kind in [("htx-x", "cooperative"), ("htx-y", "cooperative"),
                               ("sieu-thi-a", "supermarket-chain"),
                               ("sieu-thi-b", "supermarket-chain")]}  # fmt: skip
    parties = {org_id: ("supplier" if name.startswith("htx") else "buyer")
               for name, (org_id, _) in orgs.items()}  # fmt: skip
    (sup_x, seller_x), (sup_y, seller_y) = orgs["htx-x"], orgs["htx-y"]
    (buy_a, buyer_a), (buy_b, buyer_b) = orgs["sieu-thi-a"], orgs["sieu-thi-b"]

    # Rounds need the session's own pool: the 422 names the field.
    refused = stage.organizer.post("/v1/sessions", json={
        "name": "Phiên vòng", "host_province": "Hải Phòng", "scope": "market",
        "dates": {"start": "2031-03-01", "end": "2031-03-02"}, "clearing": "rounds"})  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert "clearing" in refused.json()["detail"]

    instant = stage.session("session", parties)
    rounds = stage.session("session", parties, clearing="rounds")
    assert stage.organizer.get(f"/v1/sessions/{rounds}").json()["clearing"] == "rounds"
    assert stage.organizer.get(f"/v1/sessions/{instant}").json()["clearing"] == "instant"

    def four_orders(session_id: str) -> dict[str, str]:
        """X (stamped, dearer), then A (takes either), then Y (cheaper, no stamps), then B
        (needs stamps): first come, A takes X, the only offer there, and B finds nothing."""
        return {
            "X": _posted(
                seller_x, "/v1/offers", _offer(sup_x, "10", 60_000, **STAMPED), session_id
            ),
            "A": _posted(buyer_a, "/v1/demands", _demand(buy_a, "10"), session_id),
            "Y": _posted(seller_y, "/v1/offers", _offer(sup_y, "10", 40_000), session_id),
            "B": _posted(buyer_b, "/v1/demands", _demand(buy_b, "10", **NEEDS_STAMPS), session_id),
        }

    # First come, first served (the instant session): half the volume is sold.
    first = four_orders(instant)
    eventually(lambda: _reason(buyer_b, first["B"]), what="B judged in the instant session")
    assert _pairs(stage.organizer, instant) == {(first["X"], first["A"], 10_000.0)}

    # The rounds session: the same orders wait. B's reason says the matcher took in B, the
    # last of them (one market, one partition, in order): nothing was proposed on arrival.
    ids = four_orders(rounds)
    eventually(lambda: _reason(buyer_b, ids["B"]), what="B judged in the rounds session")
    reason = _reason(buyer_a, ids["A"]) or ""  # X fits A and waits with it
    assert reason.startswith("round: "), reason
    assert _pairs(stage.organizer, rounds) == set()
    for client, path in [
        (seller_x, f"/v1/offers/{ids['X']}"),
        (buyer_a, f"/v1/demands/{ids['A']}"),
    ]:
        doc = _read(client, path)
        assert (doc["clearing"], doc["pool"]) == ("rounds", rounds)
    # A client cannot choose the mode: the field is not part of a submission.
    chosen = seller_y.post("/v1/offers", json={**_offer(sup_y, "1", 40_000), "clearing": "instant"},
                           params={"session_id": rounds})  # fmt: skip
    assert chosen.status_code == 422, chosen.text
    assert [e["path"] for e in chosen.json()["errors"]] == ["clearing"]

    # Only the organizer (or the admin) closes a round, and only of a rounds session.
    assert buyer_a.post(f"/v1/sessions/{rounds}/rounds").status_code == 403
    not_rounds = stage.organizer.post(f"/v1/sessions/{instant}/rounds")
    assert not_rounds.status_code == 409, not_rounds.text
    assert "clearing 'instant'" in not_rounds.json()["detail"]

    closed = stage.organizer.post(f"/v1/sessions/{rounds}/rounds")
    assert closed.status_code == 202, closed.text
    answer = closed.json()
    assert (answer["session_id"], answer["markets"]) == (rounds, [MARKET])
    assert len(answer["event_ids"]) == 1
    expected = {(ids["Y"], ids["A"], 10_000.0), (ids["X"], ids["B"], 10_000.0)}
    eventually(lambda: len(_pairs(stage.organizer, rounds)) >= 2, what="the round's proposals")
    assert _pairs(stage.organizer, rounds) == expected
    for client, demand_id in [(buyer_a, ids["A"]), (buyer_b, ids["B"])]:
        doc = _read(client, f"/v1/demands/{demand_id}", lambda d: d["reserved_kg"] == 10_000.0,
                    "reserved in full")  # fmt: skip
        assert doc["open_kg"] == 0.0

    # An order posted after the round keeps its mode through an update, and waits.
    late = _posted(seller_y, "/v1/offers", _offer(sup_y, "5", 45_000), rounds)
    _read(seller_y, f"/v1/offers/{late}")
    changed = seller_y.put(f"/v1/offers/{late}", json=_offer(sup_y, "5", 42_000))
    assert changed.status_code == 202, changed.text
    updated = _read(seller_y, f"/v1/offers/{late}", lambda d: d["revision"] == 2, "updated")
    assert (updated["clearing"], updated["pool"]) == ("rounds", rounds)
    assert updated["unit_price_vnd"] == 42_000


def test_public_orders_of_a_round_market_clear_in_rounds_single_and_bulk(organizer_rounds):
    """`tea` is in KETNOI_ROUND_MARKETS on this stack; ginseng is not."""
    stack, _ = organizer_rounds
    supplier = f"htx-che-{uuid.uuid4().hex[:6]}"
    tea = _offer(supplier, "2", 300_000, market="tea")
    one = _posted(stack.api, "/v1/offers", tea)
    plain = _posted(stack.api, "/v1/offers", _offer(supplier, "2", 300_000))
    many = stack.api.post("/v1/demands:bulk", json={"items": [
        _demand("sieu-thi-tra", "1", market="tea"), _demand("sieu-thi-tra", "1")]})  # fmt: skip
    assert many.status_code == 202, many.text
    tea_demand, plain_demand = [r["id"] for r in many.json()["results"]]
    for path, clearing in [(f"/v1/offers/{one}", "rounds"), (f"/v1/offers/{plain}", "instant"),
                           (f"/v1/demands/{tea_demand}", "rounds"),
                           (f"/v1/demands/{plain_demand}", "instant")]:  # fmt: skip
        doc = _read(stack.api, path)
        assert (doc["clearing"], doc.get("pool")) == (clearing, None), path


@pytest.fixture(scope="module")
def ticking_rounds(infra: Settings) -> Iterator[PrivateStack]:
    """Ticks every half second, a round every second, ginseng clearing in rounds."""
    overrides = {"match_tick_seconds": 0.5, "round_seconds": 1.0, "round_markets": (MARKET,)}
    with own_stack(infra, **overrides) as stack:
        yield stack


def test_the_matchers_ticker_closes_rounds_on_its_own(ticking_rounds):
    api = ticking_rounds.api
    offer = _posted(api, "/v1/offers", _offer("htx-sam-tu-dong", "3", 50_000))
    demand = _posted(api, "/v1/demands", _demand("sieu-thi-tu-dong", "2"))
    for path in (f"/v1/offers/{offer}", f"/v1/demands/{demand}"):
        assert _read(api, path)["clearing"] == "rounds"
    [match] = eventually(
        lambda: api.get("/v1/matches", params={"demand_id": demand}).json()["items"],
        what="a proposal from a ticker's round",
    )
    assert (match["offer_id"], match["quantity_kg"], match["status"]) == (offer, 2000.0, "proposed")
