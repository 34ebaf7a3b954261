"""The JSON the monitor page receives: a full snapshot, or an update with what changed.

Figures and charts are always sent whole (they are small), so an update that arrives twice or a
snapshot that replaces everything leaves the page right; rows are keyed by id and replace the
row of the same id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.reference.taxonomy import UnknownCategoryError, category
from schemas.reference.units import unit_name
from services.common import figures as definitions
from services.monitor.projection import TOTALS, Board, DemandInfo, MatchInfo, Projection

FEED_ROWS = 200
"""Matches in a snapshot: the latest ones (the page keeps as many)."""
UPDATE_ROWS = 2_000
"""Changed matches in one update, the latest kept: every one at any rate the monitor was
measured at (400 matches/s put over 200 in a flush), only a stalled flush is cut."""
DEMAND_ROWS = 500
"""Open demands in a snapshot, oldest first."""
_EPOCH_KEY = datetime.min.replace(tzinfo=UTC)


_kg = definitions.kg


def _category(code: str) -> dict[str, str]:
    try:
        found = category(code)
    except UnknownCategoryError:
        return {"code": code, "vi": code, "en": code}
    return {"code": code, "vi": found.name_vi, "en": found.name_en}


def _party(projection: Projection, org_id: str) -> dict[str, str]:
    return {"id": org_id, "name": projection.org_name(org_id)}


def session_info(board: Board) -> dict[str, Any]:
    return {
        "id": board.session_id,
        "name": board.name,
        "status": board.status,
        "host_province": board.host_province,
        "dates": list(board.dates) if board.dates else None,
        "venue": board.venue,
    }


def figures(projection: Projection, board: Board) -> dict[str, Any]:
    """The headline figures, named and counted as the API's session stats count them
    (``pending_kg`` there is ``reserved_kg``)."""
    parties = board.parties.values()
    provinces = {org: projection.org_provinces.get(org, "") for org in board.parties}
    return {
        "participants": {p: sum(party == p for party in parties) for p in definitions.PARTIES},
        "participants_by_province": definitions.participants_by_province(board.parties, provinces),
        "provinces": len(set(provinces.values()) - {""}),
        "offers": board.offers,
        "offered_kg": _kg(board.offered_kg),
        "demands": board.demands,
        "demanded_kg": _kg(board.demanded_kg),
        **{name: board.totals[name] for name in TOTALS},
        "pending_kg": _kg(board.pending_kg),
        "confirmed_kg": _kg(board.confirmed_kg),
        "value_vnd": board.value_vnd,
        "fill_rate": definitions.fill_rate(board.confirmed_kg, board.demanded_kg),
    }


def charts(board: Board) -> dict[str, Any]:
    def bars(buckets: dict[str, list[float]], label: Any) -> list[dict[str, Any]]:
        rows = [
            {"key": key, "label": label(key), "confirmed_kg": _kg(c), "pending_kg": _kg(p),
             "value_vnd": round(v), "confirmed": round(n)}
            for key, (c, p, v, n) in buckets.items()
        ]  # fmt: skip
        return sorted(rows, key=lambda r: (-r["confirmed_kg"], -r["pending_kg"], r["key"]))

    return {
        "by_origin": bars(board.by_origin, lambda key: {"vi": key or "?", "en": key or "?"}),
        "by_category": bars(board.by_category, _category),
    }


def match_row(projection: Projection, m: MatchInfo) -> dict[str, Any]:
    offer = projection.offers.get(m.offer_id)
    at = m.proposed_at or m.updated_at
    return {
        "id": m.match_id,
        "at": at.isoformat() if at else None,
        "supplier": _party(projection, m.supplier_id) if m.supplier_id else None,
        "product": offer.product if offer is not None else None,
        "origin": offer.origin if offer is not None else None,
        "category": _category(m.category),
        "buyer": _party(projection, m.buyer_id) if m.buyer_id else None,
        "quantity_kg": _kg(m.quantity_kg),
        "unit_price_vnd": m.unit_price_vnd,
        "price_unit": unit_name(m.price_unit),  # shown on the page: "tạ", not the code "ta"
        "value_vnd": m.value_vnd,
        "score": m.score,
        "breakdown": m.breakdown,
        "status": m.status,
        "decisions": dict(m.decisions),
    }


def reason_code(reason: str) -> str:
    """The rule a reason names ("price: 12 of 30 open offers ..." -> "price"), for translation."""
    if reason.startswith("no open offer"):
        return "no-offers"
    head, colon, _ = reason.partition(":")
    return head if colon and head.replace("-", "").isalpha() else "other"


def demand_row(projection: Projection, d: DemandInfo) -> dict[str, Any]:
    reason = d.reason if d.open_kg > 0 else None
    return {
        "id": d.demand_id,
        "open": d.unmet,
        "buyer": _party(projection, d.buyer_id),
        "category": _category(d.category),
        "keywords": list(d.keywords),
        "quantity_kg": _kg(d.quantity_kg),
        "confirmed_kg": _kg(d.confirmed_kg),
        "pending_kg": _kg(d.pending_kg),
        "open_kg": _kg(d.open_kg),
        "state": d.order_figures.state,
        "delivery": d.delivery,
        "posted_at": d.posted_at.isoformat() if d.posted_at else None,
        "reason_code": reason_code(reason) if reason else ("awaiting" if d.pending_kg else None),
        "reason": reason,
    }


def _common(projection: Projection, board: Board) -> dict[str, Any]:
    return {
        "session": session_info(board),
        "figures": figures(projection, board),
        "charts": charts(board),
    }


def _unmet(projection: Projection, board: Board) -> list[DemandInfo]:
    return [d for i in board.demand_ids if (d := projection.demands[i]).unmet]


def snapshot(projection: Projection, board: Board) -> dict[str, Any]:
    """Everything the page shows, from scratch."""
    matches = [projection.matches[i] for i in board.match_ids]
    matches.sort(key=lambda m: (m.proposed_at or m.updated_at or _EPOCH_KEY, m.match_id))
    open_demands = _unmet(projection, board)
    open_demands.sort(key=lambda d: (d.posted_at, d.demand_id))
    return {
        "kind": "snapshot",
        **_common(projection, board),
        "matches": [match_row(projection, m) for m in matches[-FEED_ROWS:]],
        "demands": [demand_row(projection, d) for d in open_demands[:DEMAND_ROWS]],
        "open_demands": len(open_demands),
    }


def update(projection: Projection, board: Board) -> dict[str, Any]:
    """What changed since the last update; clears the board's change marks."""
    rows = [projection.matches[i] for i in sorted(board.dirty_matches)]
    rows = [m for m in rows if m.counted is not None and m.counted.session_id == board.session_id]
    rows.sort(key=lambda m: (m.proposed_at or m.updated_at or _EPOCH_KEY, m.match_id))
    demands = [projection.demands[i] for i in sorted(board.dirty_demands)]
    payload = {
        "kind": "update",
        **_common(projection, board),
        "matches": [match_row(projection, m) for m in rows[-UPDATE_ROWS:]],
        "demands": [demand_row(projection, d) for d in demands if d.known],
        "open_demands": len(_unmet(projection, board)),
    }
    board.dirty_matches.clear()
    board.dirty_demands.clear()
    board.changed = False
    return payload
