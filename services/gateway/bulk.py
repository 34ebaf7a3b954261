"""Bulk writes: a province's catalogue in one request, with a result for every item.

Each item is validated and authorized on its own, so one bad row does not sink the other 499;
the accepted ones go to Kafka together (pipelined) and the answer says, per index, the id
assigned or what was wrong. All refused: 422. Kafka not acknowledging: 503 for the whole
request, outcome unknown, naming the Idempotency-Key to retry with (the gateway assigns one when
the request had none): the item ids derive from it, so nothing is doubled. An item whose event
exceeds ``max_event_bytes``: 413 for the whole request, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from schemas.problems import explain
from services.gateway.problems import PROBLEM_JSON, ApiProblem, FieldProblem, problem_body

M = TypeVar("M", bound=BaseModel)


class ItemResult(BaseModel):
    index: int = Field(description="position of the item in the request")
    status: int = Field(description="202 accepted, 403 not allowed, 409 conflict, 422 invalid")
    id: str | None = None
    event_id: uuid.UUID | None = None
    status_url: str | None = None
    revision: int | None = Field(default=None, description="for updates: the new revision")
    detail: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class BulkAccepted(BaseModel):
    accepted: int
    rejected: int
    results: list[ItemResult]


def too_many(count: int, limit: int) -> ApiProblem:
    return ApiProblem(
        413,
        f"{count} items in one request; at most {limit}: split the catalogue into requests of "
        f"{limit} or fewer",
        errors=[FieldProblem(path="items", problem=f"{count} items", allowed=[f"<= {limit}"])],
        kind="too-many-items",
    )


ITEM_ERRORS = 10
"""Field problems listed per refused item (a 500-item bulk answer stays small)."""


SLICE_S = 0.001
"""Bulk validation hands the event loop its turn after about this much CPU (see
``validate_items``)."""


async def validate_items(
    model: type[M], items: Sequence[Any], *, clock: Callable[[], float] = time.perf_counter
) -> tuple[list[tuple[int, M]], dict[int, ItemResult]]:
    """(index, valid item) pairs, and a 422 result for every invalid one.

    Validated on the event loop in slices of about ``SLICE_S``, yielding in between: 500 items
    take a few hundred milliseconds of CPU, and other requests (a quiet key's single offer)
    go ahead between the slices. A worker thread did this before, but a thread computing holds
    the GIL for the interpreter's switch interval (5 ms) each time the loop lets go of it, so
    every step of every other request waited up to 5 ms (measured under overload: loop lag p99
    8 ms, a quiet key's p99 several times its unloaded one)."""
    valid: list[tuple[int, M]] = []
    refused: dict[int, ItemResult] = {}
    sliced = clock()
    for index, raw in enumerate(items):
        _validate_item(model, index, raw, valid, refused)
        if clock() - sliced >= SLICE_S and index + 1 < len(items):
            await asyncio.sleep(0)
            sliced = clock()
    return valid, refused


def _validate_item(
    model: type[M],
    index: int,
    raw: Any,
    valid: list[tuple[int, M]],
    refused: dict[int, ItemResult],
) -> None:
    try:
        valid.append((index, model.model_validate(raw)))
    except ValidationError as exc:
        problems = [_at(index, p.as_dict()) for p in explain(exc)[:ITEM_ERRORS]]
        refused[index] = ItemResult(
            index=index,
            status=422,
            errors=problems,
            detail="; ".join(f"{p.path}: {p.problem}" for p in problems[:3]),
        )


def _at(index: int, problem: dict[str, Any]) -> FieldProblem:
    path = problem["path"]
    prefix = f"items[{index}]"
    problem["path"] = prefix if path == "(body)" else f"{prefix}.{path}"
    return FieldProblem(**problem)


def refusal(index: int, exc: ApiProblem, within: str = "") -> ItemResult:
    """An item's refusal; its field paths named from the request's root (``within``: the
    item's field that holds the checked body, as ``offer`` in a bulk update)."""
    prefix = f"items[{index}]." + (f"{within}." if within else "")
    errors = [FieldProblem(**{**e.model_dump(), "path": prefix + e.path}) for e in exc.errors]
    return ItemResult(index=index, status=exc.status, detail=exc.detail, errors=errors)


class BulkResponse(JSONResponse):
    """A bulk answer that keeps its payload: the idempotency record stores it compacted, and
    parsing the 100 KB just encoded back would cost as much as encoding it."""

    def __init__(self, payload: dict[str, Any], status_code: int) -> None:
        super().__init__(payload, status_code=status_code)
        self.payload = payload


def respond(results: list[ItemResult], instance: str) -> JSONResponse:
    accepted = sum(r.status == 202 for r in results)
    body = BulkAccepted(
        accepted=accepted,
        rejected=len(results) - accepted,
        results=sorted(results, key=lambda r: r.index),
    )
    payload = body.model_dump(mode="json")
    if accepted:
        return BulkResponse(payload, status_code=202)
    problem = problem_body(
        422,
        f"none of the {len(results)} items was accepted; see results",
        instance=instance,
        extra=payload,
    )
    return JSONResponse(problem, status_code=422, media_type=PROBLEM_JSON)
