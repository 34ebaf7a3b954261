"""Property-based: random event sequences in one market keep the ledger sound, replay
identically, and survive drain/restore at any point."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import events as ev
from services.matcher.engine import Expired, MarketBook, MatchConfig, Proposed, Released
from services.matcher.engine.constraints import failures
from tests.factories import demand, offer, window
from tests.unit.test_engine_support import MARKET, Feed

CONFIG = MatchConfig(
    proposal_ttl=timedelta(hours=2), candidate_limit=4, scan_limit=8, reasons_per_tick=2
)
POOLS = st.sampled_from([None, None, "s1", "s2"])  # the market, or a session-scoped session
CLEARINGS = st.sampled_from(["instant", "rounds"])  # rounds: only a round matches it
MODES = st.sampled_from(["instant", "rounds", "mixed"])  # every order's clearing, or as drawn

OFFER_TERMS = st.fixed_dictionaries(
    {
        "amount": st.sampled_from(["1", "2", "3", "5", "8"]),
        "price": st.sampled_from([40_000, 50_000, 60_000]),
        "ships_to": st.sampled_from([None, ["Hải Phòng"], ["Hà Nội"], ["Hải Dương", "Hà Nội"]]),
        "available": st.sampled_from([window(), window(), window(0, 5), window(25, 60)]),
        "min_order": st.sampled_from([None, {"amount": "1", "unit": "tấn"}]),
        "issues_vat_invoice": st.sampled_from([True, True, False]),
        "origin_province": st.sampled_from(["Bắc Giang", "Sơn La", "Cà Mau"]),
        "pool": POOLS,
        "clearing": CLEARINGS,
    }
)
DEMAND_TERMS = st.fixed_dictionaries(
    {
        "amount": st.sampled_from(["1", "2", "4", "6", "10"]),
        "ceiling": st.sampled_from([None, 45_000, 55_000]),
        "delivery_province": st.sampled_from(["Hải Phòng", "Hà Nội"]),
        "accepts_partial": st.booleans(),
        "requires_vat_invoice": st.sampled_from([False, False, True]),
        "min_lot": st.sampled_from([None, {"amount": "1", "unit": "tấn"}]),
        "pool": POOLS,
        "clearing": CLEARINGS,
    }
)
IDS = st.integers(0, 5)
MINUTES = st.integers(1, 90)
OPS = st.one_of(
    st.tuples(st.just("offer"), IDS, OFFER_TERMS, MINUTES),
    st.tuples(st.just("update_offer"), IDS, OFFER_TERMS, MINUTES, st.integers(0, 2)),
    st.tuples(st.just("withdraw"), IDS, MINUTES),
    st.tuples(st.just("demand"), IDS, DEMAND_TERMS, MINUTES),
    st.tuples(st.just("update_demand"), IDS, DEMAND_TERMS, MINUTES, st.integers(0, 2)),
    st.tuples(st.just("cancel"), IDS, MINUTES),
    st.tuples(st.just("accept"), st.integers(0, 50), st.sampled_from(["buyer", "supplier"])),
    st.tuples(st.just("confirm"), st.integers(0, 50)),
    st.tuples(st.just("confirm"), st.integers(0, 50)),
    st.tuples(st.just("decline"), st.integers(0, 50), st.sampled_from(["buyer", "supplier"])),
    st.tuples(
        st.just("decline-pending"), st.integers(0, 50), st.sampled_from(["buyer", "supplier"])
    ),
    st.tuples(st.just("tick"), st.integers(10, 300)),
    st.tuples(st.just("round"), st.integers(0, 300), POOLS),  # closes a round: all, or a pool
    st.tuples(st.just("again"), st.integers(0, 50)),
)


class Builder:
    """Turns abstract ops into concrete events, resolving match ids from what was proposed."""

    def __init__(self, mode: str = "mixed") -> None:
        self.mode = mode  # "instant" or "rounds": every order's clearing; "mixed": as drawn
        self.feed = Feed(CONFIG)
        self.revisions: dict[str, int] = {}
        self.proposed: list[str] = []

    def build(self, op: tuple) -> list[Any]:
        """Usually one event; "confirm" is both parties accepting a pending proposal."""
        pending = list(self.feed.book.matches)
        if op[0] == "confirm" and pending:
            match_id = pending[op[1] % len(pending)]
            return [
                self.feed.event(
                    ev.MatchAccepted, match_id=match_id, category=MARKET, party=p, org_id="x"
                )
                for p in ("buyer", "supplier")
            ]
        if op[0] == "decline-pending" and pending:
            match_id = pending[op[1] % len(pending)]
            return [
                self.feed.event(
                    ev.MatchDeclined, match_id=match_id, category=MARKET, party=op[2], org_id="x"
                )
            ]
        return [self._one(op)]

    def _one(self, op: tuple) -> Any:
        kind, feed = op[0], self.feed
        if kind in ("offer", "update_offer"):
            terms = self._terms(op[2])
            oid = f"o{op[1]}"
            rev = self._revision(oid, op[4] if kind == "update_offer" else None)
            body = offer(oid, terms.pop("amount"), revision=rev, **terms)
            cls = ev.OfferPublished if kind == "offer" else ev.OfferUpdated
            return feed.event(cls, timedelta(minutes=op[3]), offer=body)
        if kind in ("demand", "update_demand"):
            terms = self._terms(op[2])
            did = f"d{op[1]}"
            rev = self._revision(did, op[4] if kind == "update_demand" else None)
            body = demand(did, terms.pop("amount"), revision=rev, **terms)
            cls = ev.DemandPosted if kind == "demand" else ev.DemandUpdated
            return feed.event(cls, timedelta(minutes=op[3]), demand=body)
        if kind == "withdraw":
            return feed.event(
                ev.OfferWithdrawn, timedelta(minutes=op[2]), offer_id=f"o{op[1]}", category=MARKET
            )
        if kind == "cancel":
            return feed.event(
                ev.DemandCancelled, timedelta(minutes=op[2]), demand_id=f"d{op[1]}",
                category=MARKET,
            )  # fmt: skip
        if kind in ("accept", "decline") and self.proposed:
            match_id = self.proposed[-1 - op[1] % len(self.proposed)]  # recent ones mostly
            cls = ev.MatchAccepted if kind == "accept" else ev.MatchDeclined
            return feed.event(cls, match_id=match_id, category=MARKET, party=op[2], org_id="x")
        if kind == "again" and feed.events:
            return feed.events[op[1] % len(feed.events)]
        if kind == "round":
            return feed.event(ev.MarketTick, timedelta(minutes=op[1]), category=MARKET,
                              closes_round=True, round_pool=op[2])  # fmt: skip
        return feed.event(ev.MarketTick, timedelta(minutes=op[1] if kind == "tick" else 5),
                          category=MARKET)  # fmt: skip

    def _terms(self, drawn: dict[str, Any]) -> dict[str, Any]:
        return drawn if self.mode == "mixed" else {**drawn, "clearing": self.mode}

    def _revision(self, key: str, delta: int | None) -> int:
        current = self.revisions.get(key, 0)
        rev = max(1, current + (1 if delta is None else delta))
        self.revisions[key] = max(current, rev)
        return rev


def store(changes: dict[str, Any], table: dict[str, Any]) -> None:
    """As the wiring does: one table entry per record, None deletes it."""
    for key, record in changes.items():
        if record is None:
            table.pop(key, None)
        else:
            table[key] = json.loads(json.dumps(record))


def _unknown_target(book: MarketBook, event: Any) -> bool:
    if isinstance(event, ev.OfferWithdrawn):
        return event.offer_id not in book.offers
    if isinstance(event, ev.DemandCancelled):
        return event.demand_id not in book.demands
    return False


def check_proposal(book: MarketBook, p: Proposed) -> None:
    o, d = book.offers[p.offer_id], book.demands[p.demand_id]
    failed = failures(o.terms, d.terms, p.quantity_kg, p.quantity_kg)
    assert failed == [], (p, failed)  # judged on the proposal's own quantity
    assert p.quantity_kg > 0
    assert abs(p.score - sum(p.breakdown.values())) < 1e-6


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=10, max_size=60), every=st.integers(1, 6), mode=MODES)
def test_random_sequences_keep_invariants_replay_and_restore_identically(ops, every, mode):
    builder = Builder(mode)
    if mode != "instant":
        ops = [*ops, ("round", 5, None)]  # a last round: rounds orders that fit do meet
    book = builder.feed.book
    table: dict[str, Any] = {}
    seen_ids: set[str] = set()
    blocked: set[tuple[str, str]] = set()
    outcomes: list[list[Any]] = []
    premature: set[Any] = set()  # withdrawals/cancellations sent before their order existed
    for event in (event for op in ops for event in builder.build(op)):
        is_duplicate = event in builder.feed.events
        if not is_duplicate and _unknown_target(book, event):
            # It does nothing now; delivered again once the order exists, it takes effect
            # (which is what it asks for), so it is exempt from the duplicate check below.
            premature.add(event.event_id)
        result = builder.feed.send(event)  # checks the invariants
        changes = book.drain_changes()
        if is_duplicate and event.event_id not in premature:
            assert result == [], "a duplicate changed the outcome"
            assert changes == {}, "a duplicate changed the book"
        store(changes, table)
        # A proposal is judged on the terms at the end of its event, unless that event also
        # ended it (an update that no longer fits releases it: "offer-changed").
        ended = {o.match_id for o in result if isinstance(o, Released | Expired)}
        for outcome in result:
            pair = (outcome.offer_id, outcome.demand_id) if hasattr(outcome, "offer_id") else None
            if isinstance(outcome, Proposed):
                assert outcome.match_id not in seen_ids, "a match id was proposed twice"
                assert pair not in blocked, "a declined or expired pair was proposed again"
                seen_ids.add(outcome.match_id)
                builder.proposed.append(outcome.match_id)
                if outcome.match_id not in ended:
                    check_proposal(book, outcome)
            elif isinstance(outcome, Expired) or (
                isinstance(outcome, Released) and outcome.reason == "declined"
            ):
                blocked.add(pair)
        outcomes.append(result)
    assert table == dict(book.records()), "drained changes do not add up to the book"

    replay = MarketBook(MARKET, CONFIG)
    assert [replay.apply(event) for event in builder.feed.events] == outcomes

    resumed = MarketBook(MARKET, CONFIG)
    stored: dict[str, Any] = {}
    for i, event in enumerate(builder.feed.events):
        assert resumed.apply(event) == outcomes[i], f"diverged after a restore, event {i}"
        store(resumed.drain_changes(), stored)
        if (i + 1) % every == 0:
            resumed = MarketBook.restore(MARKET, stored.items(), CONFIG)
            resumed.check_invariants()
    assert dict(resumed.records()) == dict(book.records())
