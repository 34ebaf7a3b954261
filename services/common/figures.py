"""One definition of every figure Ketnoi reports: per order, per match and per session.

Pure (plain dicts and values in, plain values out; no Kafka, store or web import), so the API
(reading stored documents), the live monitor (folding events) and the reports count the same
way, and a test compares them.

- A **match's status** is one of ``MATCH_STATUSES``: ``declined`` once either party declined
  (the stored status then becomes ``released`` with reason "declined"), ``accepted`` while one
  party accepted and the other has not decided. Its **funnel** counts each stage it reached:
  every match is one of the ``proposals``; a confirmed match was also ``accepted``.
- A match **reserves** its kilograms while ``proposed`` or ``accepted`` (the monitor calls this
  "pending"), and **confirms** them once both parties accepted. Its **value** is its
  kilograms times the offer's price per kg (``price_per_kg``), rounded to the đồng.
- An **order** (offer or demand): ``reserved_kg`` and ``confirmed_kg`` are sums over its
  matches, whatever session those belong to; ``open_kg = max(0, quantity - reserved -
  confirmed)``, 0 once withdrawn or cancelled. Its ``state`` is one of ``ORDER_STATES``.
- A **match belongs to** its demand's session (the buyer came to it), else its offer's.
- A **session** counts its orders that are not withdrawn or cancelled (those are tallied by
  state), its participants by role and province, its matches by status and funnel, and the
  confirmed volume and value by the offer's province of origin and by category.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas.reference.units import price_per_kg

MATCH_STATUSES = ("proposed", "accepted", "confirmed", "declined", "expired", "released")
"""A match's status now: each match is in exactly one."""
FUNNEL = ("proposals", "accepted", "confirmed", "declined", "expired", "released")
"""Stages a match reached: one match counts in ``proposals`` and in each stage it reached."""
RESERVING = frozenset({"proposed", "accepted"})
"""Statuses that hold a match's kilograms on both orders until the parties decide."""
ORDER_STATES = ("open", "partly_matched", "reserved", "filled", "withdrawn", "cancelled")
"""open: nothing matched yet; partly_matched: some kg reserved or confirmed, some still open;
reserved: nothing open, some kg awaiting the parties; filled: confirmed matches cover it all;
withdrawn (an offer) or cancelled (a demand): ended by its owner, nothing open."""
PARTIES = ("buyer", "supplier")
_TINY = 1e-6  # kg: below a milligram, float sums are treated as zero


def kg(value: float) -> float:
    """Kilograms as every figure shows them: to the gram, never ``-0.0``."""
    return round(value, 3) + 0.0


# -- matches -------------------------------------------------------------------------------


def match_status(
    outcome: str | None, decisions: Iterable[str | None], released_reason: str | None = None
) -> str:
    """``outcome``: what the matcher last said (proposed, confirmed, expired, released or
    nothing yet); ``decisions``: each party's accepted/declined, if any."""
    if outcome == "confirmed":
        return "confirmed"
    decided = set(decisions)
    if "declined" in decided or released_reason == "declined":
        return "declined"
    if outcome in ("expired", "released"):
        return outcome
    return "accepted" if "accepted" in decided else "proposed"


def match_status_of(doc: Mapping[str, Any]) -> str:
    """The status of a stored match document (as the recorder writes it)."""
    decisions = (doc.get("buyer_decision"), doc.get("supplier_decision"))
    return match_status(doc.get("status"), decisions, doc.get("released_reason"))


def funnel(status: str, decisions: Iterable[str | None]) -> tuple[int, ...]:
    """One 0/1 per name in ``FUNNEL``."""
    accepted = status == "confirmed" or "accepted" in set(decisions)
    return (
        1,
        int(accepted),
        int(status == "confirmed"),
        int(status == "declined"),
        int(status == "expired"),
        int(status == "released"),
    )


def funnel_of(doc: Mapping[str, Any]) -> tuple[int, ...]:
    return funnel(match_status_of(doc), (doc.get("buyer_decision"), doc.get("supplier_decision")))


def value_vnd(
    quantity_kg: float | Decimal, unit_price_vnd: int | None, price_unit: str | None
) -> int:
    """A match's value in whole đồng (0 when its price is unknown or not per weight)."""
    if not isinstance(unit_price_vnd, int) or isinstance(unit_price_vnd, bool):
        return 0
    try:
        per_kg = price_per_kg(unit_price_vnd, price_unit or "kg")
    except ValueError:  # a document not written from a valid event: count no value
        return 0
    return int((Decimal(repr(float(quantity_kg))) * per_kg).to_integral_value())


