"""Safe retries: an ``Idempotency-Key`` makes a repeated write return the first answer.

The record of (organization, key) holds a hash of the request and, once done, the answer.
Only features MongoDB 7 and FerretDB v1 share: an insert on ``_id`` (the unique key) claims the
key, ``find_one_and_update`` guards the takeover of an abandoned claim, and plain deletes.

- first request: insert a *pending* record, produce, then store the answer (2xx only);
- same key, same request, done: the stored answer, with ``Idempotent-Replayed: true``;
- same key, same request, still pending: 409 (in progress), retry shortly;
- same key, different request: 409, nothing produced;
- the produce failed (503) or the request was refused (4xx): the claim is deleted, so a retry
  runs again. Ids of what a keyed request creates derive from (org, key, request), so even a
  retry after an ambiguous Kafka failure produces the same events, which consumers apply once.

A request without a key gets one from the gateway (random), and its ids derive from it exactly
as they would for a client's key, but no record is written (the fast path stays one produce).
Kafka may still deliver an event the gateway answered 503 for (see ``publisher.py``), so that
503 names the key, the ids and the event ids: the client's retry with the key converges on
them instead of creating a second offer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse, Response
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from schemas.events import derived_id
from services.common.store import IDEMPOTENCY
from services.gateway.bulk import BulkResponse
from services.gateway.context import Gateway
from services.gateway.keys import Caller
from services.gateway.logs import log
from services.gateway.problems import ApiProblem
from services.gateway.publisher import PublishUnavailable, WriteAttempt

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID) per logical write: a retry with the same "
        "key returns the first answer instead of writing twice. Without one, a 503 names a key "
        "the gateway assigned: retry with it.",
    ),
]
REPLAYED = "Idempotent-Replayed"
_KEPT_HEADERS = ("location", "etag")


class Ids:
    """Ids for what a request creates, derived from its idempotency seed, with a record of each
    one handed out: a 503 names them, so a retry with the same key converges on them."""

    def __init__(self, seed: str, *, key: str | None = None, generated: bool = False) -> None:
        self.seed = seed
        self.key = key
        self.generated = generated
        self._entities: dict[tuple[str, int], str] = {}
        self._events: dict[int, uuid.UUID] = {}

    @classmethod
    def for_request(cls, org_id: str, key: str, digest: str, *, generated: bool = False) -> Ids:
        """The one seed formula, shared by client keys and gateway-assigned ones."""
        return cls(f"idem|{org_id}|{key}|{digest}", key=key, generated=generated)

    def entity(self, kind: str, index: int = 0) -> str:
        """The id of what item ``index`` creates, recorded as handed out."""
        value = self._entities[(kind, index)] = self.derived(kind, index)
        return value

    def event(self, index: int = 0) -> uuid.UUID:
        value = self._events[index] = self.derived_event(index)
        return value

    def derived(self, kind: str, index: int) -> str:
        """The id ``entity(kind, index)`` gives (looked up when it was handed out already)."""
        handed = self._entities.get((kind, index))
        return handed if handed is not None else derived_id(self.seed, kind, str(index))

    def derived_event(self, index: int) -> uuid.UUID:
        handed = self._events.get(index)
        if handed is not None:
            return handed
        return uuid.UUID(derived_id(self.seed, "event", str(index)))

    def attempt(self) -> WriteAttempt | None:
        """What was handed out so far, and the key a retry must send to get it again."""
        if self.key is None:
            return None
        return WriteAttempt(
            idempotency_key=self.key,
            generated=self.generated,
            created=tuple((kind, value) for (kind, _), value in self._entities.items()),
            event_ids=tuple(str(value) for value in self._events.values()),
        )


Handler = Callable[[Ids], Awaitable[Response]]


async def request_hash(request: Request) -> str:
    """What makes two requests "the same": method, route, query, If-Match and the JSON body."""
    raw = await request.body()
    body = ""
    try:  # parsed once already (``StrictJsonRoute``): Starlette caches it on the request
        if raw:
            parsed = await request.json()
            body = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    head = "\n".join(
        [
            request.method,
            request.url.path,
            str(sorted(request.query_params.items())),
            request.headers.get("if-match", ""),
        ]
    )
    return hashlib.sha256(head.encode() + b"\n" + body.encode()).hexdigest()


async def run_once(
    request: Request, gateway: Gateway, caller: Caller, key: str | None, handler: Handler
) -> Response:
    """Run ``handler`` at most once per (organization, key) and the same request."""
    digest = await request_hash(request)
    if key is None:
        assigned = uuid.uuid4().hex  # no record: the key only seeds ids a 503 hands back
        return await _publishing(
            handler, Ids.for_request(caller.org_id, assigned, digest, generated=True)
        )
    record_id = hashlib.sha256(f"{caller.org_id}\n{key}".encode()).hexdigest()
    records = gateway.db[IDEMPOTENCY]
    now = datetime.now(UTC)
    claim = {
        "_id": record_id,
        "org_id": caller.org_id,
        "key": key,
        "request_hash": digest,
        "state": "pending",
        "created_at": now,
    }
    try:
        await records.insert_one(claim)
    except DuplicateKeyError:
        existing = await records.find_one({"_id": record_id})
        replay = await _existing(gateway, existing, claim, key)
        if replay is not None:
            return replay
    ids = Ids.for_request(caller.org_id, key, digest)
    try:
        response = await _publishing(handler, ids)
    except BaseException:
        await records.delete_one({"_id": record_id, "state": "pending", "created_at": now})
        raise
    if 200 <= response.status_code < 300:
        headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
        await records.update_one(
            {"_id": record_id, "state": "pending"},
            {
                "$set": {
                    "state": "done",
                    "status": response.status_code,
                    "headers": headers,
                    "body": compact(_payload(response), ids),
                    "done_at": datetime.now(UTC),
                }
            },
        )
    else:
        await records.delete_one({"_id": record_id, "state": "pending", "created_at": now})
    return response


def _payload(response: Response) -> Any:
    return response.payload if isinstance(response, BulkResponse) else json.loads(response.body)


async def _publishing(handler: Handler, ids: Ids) -> Response:
    """Run the handler; a failed publish carries what it handed out, for the 503 to name."""
    try:
        return await handler(ids)
    except PublishUnavailable as exc:
        exc.attempt = ids.attempt()
        raise


async def _existing(
    gateway: Gateway, existing: dict[str, Any] | None, claim: dict[str, Any], key: str
) -> Response | None:
    """The answer to a repeated key, or None when we took over an abandoned claim."""
    records = gateway.db[IDEMPOTENCY]
    if existing is None:  # deleted between our insert and read: the first one failed
        try:
            await records.insert_one(claim)
            return None
        except DuplicateKeyError:
            raise _in_progress(key) from None
    if existing["request_hash"] != claim["request_hash"]:
        raise ApiProblem(
            409,
            f"Idempotency-Key {key!r} was already used for a different request; use a new key "
            "for a new write",
            kind="idempotency-key-reused",
        )
    if existing["state"] == "done":
        gateway.metrics.idempotent_replays.inc()
        log.info("idempotent replay", extra={"idempotency_key": key})
        headers = {**existing.get("headers", {}), REPLAYED: "true"}
        ids = Ids.for_request(existing["org_id"], key, existing["request_hash"])
        body = expand(existing["body"], ids)
        return JSONResponse(body, status_code=existing["status"], headers=headers)
    # Pending: in progress, unless older than any write can take (a crashed gateway).
    stale = claim["created_at"] - timedelta(seconds=_abandoned_after(gateway))
    taken = await records.find_one_and_update(
        {"_id": existing["_id"], "state": "pending", "created_at": {"$lt": stale}},
        {"$set": {"created_at": claim["created_at"]}},
        return_document=ReturnDocument.AFTER,
    )
    if taken is None:
        raise _in_progress(key)
    return None


_DERIVED = "derived_results"
_PLAIN_ACCEPTED = {
    "index", "status", "id", "event_id", "status_url", "revision", "detail", "errors"
}  # fmt: skip


def compact(body: Any, ids: Ids) -> Any:
    """A bulk answer as its record keeps it. An accepted item's id, event id and URL derive
    from the key (``Ids``), so it is kept as a run of indexes: a 500-item answer takes a few
    hundred bytes instead of 100 KB. FerretDB reads every record of the collection on an
    update of one (its updates are not ``_id`` lookups), so 100 KB records made every
    idempotent write after a catalogue import take seconds. ``expand`` rebuilds the answer."""
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        return body
    kept: list[Any] = []
    runs: list[dict[str, Any]] = []  # objects, not arrays: FerretDB refuses nested arrays
    for result in results:
        derived = _derivation(result, ids)
        if derived is None:
            kept.append(result)
            continue
        kind, prefix = derived
        last = runs[-1] if runs else None
        if last and last["last"] == result["index"] - 1 and (last["kind"], last["url"]) == derived:
            last["last"] = result["index"]
        else:
            runs.append({"first": result["index"], "last": result["index"], "kind": kind,
                         "url": prefix})  # fmt: skip
    return {**body, "results": kept, _DERIVED: runs}


def _derivation(result: Any, ids: Ids) -> tuple[str, str] | None:
    """(kind, URL prefix) when the result is exactly what ``expand`` rebuilds, else None."""
    if not isinstance(result, dict) or set(result) != _PLAIN_ACCEPTED:
        return None
    index, item_id, url = result["index"], result["id"], result["status_url"]
    if result["status"] != 202 or result["detail"] is not None or result["errors"] != []:
        return None
    if result["revision"] is not None:  # an update's: its id is the client's, not derived
        return None
    if not isinstance(index, int) or not isinstance(url, str) or not url.endswith(str(item_id)):
        return None
    for kind in ("offer", "demand"):
        if item_id == ids.derived(kind, index) and result["event_id"] == str(
            ids.derived_event(index)
        ):
            return kind, url[: len(url) - len(item_id)]
    return None


def expand(body: Any, ids: Ids) -> Any:
    """The answer ``compact`` stored, whole again (answers stored whole pass unchanged)."""
    if not isinstance(body, dict) or _DERIVED not in body:
        return body
    results = list(body["results"])
    for run in body[_DERIVED]:
        kind, prefix = run["kind"], run["url"]
        for index in range(run["first"], run["last"] + 1):
            item_id = ids.derived(kind, index)
            event_id = str(ids.derived_event(index))
            url = prefix + item_id
            results.append({"index": index, "status": 202, "id": item_id, "event_id": event_id,
                            "status_url": url, "revision": None, "detail": None,
                            "errors": []})  # fmt: skip
    results.sort(key=lambda r: r["index"])
    return {k: v for k, v in body.items() if k != _DERIVED} | {"results": results}


def _abandoned_after(gateway: Gateway) -> float:
    return 2 * gateway.settings.publish_timeout_seconds + 30


def _in_progress(key: str) -> ApiProblem:
    return ApiProblem(
        409,
        f"a request with Idempotency-Key {key!r} is still in progress; retry in a moment to "
        "get its answer",
        headers={"Retry-After": "1"},
        kind="idempotency-in-progress",
    )


async def forget_old(gateway: Gateway) -> int:
    """Delete records past the retention (FerretDB has no TTL index, so we sweep)."""
    cutoff = datetime.now(UTC) - timedelta(hours=gateway.settings.idempotency_retention_hours)
    result = await gateway.db[IDEMPOTENCY].delete_many({"created_at": {"$lt": cutoff}})
    return result.deleted_count
