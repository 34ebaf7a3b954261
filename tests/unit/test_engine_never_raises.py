"""Property-based: no schema-valid orders-topic event can make the matching engine raise
(issue 11: one poison event used to halt its market for good, as the worker retries it).

Random sequences of valid events of one market, with every term pushed to the bounds the
contracts allow (dates on 2000-01-01 and 2100-12-31, times at both ends and jumping back and
forth, amounts of 0.001 and 18 digits, prices of 0 and 10^15, the longest lists, unknown and
already decided ids, stale revisions, redeliveries), go to ``MarketBook.apply`` and through
``DurableBooks.process_batch``: nothing raises (nor is dead-lettered), the ledger's invariants
hold after every event, every output event validates and parses back from its JSON, and the
durable books, restored from their table at random points, decide exactly as the plain book.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas import events as ev
from schemas.reference import categories
from services.matcher.durable import DurableBooks
from services.matcher.engine import MarketBook, MatchConfig, Proposed
from services.matcher.outputs import output_events
from tests.factories import demand, offer
from tests.strategies import (
    BOUNDED_MOMENTS,
    EARLIEST_DAY,
    EARLIEST_MOMENT,
    LATEST_DAY,
    LATEST_MOMENT,
    MAX_DAYS,
    MAX_REVISION,
    VIETNAMESE_TEXT,
    extreme_demand_submissions,
    extreme_offer_submissions,
)

ICT = timezone(timedelta(hours=7))
MARKET = "fresh-fruit"  # the factories' category
LONGEST_ID = "L" + "x" * 127  # Identifier: at most 128 characters
# Few ids, so that orders, parties and matches meet again; "x" names an offer and a demand.
OFFER_IDS = st.sampled_from(["o1", "o:2", "x", LONGEST_ID])
DEMAND_IDS = st.sampled_from(["d1", "d.2", "x"])
SUPPLIERS = ("s1", "s2", "both")  # "both" also buys
BUYERS = ("b1", "b2", "both")
ORGS = st.sampled_from(sorted({*SUPPLIERS, *BUYERS}))
# Set by the gateway, not the client: the market's pool or a session's, cleared at once or in
# rounds, which a tick closes (every pool, or one, perhaps one nobody is in). One per scenario,
# so that its orders meet.
POOLS = st.sampled_from([None, None, "phien-2100", LONGEST_ID])
CLEARINGS = st.sampled_from(["instant", "instant", "rounds"])
ROUND_TICKS = st.fixed_dictionaries({"closes_round": st.booleans(), "round_pool": POOLS})
UNKNOWN_MATCHES = st.sampled_from([ev.derived_id("match", "nowhere", "nobody", "0"), "m1"])
TIGHT = MatchConfig(
    proposal_ttl=timedelta(minutes=30), candidate_limit=2, enough_candidates=1,
    enough_cover=1, max_proposals_per_event=3, scan_limit=3,
)  # fmt: skip
"""Tight limits, so every limit is reached and proposals expire often."""
CONFIGS = st.sampled_from([MatchConfig(), TIGHT])
ORDERS_TYPES = {ev.event_type_name(t): t for t in ev.EVENT_TYPES if t.TOPIC == ev.ORDERS}
KINDS = [*ORDERS_TYPES, "redelivered"]
ANY_KIND = st.sampled_from(KINDS)
ACCEPTING_KIND = st.sampled_from(KINDS + ["match.accepted"] * 4)
"""With proposals pending, acceptances are likelier: two on one match confirm it."""
TIME_STEPS = st.sampled_from(
    ["same", "soon", "soon", "later", "earlier", "at-expiry", "just-before-expiry", "earliest",
     "latest", "anywhere"]
)  # fmt: skip
SOON, AWHILE = st.integers(1, 600), st.integers(1, 3 * 86400)  # seconds
ZONES = st.sampled_from([UTC, ICT])  # the bound is on the instant, whatever the offset
REVISION_STEPS = st.sampled_from(["lower", "equal", "higher", "first", "highest"])
PARTIES = st.sampled_from(["buyer", "supplier", "other"])
WHICH_MATCH = st.sampled_from(["pending", "pending", "any", "unknown"])
REASONS = st.none() | VIETNAMESE_TEXT
ENVELOPE_EXTRAS = st.fixed_dictionaries(
    {"session_id": st.none() | st.just("phien-2100"),
     "correlation_id": st.none() | st.just(uuid.UUID(int=0))}
)  # fmt: skip
# Terms drawn independently rarely fit (a random century of dates, a random price ceiling...),
# so two orders in three waive their conditions, and offers and demands meet, get proposed,
# accepted, reduced and expired. Quantities, lots, dates and prices stay extreme.
LENIENT = st.sampled_from([True, True, False])
LENIENT_OFFER = {
    "ships_to": None, "excluded_buyers": [], "max_deferred_payment_days": MAX_DAYS,
    "issues_vat_invoice": True, "has_traceability_stamps": True, "lead_time_days": 0,
}  # fmt: skip
LENIENT_DEMAND = {
    "delivery_window": {"start": EARLIEST_DAY, "end": LATEST_DAY}, "payment_terms_days": 0,
    "requires_vat_invoice": False, "requires_traceability": False, "excluded_suppliers": [],
}  # fmt: skip
LENIENT_CRITERIA = {"min_ocop_stars": 0, "required_certifications": []}


class Scenario:
    """Draws valid events one at a time, picking ids from what the book holds (and some it
    never heard of), applies each to a book and keeps its outputs as JSON."""

    def __init__(self, data: st.DataObject, market: str, config: MatchConfig) -> None:
        self.draw = data.draw
        self.market = market
        self.config = config
        self.book = MarketBook(market, config)
        self.now: datetime = self.draw(BOUNDED_MOMENTS)
        self.lane = {"pool": self.draw(POOLS, label="pool"),
                     "clearing": self.draw(CLEARINGS, label="clearing")}  # fmt: skip
        self.offers = extreme_offer_submissions(market, SUPPLIERS, BUYERS)
        self.demands = extreme_demand_submissions(market, BUYERS, SUPPLIERS)
        self.events: list[Any] = []
        self.outputs: list[list[tuple[bytes, bytes]]] = []
        self.match_ids: list[str] = []
        self.decided: set[str] = set()  # outcome types seen (--hypothesis-show-statistics)

    def step(self, kind: str | None = None) -> None:
        sent = self.next_event(kind)
        outcomes = self.book.apply(sent)
        self.book.check_invariants()
        outputs = []
        for out in output_events(outcomes, sent):
            raw = out.model_dump_json()
            assert ev.parse_event(raw) == out, raw
            assert out.market_key == self.market
            outputs.append((out.kafka_key.encode(), raw.encode()))
        self.match_ids += [o.match_id for o in outcomes if isinstance(o, Proposed)]
        self.decided.update(type(o).__name__ for o in outcomes)
        self.events.append(sent)
        self.outputs.append(outputs)

    def next_event(self, kind: str | None = None) -> Any:
        draw, market = self.draw, self.market
        kind = kind or draw(ACCEPTING_KIND if self.book.matches else ANY_KIND, label="kind")
        if kind == "redelivered":
            if self.events:
                return draw(st.sampled_from(self.events), label="redelivered")
            kind = "market.tick"
        body: dict[str, Any]
        if kind in ("offer.published", "offer.updated"):
            oid = draw(OFFER_IDS, label="offer id")
            known = self.book.offers.get(oid)
            offer = {**draw(self.offers), "offer_id": oid,
                     "revision": self._revision(known and known.terms.revision),
                     **self.lane}  # fmt: skip
            if draw(LENIENT, label="lenient offer"):
                offer.update(LENIENT_OFFER)
            body = {"offer": offer}
        elif kind in ("demand.posted", "demand.updated"):
            did = draw(DEMAND_IDS, label="demand id")
            known_d = self.book.demands.get(did)
            demand = {**draw(self.demands), "demand_id": did,
                      "revision": self._revision(known_d and known_d.terms.revision),
                      **self.lane}  # fmt: skip
            if draw(LENIENT, label="lenient demand"):
                demand.update(LENIENT_DEMAND, criteria={**demand["criteria"], **LENIENT_CRITERIA})
            body = {"demand": demand}
        elif kind == "offer.withdrawn":
            body = {"offer_id": draw(OFFER_IDS), "category": market, "reason": draw(REASONS)}
        elif kind == "demand.cancelled":
            body = {"demand_id": draw(DEMAND_IDS), "category": market, "reason": draw(REASONS)}
        elif kind in ("match.accepted", "match.declined"):
            match_id = self._match_id()
            body = {"match_id": match_id, "category": market, "party": self._party(match_id),
                    "org_id": draw(ORGS)}  # fmt: skip
            if kind == "match.declined":
                body["reason"] = draw(REASONS)
        else:
            body = {"category": market, **draw(ROUND_TICKS, label="round")}
        return ORDERS_TYPES[kind].model_validate(
            {
                "event_id": uuid.UUID(int=len(self.events) + 1),
                "occurred_at": self._moment(),
                "source": "hypothesis",
                **draw(ENVELOPE_EXTRAS),
                **body,
            }
        )

    def _moment(self) -> datetime:
        """The next event's time: often a little later, sometimes much later or earlier, the
        same, at either bound, or exactly at (or just before) the moment a proposal made now
        would expire. Earlier times do not turn the market's clock back."""
        how = self.draw(TIME_STEPS, label="time step")
        now, ttl = self.now, self.config.proposal_ttl
        if how == "soon":
            now += timedelta(seconds=self.draw(SOON))
        elif how in ("later", "earlier"):
            step = timedelta(seconds=self.draw(AWHILE))
            now = now + step if how == "later" else now - step
        elif how in ("at-expiry", "just-before-expiry"):
            now += ttl if how == "at-expiry" else ttl - timedelta(microseconds=1)
        elif how == "earliest":
            now = EARLIEST_MOMENT
        elif how == "latest":
            now = LATEST_MOMENT
        elif how == "anywhere":
            now = self.draw(BOUNDED_MOMENTS)
        self.now = min(max(now, EARLIEST_MOMENT), LATEST_MOMENT)
        return self.now.astimezone(self.draw(ZONES, label="zone"))

    def _revision(self, current: int | None) -> int:
        """Relative to the book's revision of the order: an update may be stale or a repeat."""
        how = self.draw(REVISION_STEPS, label="revision")
        current = current or 1
        return {"lower": max(1, current - 1), "equal": current,
                "higher": min(MAX_REVISION, current + 1), "first": 1,
                "highest": MAX_REVISION}[how]  # fmt: skip

    def _party(self, match_id: str) -> str:
        """Either party, often the one that has not accepted yet (so matches get confirmed)."""
        party = self.draw(PARTIES, label="party")
        if party == "other":
            m = self.book.matches.get(match_id)
            party = "supplier" if m is not None and m.buyer_accepted else "buyer"
        return party

    def _match_id(self) -> str:
        """Mostly a pending match, else any proposed so far (perhaps long decided) or one never
        proposed."""
        which = self.draw(WHICH_MATCH, label="which match")
        if which == "pending" and self.book.matches:
            return self.draw(st.sampled_from(list(self.book.matches)), label="pending match")
        if which == "any" and self.match_ids:
            return self.draw(st.sampled_from(self.match_ids), label="proposed match")
        return self.draw(UNKNOWN_MATCHES, label="unknown match")


