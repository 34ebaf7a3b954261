"""The monitor's projection: a session's figures, feed, charts and stuck demands, built from the
real engine's outputs, in any order and with duplicates."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import events as ev
from schemas.organizations import Organization
from schemas.reference.units import price_per_kg
from schemas.sessions import Session
from services.matcher.engine import MarketBook, MatchConfig
from services.matcher.outputs import output_events
from services.monitor import views
from services.monitor.projection import Projection
from tests.factories import demand, offer

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
MARKET = "fresh-fruit"
SESSION = "phien-hai-phong"


class Stream:
    """Orders-topic events fed to the real engine; keeps inputs and the engine's outputs."""

    def __init__(self) -> None:
        self.book = MarketBook(MARKET, MatchConfig(proposal_ttl=timedelta(hours=1)))
        self.n = 0
        self.events: list[Any] = []
        self.outputs: list[Any] = []

    def _envelope(self, in_session: bool = True) -> dict[str, Any]:
        self.n += 1
        return {
            "event_id": uuid.UUID(int=self.n),
            "occurred_at": T0 + timedelta(minutes=self.n),
            "source": "test",
            "session_id": SESSION if in_session else None,
        }

    def add(self, cls: type, in_session: bool = True, **body: Any) -> list[Any]:
        event = cls(**self._envelope(in_session), **body)
        self.events.append(event)
        if event.TOPIC != ev.ORDERS:
            return []
        made = output_events(self.book.apply(event), event)
        self.outputs += made
        return made

    def proposed(self, made: list[Any]) -> list[ev.MatchProposed]:
        return [e for e in made if isinstance(e, ev.MatchProposed)]

    def decide(self, cls: type, match: ev.MatchProposed, party: str) -> list[Any]:
        org = match.match.buyer_id if party == "buyer" else match.match.supplier_id
        return self.add(
            cls, match_id=match.match.match_id, category=MARKET, party=party, org_id=org
        )


def offer_of(supplier_id: str, offer_id: str, amount: str, **kw: Any):
    return offer(offer_id, amount, **kw).model_copy(update={"supplier_id": supplier_id})


def demand_of(buyer_id: str, demand_id: str, amount: str, **kw: Any):
    return demand(demand_id, amount, **kw).model_copy(update={"buyer_id": buyer_id})


def scenario() -> Stream:
    """A session: three offers (one priced per tấn, one outside the session), demands that are
    confirmed, declined, left pending and one nobody can serve."""
    s = Stream()
    session = Session(
        session_id=SESSION, organizer_id="so-ct-hp", name="Kết nối Hải Phòng",
        host_province="Hải Phòng", dates={"start": "2026-12-05", "end": "2026-12-06"},
    )  # fmt: skip
    s.add(ev.SessionCreated, session=session)
    s.add(ev.SessionOpened, session=session)
    for org_id, name, kind, province in (
        ("s-bg", "HTX Vải thiều Lục Ngạn", "cooperative", "Bắc Giang"),
        ("s-sl", "HTX Xoài Sơn La", "cooperative", "Sơn La"),
        ("b-hp", "Siêu thị Hải Phòng", "supermarket-chain", "Hải Phòng"),
    ):
        org = Organization(org_id=org_id, name=name, kind=kind, province=province)
        s.add(ev.OrganizationRegistered, in_session=False, organization=org)
    s.add(ev.ParticipantRegistered, org_id="b-hp", party="buyer")
    s.add(ev.OfferPublished, offer=offer_of("s-bg", "o-bg", "8", price=40_000))
    sl = offer_of("s-sl", "o-sl", "5", unit="tấn", origin_province="Sơn La", product={
        "name": "Xoài Sơn La", "category": MARKET}, price=45_000_000, price_unit="tấn")  # fmt: skip
    s.add(ev.OfferPublished, offer=sl)
    s.add(ev.OfferPublished, in_session=False, offer=offer_of("s-x", "o-out", "2"))
    first = s.proposed(s.add(ev.DemandPosted, demand=demand_of("b-hp", "d-1", "10")))
    for match in first[:1]:
        s.decide(ev.MatchAccepted, match, "buyer")
        s.decide(ev.MatchAccepted, match, "supplier")
    for match in first[1:2]:
        s.decide(ev.MatchDeclined, match, "buyer")
    s.add(ev.DemandPosted, demand=demand_of("b-hp", "d-cheap", "4", ceiling=1_000))
    return s


