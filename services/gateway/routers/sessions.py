"""Trade-connection sessions: an organizer creates one, registers who takes part, opens it (offers
and demands may then join it), closes it, and follows its funnel live."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from schemas.events import (
    ParticipantRegistered,
    SessionClosed,
    SessionCreated,
    SessionOpened,
    utcnow,
)
from schemas.matches import Party
from schemas.organizations import BUYER_KINDS, SUPPLIER_KINDS
from schemas.sessions import ParticipantSubmission, Session, SessionSubmission
from services.common.store import ORGANIZATIONS, PARTICIPANTS, SESSIONS
from services.gateway import access, closing, figure_reads, rounds
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.common import (
    CHANGE_ERRORS,
    ITEM_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Cursor,
    Limit,
    PathId,
    accepted,
    page,
    require_session_status,
    source,
)
from services.gateway.context import Gateway, GatewayDep
from services.gateway.examples import PARTICIPANT, SESSION, SESSION_IN_ROUNDS, one
from services.gateway.idempotency import IdempotencyKey, Ids, run_once
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem, FieldProblem, indefinite
from services.gateway.views import (
    Accepted,
    Page,
    ParticipantView,
    RoundsClosed,
    SessionStats,
    SessionView,
    public,
)

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], route_class=StrictJsonRoute)
_SESSION_FIELDS = ("organizer_id", "name", "host_province", "dates", "venue", "invited_provinces")
SESSION_EXAMPLES = {
    **one("Hải Phòng", SESSION),
    "rounds": {"summary": "A closed pool clearing in rounds", "value": SESSION_IN_ROUNDS},
}


def _url(session_id: str) -> str:
    return f"/v1/sessions/{session_id}"


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses=WRITE_ERRORS,
    summary="Create a session (it opens later)",
)
async def create_session(
    body: Annotated[SessionSubmission, Body(openapi_examples=SESSION_EXAMPLES)],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.ORGANIZER, Role.ADMIN, doing="create sessions"),
    idempotency_key: IdempotencyKey = None,
) -> Response:
    organizer = body.organizer_id or caller.org_id
    if caller.role is Role.ORGANIZER and organizer != caller.org_id:
        raise ApiProblem(
            403,
            f"this key organizes for {caller.org_id!r} only",
            errors=[
                FieldProblem(
                    path="organizer_id", problem="another organization", allowed=[caller.org_id]
                )
            ],
        )

    async def write(ids: Ids) -> Response:
        session = Session.model_construct(
            session_id=ids.entity("session"),
            organizer_id=organizer,
            name=body.name,
            host_province=body.host_province,
            dates=body.dates,
            venue=body.venue,
            invited_provinces=body.invited_provinces,
            scope=body.scope,
            clearing=body.clearing,
        )
        event = SessionCreated(
            event_id=ids.event(),
            occurred_at=utcnow(),
            source=source(caller),
            session_id=session.session_id,
            session=session,
        )
        await gateway.publish(event)
        return accepted(event, session.session_id, _url(session.session_id))

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.get(
    "",
    response_model=Page[SessionView],
    responses=READ_ERRORS,
    summary="List the sessions this organizer runs",
)
async def list_sessions(
    gateway: GatewayDep,
    caller: CallerDep,
    status: Literal["scheduled", "open", "closed"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = access.session_scope(caller)
    if status is not None:
        query = {**query, "status": status}
    return await page(gateway.db[SESSIONS], query, "session_id", limit, cursor)


async def _own_session(gateway: Gateway, caller: Caller, session_id: str) -> dict[str, Any]:
    if caller.role not in (Role.ORGANIZER, Role.ADMIN):
        raise access.not_found("session", session_id)
    doc = await gateway.db[SESSIONS].find_one({"_id": session_id})
    if doc is None or not access.visible(doc, access.session_scope(caller)):
        raise access.not_found("session", session_id)
    return doc


@router.get(
    "/{session_id}", response_model=SessionView, responses=ITEM_ERRORS, summary="Read a session"
)
async def get_session(session_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict:
    return public(await _own_session(gateway, caller, session_id), "session_id")


@router.post(
    "/{session_id}/participants",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Register a buyer or supplier for the session",
)
async def register_participant(
    session_id: PathId,
    body: Annotated[ParticipantSubmission, Body(openapi_examples=one("HTX", PARTICIPANT))],
    request: Request,
    gateway: GatewayDep,
    caller: access.caller_in(Role.ORGANIZER, Role.ADMIN, doing="register participants"),
    idempotency_key: IdempotencyKey = None,
) -> Response:

    async def write(ids: Ids) -> Response:
        session = await _own_session(gateway, caller, session_id)
        require_session_status(session, "register participants")
        await _check_participant(gateway, session, body)
        event = ParticipantRegistered(
            event_id=ids.event(),
            occurred_at=utcnow(),
            source=source(caller),
            session_id=session_id,
            org_id=body.org_id,
            party=body.party,
        )
        await gateway.publish(event)
        return accepted(event, body.org_id, f"{_url(session_id)}/participants")

    return await run_once(request, gateway, caller, idempotency_key, write)


async def _check_participant(gateway: Gateway, session: dict, body: ParticipantSubmission) -> None:
    """The organization is registered, of a kind that fits the party, and (for a supplier)
    from the host province or an invited one."""
    org = await gateway.db[ORGANIZATIONS].find_one({"_id": body.org_id})
    if org is None:
        raise ApiProblem(
            422,
            f"organization {body.org_id!r} is not registered; register it "
            "first (POST /v1/organizations)",
            errors=[FieldProblem(path="org_id", problem="not registered")],
        )
    kinds = SUPPLIER_KINDS if body.party is Party.SUPPLIER else BUYER_KINDS
    if org.get("kind") not in {k.value for k in kinds}:
        raise ApiProblem(
            422,
            f"{indefinite(str(org.get('kind')))} cannot take part as "
            f"{indefinite(body.party.value)}",
            errors=[
                FieldProblem(
                    path="party",
                    problem=f"kind {org.get('kind')}",
                    allowed=sorted(k.value for k in kinds),
                )
            ],
        )
    if body.party is Party.SUPPLIER:
        provinces = [session.get("host_province") or {}, *session.get("invited_provinces", [])]
        codes = {p.get("code") for p in provinces}
        if (org.get("province") or {}).get("code") not in codes:
            names = [p.get("name") for p in provinces if p.get("name")]
            raise ApiProblem(
                422,
                f"suppliers from {(org.get('province') or {}).get('name')} "
                "are not invited to this session",
                errors=[FieldProblem(path="org_id", problem="province not invited", allowed=names)],
            )


@router.get(
    "/{session_id}/participants",
    response_model=Page[ParticipantView],
    responses=ITEM_ERRORS,
    summary="List the session's participants",
)
async def list_participants(
    session_id: PathId,
    gateway: GatewayDep,
    caller: CallerDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    await _own_session(gateway, caller, session_id)
    result = await page(
        gateway.db[PARTICIPANTS], {"session_id": session_id}, "participant_id", limit, cursor
    )
    return result


async def _transition(
    session_id: str,
    request: Request,
    gateway: Gateway,
    caller: Caller,
    key: str | None,
    opening: bool,
) -> Response:
    access.require_role(caller, Role.ORGANIZER, Role.ADMIN, doing="open or close sessions")

    async def write(ids: Ids) -> Response:
        doc = await _own_session(gateway, caller, session_id)
        envelope = {
            "event_id": ids.event(),
            "occurred_at": utcnow(),
            "source": source(caller),
            "session_id": session_id,
        }
        event: SessionOpened | SessionClosed
        if opening:
            require_session_status(doc, "open it", ("scheduled",))
            fields = {name: doc.get(name) for name in _SESSION_FIELDS}
            fields["scope"] = doc.get("scope") or "market"  # sessions from before scopes
            fields["clearing"] = doc.get("clearing") or "instant"  # and before clearing modes
            try:
                session = Session.model_validate({"session_id": session_id, **fields})
            except ValidationError:  # only part of it was recorded (another producer's events)
                raise ApiProblem(409, f"session {session_id!r} is not fully recorded") from None
            event = SessionOpened(**envelope, session=session)
        else:
            require_session_status(doc, "close it", ("open",))
            ending = await closing.pool_endings(gateway, doc, source(caller))
            if ending:  # first: a close that fails here leaves the session open, to retry
                await gateway.publish(*ending)
            event = SessionClosed(**envelope)
        await gateway.publish(event)
        return accepted(event, session_id, _url(session_id))

    return await run_once(request, gateway, caller, key, write)


@router.post(
    "/{session_id}/open",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Open the session",
)
async def open_session(
    session_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _transition(session_id, request, gateway, caller, idempotency_key, True)


@router.post(
    "/{session_id}/close",
    status_code=202,
    response_model=Accepted,
    responses=CHANGE_ERRORS,
    summary="Close the session",
)
async def close_session(
    session_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _transition(session_id, request, gateway, caller, idempotency_key, False)


@router.post(
    "/{session_id}/rounds",
    status_code=202,
    response_model=RoundsClosed,
    responses=CHANGE_ERRORS,
    summary="Close a clearing round of the session (scope session, clearing rounds)",
)
async def close_round(
    session_id: PathId,
    request: Request,
    gateway: GatewayDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Match the session's waiting orders now, all at once: for each market with open orders
    in the session, the matcher allocates them for the most tonnes, then the best scores, and
    proposes the result as usual (the parties accept or decline). Only the session's own pool
    is cleared. The session must be open, with scope `session` and clearing `rounds` (409
    otherwise). A round also closes on its own every `KETNOI_ROUND_SECONDS` (300 s). Calling
    again closes another round: harmless, it allocates only what is still open; a retry with
    the same `Idempotency-Key` sends nothing new."""
    access.require_role(caller, Role.ORGANIZER, Role.ADMIN, doing="close clearing rounds")

    async def write(ids: Ids) -> Response:
        doc = await _own_session(gateway, caller, session_id)
        rounds.require_rounds(doc)
        require_session_status(doc, "close a clearing round", ("open",))
        markets = await rounds.pool_markets(gateway, session_id)
        ticks = rounds.round_ticks(ids, session_id, markets, source(caller))
        if ticks:
            await gateway.publish(*ticks)
        status_url = f"/v1/matches?session_id={session_id}"
        body = RoundsClosed(session_id=session_id, markets=markets, status_url=status_url,
                            event_ids=[tick.event_id for tick in ticks])  # fmt: skip
        return JSONResponse(body.model_dump(mode="json"), status_code=202,
                            headers={"Location": status_url})  # fmt: skip

    return await run_once(request, gateway, caller, idempotency_key, write)


@router.get(
    "/{session_id}/stats",
    response_model=SessionStats,
    responses=ITEM_ERRORS,
    summary="The session's figures: participants, orders, matches, volume and value",
)
async def session_stats(session_id: PathId, gateway: GatewayDep, caller: CallerDep) -> dict:
    doc = await _own_session(gateway, caller, session_id)
    return {**await figure_reads.session_figures(gateway, session_id), "status": doc.get("status")}