def _store(table: dict[str, Any], key: str, value: Any) -> None:
    """As the worker's table does: the value goes through JSON."""
    table[key] = json.loads(json.dumps(value))


def _feed_durable(
    data: st.DataObject, scenario: Scenario, config: MatchConfig
) -> list[list[tuple[bytes, bytes]]]:
    """The same events through DurableBooks in random batches, as the worker sends them: a
    batch may start with events already applied (a redelivery: their stored outputs come
    back), and the cached books are sometimes dropped, so the next batch restores them from
    the table (which, as the worker's, keeps what JSON keeps)."""
    table: dict[str, Any] = {}
    books = DurableBooks(table, config, write=lambda _p, key, value: _store(table, key, value))
    events = scenario.events
    outputs: list[list[tuple[bytes, bytes]]] = []
    start = 0
    while start < len(events):
        again = data.draw(st.integers(0, min(start, 3)), label="redelivered before the batch")
        size = data.draw(st.integers(1, 8), label="fresh events in the batch")
        batch = list(enumerate(events[start - again : start + size], start=start - again))
        if data.draw(st.booleans(), label="restore from the table"):
            books.invalidate()
        returned = books.process_batch(0, batch)
        for (offset, sent), result in zip(batch, returned, strict=True):
            # DurableBooks dead-letters an event the engine raised on: a failure here
            refused = [out.value for out in result if getattr(out, "dead_letter", False)]
            assert not refused, f"event {offset} ({sent.type}) was dead-lettered: {refused}"
        results = [[(out.key, out.value) for out in result] for result in returned]
        assert results[:again] == outputs[start - again : start], "redelivered, other outputs"
        if data.draw(st.booleans(), label="redeliver the whole batch"):
            assert books.process_batch(0, batch) == returned, "redelivered, other outputs"
        outputs += results[again:]
        book = books.book(scenario.market)
        assert book is not None
        book.check_invariants()
        start += size
    return outputs


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    market=st.sampled_from([c.code for c in categories()]),
    config=CONFIGS,
    length=st.integers(1, 40),
)
def test_no_valid_event_makes_the_engine_raise(data, market, config, length):
    scenario = Scenario(data, market, config)
    for _ in range(length):
        scenario.step()  # raises on any exception, broken invariant or invalid output
    scenario.step("market.tick")  # a last tick: what is due expires, a round may close
    for name in sorted(scenario.decided):
        event(name)
    durable = _feed_durable(data, scenario, config)
    for outputs in durable:
        for key, value in outputs:
            assert ev.parse_event(value).market_key == key.decode() == market
    assert durable == scenario.outputs, "the durable books decided otherwise"