def apply_all(events: list[Any]) -> Projection:
    projection = Projection()
    for event in events:
        projection.apply(event)
    return projection


def picture(projection: Projection) -> dict[str, Any]:
    board = projection.board(SESSION)
    assert board is not None
    shot = views.snapshot(projection, board)
    shot["matches"] = sorted(shot["matches"], key=lambda r: r["id"])
    return shot


def test_the_scenario_shows_every_kind_of_outcome():
    s = scenario()
    kinds = {type(e).__name__ for e in s.outputs}
    assert {"MatchProposed", "MatchConfirmed", "MatchReleased", "DemandUnmatched"} <= kinds


def test_figures_feed_and_charts_of_a_session():
    s = scenario()
    p = apply_all(s.events + s.outputs)
    shot = picture(p)
    f = shot["figures"]
    assert (f["offers"], f["offered_kg"]) == (2, 13_000.0)  # o-out is outside the session
    assert (f["demands"], f["demanded_kg"]) == (2, 14_000.0)
    proposed = [e.match for e in s.outputs if isinstance(e, ev.MatchProposed)]
    assert f["proposals"] == len(proposed)
    assert (f["accepted"], f["confirmed"], f["declined"]) == (1, 1, 1)
    confirmed = proposed[0]
    per_kg = price_per_kg(confirmed.unit_price_vnd, confirmed.price_unit)
    assert f["confirmed_kg"] == float(confirmed.quantity_kg)
    assert f["value_vnd"] == int(confirmed.quantity_kg * per_kg)
    assert f["fill_rate"] == round(float(confirmed.quantity_kg) / 14_000, 4)
    assert f["participants"] == {"buyer": 1, "supplier": 0}
    rows = {r["id"]: r for r in shot["matches"]}
    row = rows[confirmed.match_id]
    assert row["status"] == "confirmed" and row["buyer"]["name"] == "Siêu thị Hải Phòng"
    assert row["supplier"]["name"] in ("HTX Vải thiều Lục Ngạn", "HTX Xoài Sơn La")
    assert row["origin"] in ("Bắc Ninh", "Sơn La")  # Bắc Giang is part of Bắc Ninh since 2025
    origins = {b["key"]: b for b in shot["charts"]["by_origin"]}
    assert sum(b["confirmed_kg"] for b in origins.values()) == f["confirmed_kg"]
    assert sum(b["pending_kg"] for b in origins.values()) == f["pending_kg"]
    [category] = shot["charts"]["by_category"]
    assert category["label"]["vi"] and category["key"] == MARKET


def test_stuck_demands_come_oldest_first_with_the_engines_reason():
    s = scenario()
    shot = picture(apply_all(s.events + s.outputs))
    stuck = {d["id"]: d for d in shot["demands"]}
    cheap = stuck["d-cheap"]
    assert cheap["reason_code"] == "price" and "maximum price" in cheap["reason"]
    assert cheap["open_kg"] == 4000.0 and cheap["buyer"]["name"] == "Siêu thị Hải Phòng"
    times = [d["posted_at"] for d in shot["demands"]]
    assert times == sorted(times) and shot["open_demands"] == len(shot["demands"])


