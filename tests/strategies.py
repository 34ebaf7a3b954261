"""Hypothesis strategies for every event, drawn from the real reference data."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from schemas import events as ev
from schemas.organizations import OrganizationKind
from schemas.reference import (
    Certification,
    categories,
    current_provinces,
    legacy_province_names,
)

IDS = st.from_regex(r"[a-z0-9][a-z0-9._:-]{0,20}", fullmatch=True)
PROVINCE_INPUTS = st.sampled_from(
    [p.name for p in current_provinces()]
    + legacy_province_names()
    + ["tinh dak nong", "TP. HCM", "Ha Noi", "thanh pho hai phong"]
)
CATEGORIES = st.sampled_from([c.code for c in categories()])
WEIGHT_UNITS = st.sampled_from(["kg", "tấn", "tạ", "yến", "g", "tan", "ta", "yen"])
TEXT = st.text(
    alphabet=st.characters(categories=["L", "N", "Zs"], max_codepoint=0x1EFF),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())
VIETNAMESE_TEXT = st.one_of(
    TEXT,
    st.sampled_from(["Cà phê Robusta", "Miến dong", "Vải thiều Lục Ngạn", "Chè Shan Tuyết"]).map(
        lambda s: unicodedata.normalize("NFD", s)  # arrives decomposed, must come out NFC
    ),
)
DATES = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
AMOUNTS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3)
VND = st.integers(min_value=0, max_value=10**9)
DAYS = st.integers(min_value=0, max_value=365)
CERTS = st.lists(st.sampled_from(list(Certification)), max_size=3)


@st.composite
def windows(draw) -> dict:
    start = draw(DATES)
    return {"start": start, "end": start + timedelta(days=draw(st.integers(0, 120)))}


@st.composite
def quantities(draw) -> dict:
    return {"amount": draw(AMOUNTS), "unit": draw(WEIGHT_UNITS)}


@st.composite
def products(draw) -> dict:
    stars = draw(st.integers(0, 5))
    return {
        "name": draw(VIETNAMESE_TEXT),
        "category": draw(CATEGORIES),
        "ocop_stars": stars,
        "ocop_rated_on": draw(DATES) if stars else draw(st.none() | DATES),
        "certifications": draw(CERTS),
    }


@st.composite
def offers(draw) -> dict:
    quantity = draw(quantities())
    return {
        "offer_id": draw(IDS),
        "revision": draw(st.integers(1, 50)),
        "supplier_id": draw(IDS),
        "product": draw(products()),
        "origin_province": draw(PROVINCE_INPUTS),
        "quantity": quantity,
        "unit_price_vnd": draw(VND),
        "price_unit": draw(WEIGHT_UNITS),
        "min_order": draw(st.none() | st.just(quantity)),
        "available": draw(windows()),
        "ships_to": draw(st.none() | st.lists(PROVINCE_INPUTS, min_size=1, max_size=4)),
        "lead_time_days": draw(DAYS),
        "max_deferred_payment_days": draw(DAYS),
        "issues_vat_invoice": draw(st.booleans()),
        "has_traceability_stamps": draw(st.booleans()),
        "excluded_buyers": draw(st.lists(IDS, max_size=2)),
    }


@st.composite
def demands(draw) -> dict:
    return {
        "demand_id": draw(IDS),
        "revision": draw(st.integers(1, 50)),
        "buyer_id": draw(IDS),
        "criteria": {
            "category": draw(CATEGORIES),
            "keywords": draw(st.lists(VIETNAMESE_TEXT, max_size=3)),
            "min_ocop_stars": draw(st.integers(0, 5)),
            "required_certifications": draw(CERTS),
        },
        "quantity": (quantity := draw(quantities())),
        "max_unit_price_vnd": draw(st.none() | VND),
        "price_unit": draw(WEIGHT_UNITS),
        "delivery_province": draw(PROVINCE_INPUTS),
        "delivery_window": draw(windows()),
        "payment_terms_days": draw(DAYS),
        "requires_vat_invoice": draw(st.booleans()),
        "requires_traceability": draw(st.booleans()),
        "accepts_partial": draw(st.booleans()),
        "min_lot": draw(st.none() | st.just(quantity)),
        "excluded_suppliers": draw(st.lists(IDS, max_size=2)),
    }


@st.composite
def matches(draw) -> dict:
    return {
        "match_id": draw(IDS), "offer_id": draw(IDS), "demand_id": draw(IDS),
        "supplier_id": draw(IDS), "buyer_id": draw(IDS), "category": draw(CATEGORIES),
        "quantity_kg": draw(AMOUNTS), "unit_price_vnd": draw(VND),
        "score": draw(st.none() | st.floats(0, 100)),
        "expires_at": draw(st.none() | MOMENTS),
    }  # fmt: skip


PARTIES = st.sampled_from(["buyer", "supplier"])
SLOTS = st.integers(0, 47)


@st.composite
def meeting_plans(draw) -> dict:
    """Slots in time order without overlap (5 minutes to 4 hours each), and 1-500 tables."""
    start = draw(MOMENTS)
    slots = []
    for _ in range(draw(st.integers(1, 6))):
        end = start + timedelta(minutes=draw(st.integers(5, 240)))
        slots.append({"start": start, "end": end})
        start = end + timedelta(minutes=draw(st.integers(0, 60)))
    return {"slots": slots, "tables": draw(st.integers(1, 500))}


@st.composite
def outcome_statements(draw) -> dict:
    kind = draw(st.sampled_from(["no_deal", "mou", "contract"]))
    if kind == "no_deal":
        return {"kind": kind}
    contract = kind == "contract"
    return {
        "kind": kind,
        "volume": draw(quantities()) if contract else draw(st.none() | quantities()),
        "value_vnd": draw(st.integers(1, 10**9)) if contract else draw(st.none() | VND),
        "delivery": draw(windows()) if contract else draw(st.none() | windows()),
    }


def _envelope(draw) -> dict:
    return {
        "event_id": uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        "occurred_at": draw(MOMENTS),
        "source": draw(IDS),
        "session_id": draw(st.none() | IDS),
        "correlation_id": draw(st.none() | st.uuids()),
    }


_BODIES = {
    ev.OfferPublished: lambda d: {"offer": d(offers())},
    ev.OfferUpdated: lambda d: {"offer": d(offers())},
    ev.OfferWithdrawn: lambda d: {"offer_id": d(IDS), "category": d(CATEGORIES),
                                  "reason": d(st.none() | VIETNAMESE_TEXT)},
    ev.DemandPosted: lambda d: {"demand": d(demands())},
    ev.DemandUpdated: lambda d: {"demand": d(demands())},
    ev.DemandCancelled: lambda d: {"demand_id": d(IDS), "category": d(CATEGORIES),
                                   "reason": d(st.none() | VIETNAMESE_TEXT)},
    ev.MatchAccepted: lambda d: {"match_id": d(IDS), "category": d(CATEGORIES),
                                 "party": d(st.sampled_from(["buyer", "supplier"])),
                                 "org_id": d(IDS)},
    ev.MatchDeclined: lambda d: {"match_id": d(IDS), "category": d(CATEGORIES),
                                 "party": d(st.sampled_from(["buyer", "supplier"])),
                                 "org_id": d(IDS), "reason": d(st.none() | VIETNAMESE_TEXT)},
    ev.MatchProposed: lambda d: {"match": d(matches())},
    ev.MatchConfirmed: lambda d: {"match_id": d(IDS), "category": d(CATEGORIES),
                                  "offer_id": d(IDS), "demand_id": d(IDS),
                                  "quantity_kg": d(AMOUNTS)},
    ev.MatchExpired: lambda d: {"match_id": d(IDS), "category": d(CATEGORIES),
                                "offer_id": d(IDS), "demand_id": d(IDS),
                                "quantity_kg": d(AMOUNTS)},
    ev.DemandUnmatched: lambda d: {"demand_id": d(IDS), "category": d(CATEGORIES),
                                   "open_kg": d(AMOUNTS), "reason": d(VIETNAMESE_TEXT)},
    ev.SessionOpened: lambda d: {"session": {
        "session_id": d(IDS), "organizer_id": d(IDS), "name": d(VIETNAMESE_TEXT),
        "host_province": d(PROVINCE_INPUTS), "dates": d(windows()),
        "venue": d(st.none() | VIETNAMESE_TEXT),
        "invited_provinces": d(st.lists(PROVINCE_INPUTS, max_size=5))}},
    ev.SessionClosed: lambda d: {"session_id": d(IDS)},
    ev.SessionCreated: lambda d: {"session": {
        "session_id": d(IDS), "organizer_id": d(IDS), "name": d(VIETNAMESE_TEXT),
        "host_province": d(PROVINCE_INPUTS), "dates": d(windows()),
        "venue": d(st.none() | VIETNAMESE_TEXT),
        "invited_provinces": d(st.lists(PROVINCE_INPUTS, max_size=5))}},
    ev.ParticipantRegistered: lambda d: {"org_id": d(IDS),
                                         "party": d(st.sampled_from(["buyer", "supplier"]))},
    ev.OrganizationRegistered: lambda d: {"organization": {
        "org_id": d(IDS), "name": d(VIETNAMESE_TEXT),
        "kind": d(st.sampled_from(list(OrganizationKind))),
        "province": d(PROVINCE_INPUTS),
        "tax_code": d(st.none() | st.from_regex(r"\d{10}", fullmatch=True))}},
    ev.MarketTick: lambda d: {"category": d(CATEGORIES)},
    ev.MatchReleased: lambda d: {"match_id": d(IDS), "category": d(CATEGORIES),
                                 "offer_id": d(IDS), "demand_id": d(IDS),
                                 "quantity_kg": d(AMOUNTS),
                                 "reason": d(st.sampled_from(["declined", "offer-withdrawn",
                                                              "demand-cancelled",
                                                              "offer-reduced"]))},
    ev.DemandFilled: lambda d: {"demand_id": d(IDS), "category": d(CATEGORIES),
                                "filled_kg": d(AMOUNTS)},
    ev.MeetingPlanSet: lambda d: {"plan": d(meeting_plans())},
    ev.AvailabilitySet: lambda d: {"org_id": d(IDS), "party": d(PARTIES),
                                   "unavailable_slots": d(st.lists(SLOTS, max_size=48))},
    ev.MeetingRequested: lambda d: {"meeting_id": d(IDS), "buyer_id": d(IDS),
                                    "supplier_id": d(IDS),
                                    "requested_by": d(st.lists(IDS, min_size=1, max_size=2))},
    ev.MeetingScheduled: lambda d: {"meeting_id": d(IDS), "buyer_id": d(IDS),
                                    "supplier_id": d(IDS), "slot": d(SLOTS),
                                    "table": d(st.integers(1, 500)), "starts_at": d(MOMENTS),
                                    "ends_at": d(MOMENTS),
                                    "match_ids": d(st.lists(IDS, max_size=3)),
                                    "requested_by": d(st.lists(IDS, max_size=2)),
                                    "category": d(st.none() | CATEGORIES)},
    ev.MeetingCancelled: lambda d: {"meeting_id": d(IDS), "org_id": d(IDS), "party": d(PARTIES),
                                    "reason": d(st.none() | VIETNAMESE_TEXT)},
    ev.OutcomeStated: lambda d: {"meeting_id": d(IDS), "buyer_id": d(IDS), "supplier_id": d(IDS),
                                 "category": d(st.none() | CATEGORIES), "party": d(PARTIES),
                                 "org_id": d(IDS), "statement": d(outcome_statements())},
    ev.DeliveryStated: lambda d: {"meeting_id": d(IDS), "buyer_id": d(IDS),
                                  "supplier_id": d(IDS), "party": d(PARTIES), "org_id": d(IDS),
                                  "delivery": {"delivery_ref": d(IDS), "delivered_on": d(DATES),
                                               "quantity": d(quantities()), "value_vnd": d(VND)}},
}  # fmt: skip


def events(event_type: type[ev.Envelope]) -> st.SearchStrategy[ev.Envelope]:
    """Valid events of one type, built through validation (as a producer would)."""

    @st.composite
    def build(draw):
        payload = {**_envelope(draw), **_BODIES[event_type](draw)}
        if event_type in (ev.SessionClosed, ev.ParticipantRegistered) or issubclass(
            event_type, ev._SessionEvent
        ):
            payload["session_id"] = draw(IDS)
        return event_type.model_validate(payload)

    return build()


def covered_event_types() -> set[type[ev.Envelope]]:
    return set(_BODIES)


# -- schema-valid extremes: values at the edges the contracts allow ------------------------------
# The bounds the contracts state (schemas.fields, schemas.orders), repeated here so that these
# strategies stay within them whatever the schemas accept: calendar dates 2000-01-01 to
# 2100-12-31, times within those days, amounts of at most 18 digits with 3 decimals.
# Strategies are built once, at import: building them in every draw costs more than the draw.
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2100, 12, 31)
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MIN_AMOUNT, MAX_AMOUNT = Decimal("0.001"), Decimal("999999999999999.999")
MAX_VND = 10**15
MAX_DAYS = 365
MAX_REVISION = 10**9
MAX_SHIPS_TO = 100
MAX_EXCLUDED = 100
MAX_PRODUCT_LIST = 20  # certifications, keywords, required certifications

BOUNDED_DATES = st.one_of(
    st.sampled_from([EARLIEST_DAY, LATEST_DAY]),
    st.dates(min_value=EARLIEST_DAY, max_value=LATEST_DAY),
)
BOUNDED_MOMENTS = st.one_of(
    st.sampled_from([EARLIEST_MOMENT, LATEST_MOMENT]),
    st.datetimes(
        min_value=EARLIEST_MOMENT.replace(tzinfo=None),
        max_value=LATEST_MOMENT.replace(tzinfo=None),
        timezones=st.just(UTC),
    ),
)
EXTREME_AMOUNTS = st.one_of(
    st.sampled_from([MIN_AMOUNT, MAX_AMOUNT]),
    st.decimals(min_value=MIN_AMOUNT, max_value=MAX_AMOUNT, places=3),
)
EXTREME_VND = st.one_of(st.sampled_from([0, MAX_VND]), st.integers(0, MAX_VND))
EXTREME_DAYS = st.one_of(st.sampled_from([0, MAX_DAYS]), st.integers(0, MAX_DAYS))
PROVINCE_OBJECTS = st.sampled_from([{"code": p.code, "name": p.name} for p in current_provinces()])
ANY_PROVINCE = st.one_of(PROVINCE_INPUTS, PROVINCE_OBJECTS)
MAXIMAL_SHIPS_TO = (
    [p.name for p in current_provinces()] + legacy_province_names() + ["TP. HCM", "Ha Noi", "Huế"]
)[:MAX_SHIPS_TO]
SHIPS_TO = st.one_of(
    st.none(),
    st.just([]),
    st.lists(ANY_PROVINCE, min_size=1, max_size=4),
    st.just(MAXIMAL_SHIPS_TO),
)
EXTREME_CERTS = st.one_of(
    st.lists(st.sampled_from(list(Certification)), max_size=MAX_PRODUCT_LIST),
    st.just(list(Certification)),
)
KEYWORDS = st.one_of(
    st.lists(VIETNAMESE_TEXT, max_size=3),
    st.just([f"từ khoá {i}" for i in range(MAX_PRODUCT_LIST)]),
)
_WINDOW_KINDS = st.sampled_from(["span", "first", "last", "all"])
_SPAN_DAYS = st.integers(0, 400)
_LOT_KINDS = st.sampled_from(["none", "all", "all-in-kg", "smallest", "half"])
_OPTIONAL_DATES = st.none() | BOUNDED_DATES
_OPTIONAL_VND = st.none() | EXTREME_VND
_STARS = st.integers(0, 5)


@st.composite
def _bounded_windows(draw) -> dict:
    kind = draw(_WINDOW_KINDS)
    if kind == "first":
        return {"start": EARLIEST_DAY, "end": EARLIEST_DAY}
    if kind == "last":
        return {"start": LATEST_DAY, "end": LATEST_DAY}
    if kind == "all":
        return {"start": EARLIEST_DAY, "end": LATEST_DAY}
    start = draw(BOUNDED_DATES)
    return {"start": start, "end": min(LATEST_DAY, start + timedelta(draw(_SPAN_DAYS)))}


BOUNDED_WINDOWS = _bounded_windows()
"""Date windows within the bounds: a span, one day at either end, or the whole range."""
EXTREME_QUANTITIES = st.fixed_dictionaries({"amount": EXTREME_AMOUNTS, "unit": WEIGHT_UNITS})


def lot_within(kind: str, quantity: dict) -> dict | None:
    """A minimum lot or order no larger than ``quantity``: ``none``, ``all`` of it (as given,
    or ``all-in-kg`` when given in tonnes), the ``smallest`` amount there is, or about
    ``half``."""
    amount, unit = quantity["amount"], quantity["unit"]
    if kind == "all-in-kg" and unit in ("tấn", "tan") and amount * 1000 <= MAX_AMOUNT:
        return {"amount": amount * 1000, "unit": "kg"}
    if kind in ("all", "all-in-kg"):
        return dict(quantity)
    if kind == "smallest":
        return {"amount": MIN_AMOUNT, "unit": "g"}
    if kind == "half":  # rounds up by half a thousandth at most: never above the whole
        return {"amount": max(MIN_AMOUNT, (amount / 2).quantize(MIN_AMOUNT)), "unit": unit}
    return None


_BUILT: dict[tuple, st.SearchStrategy[dict]] = {}


def _once(key: tuple, build) -> st.SearchStrategy[dict]:
    """The strategy for ``key``, built on first use."""
    strategy = _BUILT.get(key)
    if strategy is None:
        strategy = _BUILT[key] = build()
    return strategy


def _exclusions(parties: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Empty, some of ``parties`` (so exclusions bite), or the longest list allowed."""
    longest = [*parties, *(f"x{i}" for i in range(MAX_EXCLUDED))][:MAX_EXCLUDED]
    return st.one_of(st.just([]), st.lists(st.sampled_from(parties), max_size=3), st.just(longest))


