"""Helpers the resource routers share: 202 answers, pages, filters, session membership."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.collection import AsyncCollection

from schemas.events import Envelope
from schemas.fields import Text
from schemas.orders import Clearing
from schemas.reference.taxonomy import category as lookup_category
from services.common.store import PARTICIPANTS, SESSIONS
from services.gateway.context import Gateway
from services.gateway.keys import Caller
from services.gateway.problems import ApiProblem, FieldProblem, documented
from services.gateway.views import Accepted, decode_cursor, encode_cursor, public
from services.recorder.writes import participant_id

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
PathId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
SessionParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="place it in this open session (the party must be registered in it)",
    ),
]
Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=400, description="`next_cursor` of the previous page; omit for the first"),
]
IdFilter = Annotated[str | None, Query(min_length=1, max_length=128)]
RefSource = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="only items whose `external_ref.source` is this (a connector's source)",
    ),
]
READ_ERRORS = documented(401, 403, 422, 429, 503)
ITEM_ERRORS = documented(401, 404, 422, 429, 503)
WRITE_ERRORS = documented(400, 401, 403, 409, 413, 415, 422, 429, 503, write=True)
CHANGE_ERRORS = documented(400, 401, 403, 404, 409, 413, 415, 422, 429, 503, write=True)
UPDATE_ERRORS = documented(400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503, write=True)


class Reason(BaseModel):
    """Why (optional): shown to the other party and kept with the record."""

    model_config = ConfigDict(extra="forbid")

    reason: Text | None = None


def source(caller: Caller) -> str:
    """The envelope's ``source``: which API client (organization and key) wrote the event."""
    return f"api:{caller.org_id}:{caller.key_id}"


def accepted(
    event: Envelope,
    item_id: str,
    status_url: str,
    *,
    revision: int | None = None,
    status: int = 202,
) -> JSONResponse:
    body = Accepted(event_id=event.event_id, id=item_id, status_url=status_url, revision=revision)
    headers = {"Location": status_url}
    if revision is not None:
        headers["ETag"] = f'"{revision}"'
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def page(
    collection: AsyncCollection,
    query: dict[str, Any],
    id_field: str,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Items in ``_id`` order after the cursor: stable while new items arrive."""
    after = decode_cursor(cursor)
    if after is not None:
        query = {**query, "_id": {"$gt": after}}
    docs = await collection.find(query).sort("_id", 1).limit(limit + 1).to_list()
    items = [public(doc, id_field) for doc in docs[:limit]]
    more = len(docs) > limit
    return {
        "items": items,
        "count": len(items),
        "next_cursor": encode_cursor(docs[limit - 1]["_id"]) if more else None,
    }


def narrow(scope: dict[str, Any], field: str, value: str | None, what: str) -> dict[str, Any]:
    """Add a client's filter to the caller's scope; asking for another's data is refused."""
    if value is None:
        return scope
    rule = scope.get(field)
    if rule is not None:
        allowed = rule["$in"] if isinstance(rule, dict) else [rule]
        if value not in allowed:
            raise ApiProblem(
                403,
                f"this key cannot read {what} of {field} {value!r}",
                errors=[
                    FieldProblem(
                        path=f"query.{field}",
                        problem="not this organization's",
                        allowed=list(allowed)[:20],
                    )
                ],
            )
    return {**scope, field: value}


def refuse_change(stored: Any, sent: Any, path: str, why: str) -> None:
    """409 when an update changes a field that must stay (its owner, its market)."""
    if stored is not None and stored != sent:
        raise ApiProblem(
            409,
            f"{path}: {why}",
            errors=[FieldProblem(path=path, problem=why, allowed=[str(stored)])],
        )


def category_code(value: str | None, path: str = "query.category") -> str | None:
    """A category filter by code or name (``cà phê`` -> ``coffee``), or a clear 422."""
    if value is None:
        return None
    try:
        return lookup_category(value).code
    except ValueError as exc:
        allowed = [str(a) for a in getattr(exc, "allowed", []) or []]
        suggestion = next(iter(getattr(exc, "suggestions", None) or []), None)
        problem = FieldProblem(path=path, problem=str(exc), allowed=allowed, suggestion=suggestion)
        raise ApiProblem(422, f"{path}: unknown category {value!r}", errors=[problem]) from None


@dataclass(frozen=True, slots=True)
class Lane:
    """Where an order matches: its pool (None: the public market) and its clearing mode
    (``instant``: on arrival; ``rounds``: at its market's or session's next round)."""

    pool: str | None = None
    clearing: Clearing = "instant"

    @classmethod
    def kept(cls, stored: dict[str, Any]) -> Lane:
        """An update's: the stored order's own (an order never changes its pool or mode)."""
        return cls(stored.get("pool"), stored.get("clearing") or "instant")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new offer or demand goes: the session it joins (None: none), the closed pool
    it matches in (the session's id when its scope is "session"; None: the public market) and
    that pool's clearing mode (a session-scoped session's own)."""

    session_id: str | None = None
    pool: str | None = None
    pool_clearing: Clearing = "instant"

    def lane(self, category: str, round_markets: Collection[str]) -> Lane:
        """A new order of ``category`` placed here: in its session's pool, by the session's
        mode; in the public market, ``rounds`` when its market is one of ``round_markets``
        (``KETNOI_ROUND_MARKETS``)."""
        if self.pool is not None:
            return Lane(self.pool, self.pool_clearing)
        return Lane(None, "rounds" if category in round_markets else "instant")


async def session_for_order(
    gateway: Gateway, session_id: str | None, party_id: str, party: str
) -> Placement:
    """Check an offer or demand may be placed in a session: it is open and the party takes
    part in it (registered by the organizer); and say which pool the session's scope puts it
    in."""
    if session_id is None:
        return Placement()
    fields = {"status": 1, "scope": 1, "clearing": 1}
    session = await gateway.db[SESSIONS].find_one({"_id": session_id}, fields)
    if session is None:
        problem = FieldProblem(path="query.session_id", problem="no such session")
        raise ApiProblem(422, f"session {session_id!r} does not exist", errors=[problem])
    if session.get("status") != "open":
        raise ApiProblem(
            409,
            f"session {session_id!r} is {session.get('status')}, not open: "
            "offers and demands join a session while it is open",
        )
    member = await gateway.db[PARTICIPANTS].find_one(
        {"_id": participant_id(session_id, party_id)}, {"party": 1}
    )
    if member is None or member.get("party") != party:
        raise ApiProblem(
            403,
            f"{party_id!r} is not registered as a {party} of session "
            f"{session_id!r}; ask its organizer",
        )
    if session.get("scope") != "session":
        return Placement(session_id)
    return Placement(session_id, session_id, session.get("clearing") or "instant")


def require_session_status(
    session: dict[str, Any], doing: str, allowed: tuple[str, ...] = ("scheduled", "open")
) -> None:
    """409 naming the session's status when it does not allow ``doing``."""
    status = session.get("status")
    if status not in allowed:
        raise ApiProblem(
            409,
            f"session {session['_id']!r} is {status}: cannot {doing}",
            errors=[FieldProblem(path="status", problem=str(status), allowed=list(allowed))],
        )
