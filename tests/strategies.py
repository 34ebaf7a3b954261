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
}  # fmt: skip


def events(event_type: type[ev.Envelope]) -> st.SearchStrategy[ev.Envelope]:
    """Valid events of one type, built through validation (as a producer would)."""

    @st.composite
    def build(draw):
        payload = {**_envelope(draw), **_BODIES[event_type](draw)}
        if event_type in (ev.SessionClosed, ev.ParticipantRegistered):
            payload["session_id"] = draw(IDS)
        return event_type.model_validate(payload)

    return build()


def covered_event_types() -> set[type[ev.Envelope]]:
    return set(_BODIES)