def extreme_offer_submissions(
    category: str, suppliers: tuple[str, ...], buyers: tuple[str, ...]
) -> st.SearchStrategy[dict]:
    """Valid ``OfferSubmission`` bodies of ``category`` (add ``offer_id`` and ``revision`` for
    an ``Offer``), every term drawn up to its bounds; exclusions name some of ``buyers``."""

    @st.composite
    def build(draw) -> dict:
        quantity = draw(EXTREME_QUANTITIES)
        stars = draw(_STARS)
        return {
            "supplier_id": draw(supplier_ids),
            "product": {
                "name": draw(VIETNAMESE_TEXT),
                "category": category,
                "ocop_stars": stars,
                "ocop_rated_on": draw(BOUNDED_DATES if stars else _OPTIONAL_DATES),
                "certifications": draw(EXTREME_CERTS),
            },
            "origin_province": draw(ANY_PROVINCE),
            "quantity": quantity,
            "unit_price_vnd": draw(EXTREME_VND),
            "price_unit": draw(WEIGHT_UNITS),
            "min_order": lot_within(draw(_LOT_KINDS), quantity),
            "available": draw(BOUNDED_WINDOWS),
            "ships_to": draw(SHIPS_TO),
            "lead_time_days": draw(EXTREME_DAYS),
            "max_deferred_payment_days": draw(EXTREME_DAYS),
            "issues_vat_invoice": draw(st.booleans()),
            "has_traceability_stamps": draw(st.booleans()),
            "excluded_buyers": draw(excluded),
        }

    supplier_ids, excluded = st.sampled_from(suppliers), _exclusions(buyers)
    return _once(("offer", category, suppliers, buyers), build)


