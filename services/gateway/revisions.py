"""Revision numbers for updates, handed out atomically by the gateway.

The read model lags Kafka by a moment, so two quick updates read from it would both claim
revision N+1 and the second would be silently ignored downstream (an older or equal revision
never overwrites a newer one). A counter per offer or demand, advanced with
``find_one_and_update``, gives each update its own number, and ``If-Match`` becomes an atomic
compare-and-set: of two clients editing revision 3, one gets 4 and the other 412.
"""

from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.common.store import REVISIONS
from services.gateway.context import Gateway
from services.gateway.problems import ApiProblem, FieldProblem


async def next_revision(
    gateway: Gateway,
    entity_id: str,
    recorded: int,
    expected: int | None = None,
    *,
    read: int | None = None,
) -> int:
    """The revision of the next update (one more than the latest recorded or handed out);
    with ``expected`` (If-Match), only if that is the latest. ``read``: the counter's value
    the caller has just read (its first compare-and-set starts from it, without a read)."""
    counters = gateway.db[REVISIONS]
    for _ in range(5):
        if read is None:
            doc = await counters.find_one({"_id": entity_id})
            handed = doc["revision"] if doc else None
        else:
            handed, read = read, None
        latest = max(recorded, handed or 0)
        if expected is not None and expected != latest:
            raise stale(expected, latest)
        if handed is None:
            try:
                await counters.insert_one({"_id": entity_id, "revision": latest + 1})
                return latest + 1
            except DuplicateKeyError:
                continue  # another update of the same item got there first: read again
        moved = await counters.find_one_and_update(
            {"_id": entity_id, "revision": handed},  # compare-and-set on what we read
            {"$set": {"revision": latest + 1}},
            return_document=ReturnDocument.AFTER,
        )
        if moved is not None:
            return latest + 1
    raise ApiProblem(
        409,
        "the item is being changed by other requests; read it and retry",
        headers={"Retry-After": "1"},
    )


def stale(expected: int, latest: int) -> ApiProblem:
    return ApiProblem(
        412,
        f"If-Match names revision {expected}, but the current revision is {latest}: read the "
        "item again and reapply your change",
        extra={"current_revision": latest},
    )


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "3"`` (or ``3``) -> 3; the ETag of an offer or demand is its revision.

    A weak ETag (``W/"3"``) is refused: RFC 9110 compares If-Match strongly, and a weak
    validator promises no byte-for-byte equality to base a change on."""
    if value is None:
        return None
    if value.strip().startswith("W/"):
        problem = FieldProblem(path="header.if-match", problem=f"a weak ETag: {value!r}",
                               allowed=['"1"', '"2"', "..."])  # fmt: skip
        raise ApiProblem(
            422, 'If-Match takes the strong ETag the item was read with, e.g. "3" (not W/"3")',
            errors=[problem],
        )  # fmt: skip
    text = value.strip().strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        problem = FieldProblem(
            path="header.if-match",
            problem=f"not a revision: {value!r}",
            allowed=['"1"', '"2"', "..."],
        )
        raise ApiProblem(422, 'If-Match must be the ETag of the item, e.g. "3"', errors=[problem])
    return int(text)


async def current_revision(gateway: Gateway, entity_id: str, recorded: int) -> int:
    """The ETag to show: an update accepted but not yet recorded (or never delivered, after a
    503) has already used its number, so If-Match must name the counter's value."""
    doc = await gateway.db[REVISIONS].find_one({"_id": entity_id})
    return max(recorded, doc["revision"] if doc else 0)


async def next_revisions(
    gateway: Gateway, wanted: dict[str, tuple[int, int | None]]
) -> dict[str, int | ApiProblem]:
    """``next_revision`` for many items (id -> (recorded, expected)) at once: one read of the
    counters for all of them and one insert of the new ones, instead of a read and a write
    per item (on FerretDB every read reads the whole collection). A counter another request
    moved meanwhile falls back to ``next_revision`` for that item alone."""
    if not wanted:
        return {}
    counters = gateway.db[REVISIONS]
    handed = {doc["_id"]: doc["revision"]
              async for doc in counters.find({"_id": {"$in": list(wanted)}})}  # fmt: skip
    result: dict[str, int | ApiProblem] = {}
    fresh: list[dict[str, object]] = []
    moved: list[str] = []
    for entity_id, (recorded, expected) in wanted.items():
        latest = max(recorded, handed.get(entity_id, 0))
        if expected is not None and expected != latest:
            result[entity_id] = stale(expected, latest)
        elif entity_id in handed:
            moved.append(entity_id)
        else:
            fresh.append({"_id": entity_id, "revision": latest + 1})
            result[entity_id] = latest + 1
    if fresh:
        try:
            await counters.insert_many(fresh, ordered=False)
        except BulkWriteError as exc:  # a concurrent update claimed some first: one by one
            for error in exc.details.get("writeErrors", []):
                entity_id = str(fresh[error["index"]]["_id"])
                del result[entity_id]
                moved.append(entity_id)
    for entity_id in moved:  # compare-and-set on the value read above, or read again
        recorded, expected = wanted[entity_id]
        try:
            result[entity_id] = await next_revision(
                gateway, entity_id, recorded, expected, read=handed.get(entity_id)
            )
        except ApiProblem as exc:
            result[entity_id] = exc
    return result