def match_session(demand_session: str | None, offer_session: str | None) -> str | None:
    """The session a match counts in: its demand's, else its offer's."""
    return demand_session or offer_session


# -- orders --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderFigures:
    quantity_kg: float
    reserved_kg: float
    confirmed_kg: float
    open_kg: float
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "reserved_kg": self.reserved_kg,
            "confirmed_kg": self.confirmed_kg,
            "open_kg": self.open_kg,
            "state": self.state,
        }


def order_figures(
    quantity_kg: float | None, ended: str | None, reserved_kg: float, confirmed_kg: float
) -> OrderFigures:
    """``ended``: "withdrawn" or "cancelled" once the owner ended the order, else None."""
    quantity = float(quantity_kg or 0.0)
    reserved, confirmed = kg(max(0.0, reserved_kg)), kg(max(0.0, confirmed_kg))
    open_kg = 0.0 if ended else kg(max(0.0, quantity - reserved - confirmed))
    if ended:
        state = ended
    elif open_kg > _TINY:
        state = "partly_matched" if reserved + confirmed > _TINY else "open"
    elif reserved > _TINY:
        state = "reserved"
    else:
        state = "filled" if confirmed > _TINY else "open"
    return OrderFigures(kg(quantity), reserved, confirmed, open_kg, state)


def _ended(doc: Mapping[str, Any]) -> str | None:
    status = doc.get("status")
    return status if status in ("withdrawn", "cancelled") else None


def order_figures_of(doc: Mapping[str, Any], matches: Iterable[Mapping[str, Any]]) -> OrderFigures:
    """An offer's or a demand's figures from its stored document and its matches' documents."""
    reserved = confirmed = 0.0
    for match in matches:
        status = match_status_of(match)
        if status in RESERVING:
            reserved += float(match.get("quantity_kg") or 0.0)
        elif status == "confirmed":
            confirmed += float(match.get("quantity_kg") or 0.0)
    return order_figures(doc.get("quantity_kg"), _ended(doc), reserved, confirmed)


def fill_rate(confirmed_kg: float, demanded_kg: float) -> float:
    """Share of a session's demand that confirmed matches cover (at most 1), from the figures
    as shown (to the gram), so sums made in another order give the same rate."""
    confirmed, demanded = kg(confirmed_kg), kg(demanded_kg)
    return round(min(1.0, confirmed / demanded), 4) if demanded > 0 else 0.0