def test_the_scenarios_send_every_orders_topic_event_type():
    """A new orders-topic event type must get a body in ``Scenario.next_event``."""
    assert set(ORDERS_TYPES) == {
        "offer.published", "offer.updated", "offer.withdrawn",
        "demand.posted", "demand.updated", "demand.cancelled",
        "match.accepted", "match.declined", "market.tick",
    }  # fmt: skip


# -- the poison events of issue 11, at the bounds the contracts now set ---------------------------
LAST_DAY = {"start": LATEST_DAY.isoformat(), "end": LATEST_DAY.isoformat()}


def _through_the_engine(events: list[Any]) -> list[Any]:
    """Apply ``events`` to a fresh book, checking it after each; their output events, each
    parsed back from its JSON."""
    book = MarketBook(MARKET, MatchConfig())
    outputs = []
    for sent in events:
        outcomes = book.apply(sent)
        book.check_invariants()
        outputs += [ev.parse_event(out.model_dump_json()) for out in output_events(outcomes, sent)]
    return outputs


def _at(moment: datetime, cls: type, n: int, **body: Any) -> Any:
    return cls(event_id=uuid.UUID(int=n), occurred_at=moment, source="test", **body)


def test_a_rating_and_a_lead_time_on_the_last_day():
    """Rated on 2100-12-31 (valid until 2103-12-31), ready from 2100-12-31 plus 365 days."""
    rated = {"name": "Vải thiều", "category": MARKET, "ocop_stars": 4,
             "ocop_rated_on": LATEST_DAY.isoformat()}  # fmt: skip
    late = offer("late", product=rated, available=LAST_DAY, lead_time_days=MAX_DAYS)
    ready = offer("ready", product=rated, available=LAST_DAY)
    wants_4_stars = demand(
        "d1", delivery_window=LAST_DAY, criteria={"category": MARKET, "min_ocop_stars": 4}
    )
    moment = LATEST_MOMENT - timedelta(days=2)
    outputs = _through_the_engine(
        [
            _at(moment, ev.OfferPublished, 1, offer=late),
            _at(moment, ev.OfferPublished, 2, offer=ready),
            _at(moment, ev.DemandPosted, 3, demand=wants_4_stars),
        ]
    )
    proposed = [o for o in outputs if isinstance(o, ev.MatchProposed)]
    assert [p.match.offer_id for p in proposed] == ["ready"]  # "late" misses the window
    assert proposed[0].match.score_breakdown["stars"] == 0  # 4 stars, 4 required