def extreme_demand_submissions(
    category: str, buyers: tuple[str, ...], suppliers: tuple[str, ...]
) -> st.SearchStrategy[dict]:
    """Valid ``DemandSubmission`` bodies of ``category`` (add ``demand_id`` and ``revision``
    for a ``Demand``), every term drawn up to its bounds; exclusions name some of
    ``suppliers``."""

    @st.composite
    def build(draw) -> dict:
        quantity = draw(EXTREME_QUANTITIES)
        return {
            "buyer_id": draw(buyer_ids),
            "criteria": {
                "category": category,
                "keywords": draw(KEYWORDS),
                "min_ocop_stars": draw(_STARS),
                "required_certifications": draw(EXTREME_CERTS),
            },
            "quantity": quantity,
            "max_unit_price_vnd": draw(_OPTIONAL_VND),
            "price_unit": draw(WEIGHT_UNITS),
            "delivery_province": draw(ANY_PROVINCE),
            "delivery_window": draw(BOUNDED_WINDOWS),
            "payment_terms_days": draw(EXTREME_DAYS),
            "requires_vat_invoice": draw(st.booleans()),
            "requires_traceability": draw(st.booleans()),
            "accepts_partial": draw(st.booleans()),
            "min_lot": lot_within(draw(_LOT_KINDS), quantity),
            "excluded_suppliers": draw(excluded),
        }

    buyer_ids, excluded = st.sampled_from(buyers), _exclusions(suppliers)
    return _once(("demand", category, buyers, suppliers), build)
