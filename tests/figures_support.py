"""The figures a session's API stats and its monitor snapshot both show, side by side.

Each side is reduced to the same plain dict (the monitor's ``pending_kg`` is the API's
``reserved_kg``; its ``proposals`` and stage counts are the API's ``funnel``), so a test
asserts one equality and a failure prints what differs.
"""

from __future__ import annotations

from typing import Any

UNMET = ("open", "partly_matched")
FUNNEL = ("proposals", "accepted", "confirmed", "declined", "expired", "released")


def _bucket_rows(rows: dict[str, dict[str, Any]]) -> dict[str, tuple]:
    return {
        key: (b["confirmed_kg"], b["reserved_kg"], b["value_vnd"], b["confirmed"])
        for key, b in rows.items()
    }


def from_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """What ``GET /v1/sessions/{id}/stats`` (or ``figures.session_figures``) says."""
    demands = stats["demands"]
    return {
        "participants": stats["participants"],
        "participants_by_province": stats["participants_by_province"],
        "provinces": stats["provinces"],
        "offers": (stats["offers"]["count"], stats["offers"]["kg"]),
        "demands": (demands["count"], demands["kg"]),
        "funnel": {name: t["count"] for name, t in stats["funnel"].items()},
        "reserved_kg": stats["reserved_kg"],
        "confirmed_kg": stats["confirmed_kg"],
        "value_vnd": stats["value_vnd"],
        "fill_rate": stats["fill_rate"],
        "by_origin": _bucket_rows(stats["by_origin"]),
        "by_category": _bucket_rows(stats["by_category"]),
        "unmet_demands": sum(demands["by_state"].get(s, {}).get("count", 0) for s in UNMET),
    }


def _chart(rows: list[dict[str, Any]]) -> dict[str, tuple]:
    return {
        r["key"]: (r["confirmed_kg"], r["pending_kg"], r["value_vnd"], r["confirmed"]) for r in rows
    }


def from_snapshot(shot: dict[str, Any]) -> dict[str, Any]:
    """What the monitor's ``/monitor/sessions/{id}/snapshot`` says."""
    f = shot["figures"]
    return {
        "participants": f["participants"],
        "participants_by_province": f["participants_by_province"],
        "provinces": f["provinces"],
        "offers": (f["offers"], f["offered_kg"]),
        "demands": (f["demands"], f["demanded_kg"]),
        "funnel": {name: f[name] for name in FUNNEL},
        "reserved_kg": f["pending_kg"],
        "confirmed_kg": f["confirmed_kg"],
        "value_vnd": f["value_vnd"],
        "fill_rate": f["fill_rate"],
        "by_origin": _chart(shot["charts"]["by_origin"]),
        "by_category": _chart(shot["charts"]["by_category"]),
        "unmet_demands": shot["open_demands"],
    }


def unmet_open_kg(shot: dict[str, Any]) -> dict[str, float]:
    """The monitor's open kg of each demand it lists as not yet met."""
    return {row["id"]: row["open_kg"] for row in shot["demands"]}
