"""Printable agendas of a session's meetings: one participant's, one table's, or every table's
(``services.programme.agenda`` renders them; this route gathers the data and checks who may
see what). Vietnamese by default, ``?lang=en`` for English."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from services.common.store import MATCHES, MEETINGS, OFFERS, ORGANIZATIONS
from services.gateway import programme as prog
from services.gateway.auth import CallerDep
from services.gateway.common import ID_PATTERN, PathId
from services.gateway.context import Gateway, GatewayDep
from services.gateway.problems import ApiProblem, FieldProblem, documented
from services.programme import agenda

router = APIRouter(tags=["meetings"])
TOPICS_PER_MEETING = 5
OrgParam = Annotated[
    str | None,
    Query(min_length=1, max_length=128, pattern=ID_PATTERN,
          description="whose agenda (a participant sees its own only)"),
]  # fmt: skip
TableParam = Annotated[
    int | None, Query(ge=1, le=500, description="one table's agenda (the organizer)")
]


@router.get(
    "/v1/sessions/{session_id}/agenda",
    response_model=None,
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "a printable A4 page",
        },
        **documented(401, 403, 404, 409, 422, 429, 503),
    },
    summary="Print an agenda: a participant's, a table's, or (organizer) every table's",
)
async def get_agenda(
    session_id: PathId,
    gateway: GatewayDep,
    caller: CallerDep,
    org_id: OrgParam = None,
    table: TableParam = None,
    lang: Literal["vi", "en"] = "vi",
) -> HTMLResponse:
    place = await prog.standing(gateway, caller, session_id)
    plan = prog.plan_of(place.session, "print agendas")
    if org_id is not None and table is not None:
        raise ApiProblem(
            422,
            "ask for one agenda: org_id or table, not both",
            errors=[FieldProblem(path="query.table", problem="given with org_id")],
        )
    if table is not None:
        prog.require_organizer(place, "print a table's agenda")
        if table > int(plan["tables"]):
            raise ApiProblem(
                422,
                f"table: the session has {plan['tables']} tables",
                errors=[FieldProblem(path="query.table", problem=f"no table {table}",
                                     allowed=[f"1 to {plan['tables']}"])],
            )  # fmt: skip
    who = org_id if org_id is not None else place.org_id
    if who is not None and not place.organizer and who != place.org_id:
        raise ApiProblem(
            403,
            f"this key reads the agenda of {place.org_id!r} only",
            errors=[FieldProblem(path="query.org_id", problem="another participant",
                                 allowed=[str(place.org_id)])],
        )  # fmt: skip
    if who is not None and await prog.participant(gateway, session_id, who) is None:
        raise ApiProblem(404, f"{who!r} is not a participant of session {session_id!r}")
    query: dict[str, Any] = {"session_id": session_id, "status": {"$in": ["scheduled",
                                                                         "cancelled"]}}  # fmt: skip
    if who is not None:
        party = (await prog.participant(gateway, session_id, who) or {}).get("party", "buyer")
        query[f"{party}_id"] = who
    elif table is not None:
        query.update(table=table, status="scheduled")
    docs = await gateway.db[MEETINGS].find(query).sort("_id", 1).to_list()
    meetings = await _meetings(gateway, docs)
    session = _session(place.session, plan)
    switch = _switch(session_id, org_id, table, lang)
    if who is not None:
        page = agenda.participant_agenda(
            session, (await _orgs(gateway, {who}))[who], meetings, lang, switch
        )
    elif table is not None:
        page = agenda.table_agenda(session, table, meetings, lang, switch)
    else:
        page = agenda.tables_agenda(session, meetings, lang, switch)
    return HTMLResponse(page, headers={"Content-Security-Policy": agenda.policy()})


def _session(session: dict[str, Any], plan: dict[str, Any]) -> agenda.AgendaSession:
    slots = tuple(
        (datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
        for s in plan["slots"]
    )
    return agenda.AgendaSession(session_id=session["_id"], title=session.get("name") or "",
                                slots=slots, tables=int(plan["tables"]),
                                venue=session.get("venue") or "")  # fmt: skip


def _switch(session_id: str, org_id: str | None, table: int | None, lang: str) -> str:
    """The same agenda in the other language."""
    params = {k: v for k, v in (("org_id", org_id), ("table", table)) if v is not None}
    params["lang"] = "vi" if lang == "en" else "en"
    return f"?{urlencode(params)}"  # relative: the same page under /v1 or the monitor


async def _orgs(gateway: Gateway, org_ids: set[str]) -> dict[str, agenda.Org]:
    """Names and provinces as registered (the id stands in for an unregistered name)."""
    cursor = gateway.db[ORGANIZATIONS].find({"_id": {"$in": sorted(org_ids)}},
                                            {"name": 1, "province": 1})  # fmt: skip
    found = {doc["_id"]: doc async for doc in cursor}
    return {
        org_id: agenda.Org(
            org_id,
            str((found.get(org_id) or {}).get("name") or org_id),
            str(((found.get(org_id) or {}).get("province") or {}).get("name") or ""),
        )
        for org_id in org_ids
    }


async def _meetings(gateway: Gateway, docs: list[dict[str, Any]]) -> list[agenda.AgendaMeeting]:
    orgs = await _orgs(gateway, {d[r] for d in docs for r in ("buyer_id", "supplier_id")})
    topics = await _topics(gateway, docs)
    return [
        agenda.AgendaMeeting(
            slot=int(d["slot"]),
            table=int(d["table"]),
            buyer=orgs[d["buyer_id"]],
            supplier=orgs[d["supplier_id"]],
            topics=topics.get(d["_id"], ()),
            status=d["status"],
        )
        for d in docs
        if d.get("slot") is not None and d.get("table") is not None
    ]


async def _topics(gateway: Gateway, docs: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """What each meeting is about: the products of its confirmed matches, with their weight."""
    # A rescheduled meeting names the same matches as the cancelled one: each of both gets them.
    wanted: dict[str, list[str]] = {}
    for d in docs:
        for m in (d.get("match_ids") or [])[:TOPICS_PER_MEETING]:
            wanted.setdefault(m, []).append(d["_id"])
    if not wanted:
        return {}
    matches = (
        await gateway.db[MATCHES]
        .find({"_id": {"$in": sorted(wanted)}}, {"offer_id": 1, "quantity_kg": 1})
        .to_list()
    )
    offers = {
        o["_id"]: o
        async for o in gateway.db[OFFERS].find(
            {"_id": {"$in": sorted({m["offer_id"] for m in matches})}}, {"product": 1}
        )
    }
    out: dict[str, list[str]] = {}
    for match in sorted(matches, key=lambda m: m["_id"]):
        product = (offers.get(match["offer_id"]) or {}).get("product") or {}
        name = product.get("name") or product.get("category") or match["offer_id"]
        kg = float(match.get("quantity_kg") or 0)
        for meeting_id in wanted[match["_id"]]:
            out.setdefault(meeting_id, []).append(f"{name}: {kg:,.0f} kg")
    return {k: tuple(v) for k, v in out.items()}
