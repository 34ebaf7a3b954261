"""Who stands where in a session's programme, and the meetings it should hold.

The meeting routes share this: the caller's standing in a session (its organizer, or a
registered participant and its party), a meeting's id for a pair, and the wishes the scheduler
places: every pair with confirmed matches in the session (weighted by their value) and every
pair a participant asked to meet, with the meetings already scheduled kept where they are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import derived_id
from schemas.matches import Party
from services.common.figures import match_session, value_vnd
from services.common.store import DEMANDS, MATCHES, MEETINGS, OFFERS, PARTICIPANTS, SESSIONS
from services.gateway import access
from services.gateway.context import Gateway
from services.gateway.keys import Caller, Role
from services.gateway.problems import ApiProblem, FieldProblem
from services.programme.scheduling import MeetingWish, Placement
from services.recorder.writes import participant_id

PARTY_OF_ROLE = {Role.RETAILER: Party.BUYER, Role.SUPPLIER: Party.SUPPLIER}
MAX_MATCH_IDS = 200


@dataclass(frozen=True)
class Standing:
    """The caller in one session: its organizer (or the admin), or a participant."""

    session: dict[str, Any]
    organizer: bool
    org_id: str | None = None
    party: Party | None = None

    @property
    def session_id(self) -> str:
        return self.session["_id"]


async def standing(gateway: Gateway, caller: Caller, session_id: str) -> Standing:
    """404 unless the caller organizes the session, is the admin, or takes part in it (a buyer
    with a retailer key, a supplier with a supplier key), as for any id it may not see."""
    session = await gateway.db[SESSIONS].find_one({"_id": session_id})
    if session is None:
        raise access.not_found("session", session_id)
    if caller.role is Role.ADMIN or (
        caller.role is Role.ORGANIZER and session.get("organizer_id") == caller.org_id
    ):
        return Standing(session, organizer=True)
    party = PARTY_OF_ROLE.get(caller.role)
    member = await participant(gateway, session_id, caller.org_id) if party else None
    if member is None or member.get("party") != party.value:
        raise access.not_found("session", session_id)
    return Standing(session, organizer=False, org_id=caller.org_id, party=party)


async def participant(gateway: Gateway, session_id: str, org_id: str) -> dict[str, Any] | None:
    return await gateway.db[PARTICIPANTS].find_one({"_id": participant_id(session_id, org_id)})


def require_organizer(place: Standing, doing: str) -> None:
    if not place.organizer:
        raise ApiProblem(403, f"only the session's organizer can {doing}")


async def acting_participant(
    gateway: Gateway, place: Standing, caller: Caller, org_id: str | None, path: str = "org_id"
) -> tuple[str, Party]:
    """The participant a request acts for: the caller itself, or (for the admin or the
    organizer) the one named in ``org_id``."""
    if not place.organizer:
        if org_id is not None and org_id != place.org_id:
            raise ApiProblem(
                403,
                f"this key acts for {place.org_id!r} only",
                errors=[FieldProblem(path=path, problem="another organization",
                                     allowed=[str(place.org_id)])],
            )  # fmt: skip
        assert place.org_id is not None and place.party is not None
        return place.org_id, place.party
    if caller.role is not Role.ADMIN:
        raise ApiProblem(403, "an organizer key cannot act for a participant; the participant does")
    if org_id is None:
        raise ApiProblem(
            422,
            f"{path}: an admin key names the participant it acts for",
            errors=[FieldProblem(path=path, problem="required for an admin key")],
        )
    member = await participant(gateway, place.session_id, org_id)
    if member is None:
        raise ApiProblem(
            422,
            f"{path}: {org_id!r} is not a participant of session {place.session_id!r}",
            errors=[FieldProblem(path=path, problem="not a participant")],
        )
    return org_id, Party(member["party"])


def meeting_id(session_id: str, buyer_id: str, supplier_id: str, round_: int) -> str:
    """The id of a pair's meeting; ``round_`` counts the pair's cancelled meetings, so a
    meeting after a cancellation is a new one, and a retried request or run converges."""
    return derived_id("meeting", session_id, buyer_id, supplier_id, str(round_))


def plan_of(session: dict[str, Any], doing: str) -> dict[str, Any]:
    plan = session.get("meeting_plan")
    if not plan or not plan.get("slots"):
        raise ApiProblem(
            409,
            f"session {session['_id']!r} has no meeting plan: set its slots and tables first "
            f"(PUT /v1/sessions/{session['_id']}/meeting-plan), then {doing}",
        )
    return plan


def slot_times(plan: dict[str, Any], slot: int) -> tuple[datetime, datetime]:
    item = plan["slots"][slot]
    return datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])


# -- the session's meetings and wishes ---------------------------------------------------------


@dataclass
class Pair:
    """One buyer and one supplier who should meet, and why."""

    buyer_id: str
    supplier_id: str
    value_vnd: int = 0
    match_ids: list[str] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)
    requested_by: list[str] = field(default_factory=list)

    @property
    def category(self) -> str | None:
        return max(self.categories, key=self.categories.__getitem__) if self.categories else None


@dataclass
class Programme:
    """A session's meetings as stored, by pair."""

    session_id: str
    meetings: list[dict[str, Any]]
    scheduled: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requested: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cancelled: dict[tuple[str, str], int] = field(default_factory=dict)
    cancelled_slots: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def current_id(self, buyer_id: str, supplier_id: str) -> str:
        """The id the pair's next (or present) meeting has."""
        pair = (buyer_id, supplier_id)
        if pair in self.scheduled:
            return self.scheduled[pair]["_id"]
        return meeting_id(self.session_id, buyer_id, supplier_id, self.cancelled.get(pair, 0))


