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
import uuid
from collections.abc import Sequence
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


async def validate_items(
    model: type[M], items: Sequence[Any]
) -> tuple[list[tuple[int, M]], dict[int, ItemResult]]:
    """(index, valid item) pairs, and a 422 result for every invalid one. Run in a worker
    thread: 500 items can take a few hundred milliseconds of CPU, and the interpreter hands the
    event loop its turn every few milliseconds meanwhile, so other requests are not held up."""
    return await asyncio.to_thread(_validate_items, model, items)


def _validate_items(
    model: type[M], items: Sequence[Any]
) -> tuple[list[tuple[int, M]], dict[int, ItemResult]]:
    valid: list[tuple[int, M]] = []
    refused: dict[int, ItemResult] = {}
    for index, raw in enumerate(items):
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
    return valid, refused


def _at(index: int, problem: dict[str, Any]) -> FieldProblem:
    path = problem["path"]
    prefix = f"items[{index}]"
    problem["path"] = prefix if path == "(body)" else f"{prefix}.{path}"
    return FieldProblem(**problem)


def refusal(index: int, exc: ApiProblem) -> ItemResult:
    errors = [
        FieldProblem(**{**e.model_dump(), "path": f"items[{index}].{e.path}"}) for e in exc.errors
    ]
    return ItemResult(index=index, status=exc.status, detail=exc.detail, errors=errors)


def respond(results: list[ItemResult], instance: str) -> JSONResponse:
    accepted = sum(r.status == 202 for r in results)
    body = BulkAccepted(
        accepted=accepted,
        rejected=len(results) - accepted,
        results=sorted(results, key=lambda r: r.index),
    )
    payload = body.model_dump(mode="json")
    if accepted:
        return JSONResponse(payload, status_code=202)
    problem = problem_body(
        422,
        f"none of the {len(results)} items was accepted; see results",
        instance=instance,
        extra=payload,
    )
    return JSONResponse(problem, status_code=422, media_type=PROBLEM_JSON)
