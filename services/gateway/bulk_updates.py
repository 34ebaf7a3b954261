"""Bulk updates: a re-imported catalogue's changed rows in one request, with a result per item.

Each item is checked as ``PUT /v1/offers/{id}`` (or a demand's) checks it, with the same
answers per item: 404 not visible, 409 withdrawn or a changed owner or market, 412 a stale
``if_match``, 422 invalid. What differs is the cost: the stored items and their revision
counters are read with one query each for the whole request, and the accepted events go to
Kafka together: a re-import's 500 changed rows are one request, not 500 (each with its
idempotency record, two reads and a publish).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from schemas.events import Envelope
from services.gateway import access, bulk
from services.gateway.common import refuse_change
from services.gateway.context import Gateway
from services.gateway.idempotency import Ids
from services.gateway.keys import Caller
from services.gateway.problems import ApiProblem
from services.gateway.revisions import next_revisions


@dataclass(frozen=True)
class Change:
    """One item of a bulk update, validated: the id, the revision the client read (or None)
    and the new submission."""

    index: int
    item_id: str
    expected: int | None
    body: Any


@dataclass(frozen=True)
class Kind:
    """What differs between offers and demands."""

    name: str  # "offer" / "demand"
    collection: str
    party: str  # the owner's field: "supplier_id" / "buyer_id"
    closed: str  # the status after which an item cannot change: "withdrawn" / "cancelled"
    closed_hint: str  # what to do instead: "publish a new one"
    owner_kept: str  # why the owner cannot change
    market_kept: str  # why the market cannot change
    category_path: str  # "product.category" / "criteria.category"
    # the owners (stored) this caller may NOT change items of
    refused_owners: Callable[[Gateway, Caller, set[str]], Awaitable[set[str]]]
    # the update event of one change, given its stored document and new revision
    event: Callable[[Ids, Caller, Change, dict[str, Any], int], Envelope]
    url: Callable[[str], str]

    def category(self, document: Any) -> Any:
        head, _, field = self.category_path.partition(".")
        part = document.get(head) if isinstance(document, dict) else getattr(document, head)
        if part is None:
            return None
        return part.get(field) if isinstance(part, dict) else getattr(part, field)


async def update_many(
    gateway: Gateway, caller: Caller, request: Request, kind: Kind, changes: list[Change],
    results: dict[int, bulk.ItemResult], ids: Ids,
) -> JSONResponse:  # fmt: skip
    """Check every change, hand out revisions, publish the accepted ones together."""
    first: dict[str, int] = {}
    for change in changes:
        if first.setdefault(change.item_id, change.index) != change.index:
            results[change.index] = bulk.refusal(change.index, ApiProblem(
                409, f"{kind.name} {change.item_id!r} is already changed by item "
                f"{first[change.item_id]} of this request: one change per item",
            ))  # fmt: skip
    changes = [c for c in changes if c.index not in results]
    wanted = sorted({c.item_id for c in changes})
    stored: dict[str, dict[str, Any]] = {}
    if wanted:  # (an empty $in reads nothing on MongoDB, but the whole collection on FerretDB)
        found = gateway.db[kind.collection].find({"_id": {"$in": wanted}})
        stored = {doc["_id"]: doc async for doc in found}
    owners = {str(doc.get(kind.party) or "") for doc in stored.values()}
    refused = await kind.refused_owners(gateway, caller, owners)
    checked: list[tuple[Change, dict[str, Any]]] = []
    for change in changes:
        doc = stored.get(change.item_id)
        try:
            if doc is None or str(doc.get(kind.party) or "") in refused:
                raise access.not_found(kind.name, change.item_id)
            check_change(kind, change.item_id, change.body, doc)
        except ApiProblem as exc:
            results[change.index] = bulk.refusal(change.index, exc, within=kind.name)
            continue
        assert doc is not None
        checked.append((change, doc))
    revisions = await next_revisions(gateway, {
        c.item_id: (doc.get("revision") or 1, c.expected) for c, doc in checked
    })  # fmt: skip
    events = []
    for change, doc in checked:
        revision = revisions[change.item_id]
        if isinstance(revision, ApiProblem):
            results[change.index] = bulk.refusal(change.index, revision)
            continue
        event = kind.event(ids, caller, change, doc, revision)
        events.append(event)
        results[change.index] = bulk.ItemResult(
            index=change.index, status=202, id=change.item_id, event_id=event.event_id,
            status_url=kind.url(change.item_id), revision=revision,
        )  # fmt: skip
    if events:
        await gateway.publish(*events)
    return bulk.respond(list(results.values()), request.url.path)


def check_change(kind: Kind, item_id: str, body: Any, doc: dict[str, Any]) -> None:
    """What an update of a visible item must keep (the single PUT's checks too): not closed,
    the same owner and the same market."""
    if doc.get("status") == kind.closed:
        raise ApiProblem(409, f"{kind.name} {item_id!r} was {kind.closed}; {kind.closed_hint}")
    refuse_change(doc.get(kind.party), getattr(body, kind.party), kind.party, kind.owner_kept)
    refuse_change(kind.category(doc), kind.category(body), kind.category_path, kind.market_kept)