async def programme(gateway: Gateway, session_id: str) -> Programme:
    docs = await gateway.db[MEETINGS].find({"session_id": session_id}).to_list()
    found = Programme(session_id, docs)
    for doc in docs:
        pair = (doc.get("buyer_id"), doc.get("supplier_id"))
        status = doc.get("status")
        if status == "scheduled":
            found.scheduled[pair] = doc
        elif status == "requested":
            found.requested[pair] = doc
        elif status == "cancelled":
            found.cancelled[pair] = found.cancelled.get(pair, 0) + 1
            if doc.get("cancelled_by") is not None and doc.get("slot") is not None:
                found.cancelled_slots[doc["cancelled_by"]].add(int(doc["slot"]))
    # A request recorded for an earlier round (before a cancellation) no longer counts.
    found.requested = {
        pair: doc for pair, doc in found.requested.items() if doc["_id"] == found.current_id(*pair)
    }
    return found


async def members(gateway: Gateway, session_id: str) -> dict[str, dict[str, Any]]:
    cursor = gateway.db[PARTICIPANTS].find({"session_id": session_id})
    return {doc["org_id"]: doc async for doc in cursor}


def unavailable(
    roster: dict[str, dict[str, Any]], found: Programme, slots: int
) -> dict[str, frozenset[int]]:
    """Slots each participant cannot do: what it said, and the slots it cancelled."""
    out: dict[str, frozenset[int]] = {}
    for org_id, doc in roster.items():
        said = {int(s) for s in doc.get("unavailable_slots") or [] if 0 <= int(s) < slots}
        out[org_id] = frozenset(said | found.cancelled_slots.get(org_id, set()))
    return out


async def confirmed_pairs(gateway: Gateway, session_id: str) -> dict[tuple[str, str], Pair]:
    """Pairs with matches confirmed in the session (both sides accepted), with their value. A
    match belongs to its demand's session, else to its offer's."""
    db = gateway.db
    demand_ids = [d["_id"] async for d in db[DEMANDS].find({"session_id": session_id}, {"_id": 1})]
    offer_ids = [o["_id"] async for o in db[OFFERS].find({"session_id": session_id}, {"_id": 1})]
    found: dict[str, dict[str, Any]] = {}
    if demand_ids:
        query = {"demand_id": {"$in": demand_ids}, "status": "confirmed"}
        found.update({m["_id"]: m async for m in db[MATCHES].find(query)})
    if offer_ids:
        query = {"offer_id": {"$in": offer_ids}, "status": "confirmed"}
        via_offer = [m async for m in db[MATCHES].find(query) if m["_id"] not in found]
        others = sorted({m["demand_id"] for m in via_offer})
        sessions = {
            d["_id"]: d.get("session_id")
            async for d in db[DEMANDS].find({"_id": {"$in": others}}, {"session_id": 1})
        }
        found.update({
            m["_id"]: m for m in via_offer
            if match_session(sessions.get(m["demand_id"]), session_id) == session_id
        })  # fmt: skip
    pairs: dict[tuple[str, str], Pair] = {}
    for match in sorted(found.values(), key=lambda m: m["_id"]):
        key = (match["buyer_id"], match["supplier_id"])
        pair = pairs.setdefault(key, Pair(*key))
        pair.value_vnd += value_vnd(
            match.get("quantity_kg") or 0.0, match.get("unit_price_vnd"), match.get("price_unit")
        )
        if len(pair.match_ids) < MAX_MATCH_IDS:
            pair.match_ids.append(match["_id"])
        category = match.get("category")
        if category:
            pair.categories[category] = pair.categories.get(category, 0) + 1
    return pairs