def test_a_filled_or_cancelled_demand_leaves_the_stuck_list():
    s = Stream()
    s.add(ev.OfferPublished, offer=offer_of("s", "o", "8"))
    [match] = s.proposed(s.add(ev.DemandPosted, demand=demand_of("b", "d", "3")))
    s.add(ev.DemandPosted, demand=demand_of("b", "gone", "3", ceiling=1_000))
    s.add(ev.DemandCancelled, demand_id="gone", category=MARKET)
    s.decide(ev.MatchAccepted, match, "buyer")
    s.decide(ev.MatchAccepted, match, "supplier")
    assert any(isinstance(e, ev.DemandFilled) for e in s.outputs)
    p = apply_all(s.events + s.outputs)
    shot = views.snapshot(p, p.board(SESSION))
    assert shot["demands"] == [] and shot["figures"]["demands"] == 1


def test_a_match_belongs_to_its_demands_session_else_its_offers():
    s = Stream()
    s.add(ev.OfferPublished, offer=offer_of("s", "o", "8"))  # in the session
    s.add(ev.DemandPosted, in_session=False, demand=demand_of("b", "d", "3"))
    p = apply_all(s.events + s.outputs)
    assert p.board(SESSION).totals["proposals"] == 1
    s2 = Stream()
    s2.add(ev.OfferPublished, in_session=False, offer=offer_of("s", "o", "8"))
    s2.add(ev.DemandPosted, in_session=False, demand=demand_of("b", "d", "3"))
    assert apply_all(s2.events + s2.outputs).board(SESSION) is None


@pytest.mark.parametrize("seed", range(20))
def test_any_interleaving_of_the_topics_gives_the_same_board(seed):
    """Kafka orders a partition, not the topics: a proposal may be read before its offer, a
    confirmation before the acceptances."""
    s = scenario()
    expected = picture(apply_all(s.events + s.outputs))
    shuffled = s.events + s.outputs
    random.Random(seed).shuffle(shuffled)
    assert picture(apply_all(shuffled)) == expected


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_duplicates_change_nothing(data):
    s = scenario()
    events = s.events + s.outputs
    expected = picture(apply_all(events))
    repeated = data.draw(st.lists(st.sampled_from(events), max_size=30))
    positions = data.draw(st.lists(st.integers(0, len(events)), min_size=len(repeated),
                                   max_size=len(repeated)))  # fmt: skip
    stream = list(events)
    for event, at in sorted(zip(repeated, positions, strict=True), key=lambda x: -x[1]):
        stream.insert(at, event)
    assert picture(apply_all(stream)) == expected


def test_an_update_carries_only_what_changed_and_clears_the_marks():
    s = scenario()
    p = apply_all(s.events + s.outputs)
    board = p.board(SESSION)
    first = views.update(p, board)
    assert len(first["matches"]) == board.totals["proposals"]
    assert not board.changed and not board.dirty_matches
    made = s.add(ev.DemandPosted, demand=demand_of("b-hp", "d-new", "1"))
    for event in [s.events[-1], *made]:
        p.apply(event)
    second = views.update(p, board)
    new = {e.match.match_id for e in made if isinstance(e, ev.MatchProposed)}
    assert new and {r["id"] for r in second["matches"]} == new
    assert "d-new" in {r["id"] for r in second["demands"]}


def test_an_update_carries_every_new_match_even_beyond_a_snapshots_rows():
    """At 400 matches/s a flush holds over 200 changed rows: none may be left out, or a page
    never shows that match (a snapshot keeps the latest FEED_ROWS; an update is all changes)."""
    s = scenario()
    p = apply_all(s.events + s.outputs)
    board = p.board(SESSION)
    views.update(p, board)
    made = s.add(ev.OfferPublished, offer=offer_of("s-bg", "o-big", "1000", price=40_000))
    for i in range(views.FEED_ROWS + 50):
        made += s.add(ev.DemandPosted, demand=demand_of("b-hp", f"d-burst-{i}", "1"))
    for event in s.events[-(views.FEED_ROWS + 51) :] + made:
        p.apply(event)
    new = {e.match.match_id for e in made if isinstance(e, ev.MatchProposed)}
    assert len(new) > views.FEED_ROWS
    assert {r["id"] for r in views.update(p, board)["matches"]} >= new