def test_provinces_given_as_objects():
    ha_noi = {"code": "ha-noi", "name": "Hà Nội"}
    moment = datetime(2026, 11, 27, tzinfo=UTC)
    outputs = _through_the_engine(
        [
            _at(moment, ev.OfferPublished, 1,
                offer=offer("o1", origin_province=ha_noi, ships_to=[ha_noi])),
            _at(moment, ev.DemandPosted, 2, demand=demand("d1", delivery_province=ha_noi)),
        ]
    )  # fmt: skip
    proposed = [o for o in outputs if isinstance(o, ev.MatchProposed)]
    assert len(proposed) == 1 and proposed[0].match.score_breakdown["distance"] == 25


def test_a_proposal_at_the_last_moment():
    """Its expiry (the event's time plus the proposal's lifetime) lies past 2100-12-31: the
    proposal event must still be valid, or the event that caused it is poison."""
    outputs = _through_the_engine(
        [
            _at(LATEST_MOMENT, ev.OfferPublished, 1, offer=offer("o1", available=LAST_DAY)),
            _at(LATEST_MOMENT, ev.DemandPosted, 2, demand=demand("d1", delivery_window=LAST_DAY)),
            _at(LATEST_MOMENT, ev.MarketTick, 3, category=MARKET),
        ]
    )
    proposed = [o for o in outputs if isinstance(o, ev.MatchProposed)]
    assert len(proposed) == 1
    assert proposed[0].match.expires_at == LATEST_MOMENT + MatchConfig().proposal_ttl


def test_a_round_of_the_largest_quantities():
    """10^15 t is a valid amount, 10^21 g: beyond the 64 bits a flow solver counts in. A round
    must not raise on it, nor do worse than instant matching, which proposes it whole."""
    largest = "999999999999999.999"  # tấn: the contracts' largest amount
    moment = datetime(2026, 11, 27, tzinfo=UTC)
    rounds = {"clearing": "rounds"}
    outputs = _through_the_engine(
        [
            _at(moment, ev.OfferPublished, 1, offer=offer("o1", largest, **rounds)),
            _at(moment, ev.OfferPublished, 2, offer=offer("o2", largest, **rounds)),
            _at(moment, ev.DemandPosted, 3, demand=demand("d1", largest, **rounds)),
            _at(moment, ev.MarketTick, 4, category=MARKET, closes_round=True),
        ]
    )
    proposed = [o for o in outputs if isinstance(o, ev.MatchProposed)]
    assert [p.match.quantity_kg for p in proposed] == [Decimal(largest) * 1000]