@dataclass
class Wishes:
    """What the scheduler gets, and the pairs it cannot even be asked about."""

    wishes: list[MeetingWish]
    fixed: list[Placement]
    pairs: dict[str, Pair]
    """By meeting id (the wish's key)."""
    refused: list[dict[str, str]]


def wishes_for(
    found: Programme, confirmed: dict[tuple[str, str], Pair], roster: dict[str, dict[str, Any]]
) -> Wishes:
    """Every pair that should meet: confirmed matches and requests, the scheduled ones fixed."""
    pairs = dict(confirmed)
    for key, doc in found.requested.items():
        pair = pairs.setdefault(key, Pair(*key))
        pair.requested_by = list(doc.get("requested_by") or [])
    for key in found.scheduled:
        pairs.setdefault(key, Pair(*key))
    out = Wishes([], [], {}, [])
    for (buyer, supplier), pair in sorted(pairs.items()):
        absent = [
            (party, org)
            for party, org in (("buyer", buyer), ("supplier", supplier))
            if (roster.get(org) or {}).get("party") != party
        ]
        key = found.current_id(buyer, supplier)
        if absent and (buyer, supplier) not in found.scheduled:
            party, org = absent[0]
            reason = f"{party} {org} is not registered as a {party} of the session"
            out.refused.append({"buyer_id": buyer, "supplier_id": supplier, "reason": reason})
            continue
        weight = max(1, pair.value_vnd)  # requests alone weigh least
        out.wishes.append(MeetingWish(key, buyer, supplier, weight))
        out.pairs[key] = pair
        scheduled = found.scheduled.get((buyer, supplier))
        if scheduled is not None:
            out.fixed.append(Placement(key, int(scheduled["slot"]), int(scheduled["table"])))
    return out


# -- one meeting -------------------------------------------------------------------------------


async def visible_meeting(
    gateway: Gateway, caller: Caller, meeting_id_: str
) -> tuple[dict[str, Any], Standing]:
    """The meeting and the caller's standing in its session: 404 unless the caller organizes
    the session, is the admin, or is the meeting's buyer or supplier."""
    doc = await gateway.db[MEETINGS].find_one({"_id": meeting_id_})
    if doc is None:
        raise access.not_found("meeting", meeting_id_)
    try:
        place = await standing(gateway, caller, doc["session_id"])
    except ApiProblem:
        raise access.not_found("meeting", meeting_id_) from None
    if not place.organizer and doc.get(f"{place.party}_id") != place.org_id:
        raise access.not_found("meeting", meeting_id_)
    return doc, place


def acting_party(place: Standing, caller: Caller, party: Party | None, doing: str) -> Party:
    """The side of the meeting a request speaks for: the caller's own, or (the admin) the one
    it names."""
    if not place.organizer:
        assert place.party is not None
        if party is not None and party is not place.party:
            raise ApiProblem(
                403,
                f"this key speaks for the {place.party.value} only",
                errors=[FieldProblem(path="party", problem="the other side",
                                     allowed=[place.party.value])],
            )  # fmt: skip
        return place.party
    if caller.role is not Role.ADMIN:
        raise ApiProblem(403, f"only the meeting's buyer or supplier can {doing}")
    if party is None:
        raise ApiProblem(
            422,
            "party: an admin key names the side it speaks for",
            errors=[FieldProblem(path="party", problem="required for an admin key",
                                 allowed=[p.value for p in Party])],
        )  # fmt: skip
    return party


def require_scheduled(doc: dict[str, Any], doing: str) -> None:
    status = doc.get("status")
    if status != "scheduled":
        raise ApiProblem(
            409,
            f"meeting {doc['_id']!r} is {status}: cannot {doing}",
            errors=[FieldProblem(path="status", problem=str(status), allowed=["scheduled"])],
        )


INTERNAL_FIELDS = ("seat", "buyer_seat", "supplier_seat", "revision")


def meeting_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored meeting as the API shows it (without its seat keys and stage)."""
    shown = {k: v for k, v in doc.items() if k not in INTERNAL_FIELDS and k != "_id"}
    return {"meeting_id": doc["_id"], **shown}