def participants_by_province(
    parties: Mapping[str, str], province_of: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    """``parties``: org id -> buyer|supplier; ``province_of``: org id -> province name ("" when
    the organization is not known)."""
    table: dict[str, dict[str, int]] = {}
    for org_id, party in parties.items():
        row = table.setdefault(province_of.get(org_id, ""), dict.fromkeys(PARTIES, 0))
        row[party] = row.get(party, 0) + 1
    return dict(sorted(table.items()))


# -- sessions ------------------------------------------------------------------------------


def _tally() -> dict[str, Any]:
    return {"count": 0, "kg": 0.0}


def _orders(docs: Iterable[Mapping[str, Any]], by_id: Mapping[str, OrderFigures]) -> dict:
    out: dict[str, Any] = dict.fromkeys(("kg", "open_kg", "reserved_kg", "confirmed_kg"), 0.0)
    out["count"] = 0
    states: dict[str, dict[str, Any]] = {}
    for doc in docs:
        f = by_id[doc["_id"]]
        tally = states.setdefault(f.state, _tally())
        tally["count"] += 1
        tally["kg"] += f.quantity_kg
        if f.state not in ("withdrawn", "cancelled"):
            out["count"] += 1
            out["kg"] += f.quantity_kg
        out["open_kg"] += f.open_kg
        out["reserved_kg"] += f.reserved_kg
        out["confirmed_kg"] += f.confirmed_kg
    for name in ("kg", "open_kg", "reserved_kg", "confirmed_kg"):
        out[name] = kg(out[name])
    out["by_state"] = {s: {**t, "kg": kg(t["kg"])} for s in ORDER_STATES if (t := states.get(s))}
    return out


def _bucket() -> dict[str, Any]:
    return {"confirmed": 0, "confirmed_kg": 0.0, "reserved_kg": 0.0, "value_vnd": 0}


def session_figures(
    session_id: str,
    participants: Iterable[Mapping[str, Any]],
    org_provinces: Mapping[str, str],
    offers: Iterable[Mapping[str, Any]],
    demands: Iterable[Mapping[str, Any]],
    matches: Iterable[Mapping[str, Any]],
    others: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every figure of one session from stored documents.

    ``participants``: its participant documents (org_id, party); ``org_provinces``: org id ->
    province name; ``offers``/``demands``: the documents whose ``session_id`` is this session;
    ``matches``: every match of any of those orders; ``others``: the other offers and demands
    those matches name (by id), for their session and province of origin.
    """
    offers, demands = list(offers), list(demands)
    matches = list({m["_id"]: m for m in matches}.values())  # found by offer and by demand
    orders = {doc["_id"]: doc for doc in (*(others or {}).values(), *offers, *demands)}
    by_order: dict[str, list[Mapping[str, Any]]] = {}
    for m in matches:
        for order_id in {m.get("offer_id"), m.get("demand_id")}:
            by_order.setdefault(str(order_id), []).append(m)
    figures = {d["_id"]: order_figures_of(d, by_order.get(d["_id"], [])) for d in offers + demands}

    statuses = {s: _tally() for s in MATCH_STATUSES}
    stages = {s: _tally() for s in FUNNEL}
    by_origin: dict[str, dict[str, Any]] = {}
    by_category: dict[str, dict[str, Any]] = {}
    reserved_kg = confirmed_kg = 0.0
    value = 0
    for m in matches:
        demand, offer = orders.get(m.get("demand_id")), orders.get(m.get("offer_id"))
        home = match_session((demand or {}).get("session_id"), (offer or {}).get("session_id"))
        if home != session_id:
            continue
        status, amount = match_status_of(m), float(m.get("quantity_kg") or 0.0)
        statuses[status]["count"] += 1
        statuses[status]["kg"] += amount
        for name, reached in zip(FUNNEL, funnel_of(m), strict=True):
            stages[name]["count"] += reached
            stages[name]["kg"] += reached * amount
        worth = value_vnd(amount, m.get("unit_price_vnd"), m.get("price_unit"))
        origin = ((offer or {}).get("origin_province") or {}).get("name") or ""
        for buckets, key in ((by_origin, origin), (by_category, m.get("category") or "")):
            if status in RESERVING or status == "confirmed":
                bucket = buckets.setdefault(key, _bucket())
                if status == "confirmed":
                    bucket["confirmed"] += 1
                    bucket["confirmed_kg"] += amount
                    bucket["value_vnd"] += worth
                else:
                    bucket["reserved_kg"] += amount
        if status in RESERVING:
            reserved_kg += amount
        elif status == "confirmed":
            confirmed_kg += amount
            value += worth

    parties = {str(p.get("org_id")): str(p.get("party")) for p in participants}
    offer_figures, demand_figures = _orders(offers, figures), _orders(demands, figures)
    return {
        "session_id": session_id,
        "participants": {party: sum(p == party for p in parties.values()) for party in PARTIES},
        "participants_by_province": participants_by_province(parties, org_provinces),
        "provinces": len({org_provinces.get(org, "") for org in parties} - {""}),
        "offers": offer_figures,
        "demands": demand_figures,
        "matches": {s: {**t, "kg": kg(t["kg"])} for s, t in statuses.items()},
        "funnel": {s: {**t, "kg": kg(t["kg"])} for s, t in stages.items()},
        "reserved_kg": kg(reserved_kg),
        "confirmed_kg": kg(confirmed_kg),
        "value_vnd": value,
        "fill_rate": fill_rate(confirmed_kg, demand_figures["kg"]),
        "by_origin": _buckets(by_origin),
        "by_category": _buckets(by_category),
    }


def _buckets(buckets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Largest confirmed volume first, then reserved, then the key (a stable order)."""

    def order(item: tuple[str, dict[str, Any]]) -> tuple[float, float, str]:
        return (-item[1]["confirmed_kg"], -item[1]["reserved_kg"], item[0])

    return {
        key: {**b, "confirmed_kg": kg(b["confirmed_kg"]), "reserved_kg": kg(b["reserved_kg"])}
        for key, b in sorted(buckets.items(), key=order)
    }
