"""Errors as RFC 9457 problem details, so a clerk (or a script) sees what to fix and how.

Every refusal, from a bad unit to a full Kafka, has the same shape: ``type`` (a stable URN a
client can branch on), ``title``, ``status``, ``detail`` and, for field errors, ``errors``
with the field's path, what was wrong, the allowed values and the closest match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.problems import Problem, explain_errors
from services.gateway.logs import current_request_id, log
from services.gateway.publisher import EventTooLarge, PublishUnavailable, WriteAttempt

PROBLEM_JSON = "application/problem+json"
MAX_FIELD_ERRORS = 20
"""Field problems listed in one answer: explaining each costs work (a closest match is
searched), and a client fixes the first ones before it reads the rest."""

# status -> (type slug, title in English · Vietnamese)
_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request · Yêu cầu sai"),
    401: ("unauthenticated", "API key missing or invalid · Thiếu hoặc sai khóa API"),
    403: ("forbidden", "Not allowed for this organization · Không được phép"),
    404: ("not-found", "Not found · Không tìm thấy"),
    405: ("method-not-allowed", "Method not allowed · Phương thức không được hỗ trợ"),
    409: ("conflict", "Conflict with the current state · Xung đột với trạng thái hiện tại"),
    412: ("stale-revision", "Stale revision · Phiên bản đã cũ"),
    413: ("too-large", "Request too large · Yêu cầu quá lớn"),
    415: ("unsupported-media-type", "Send UTF-8 JSON · Hãy gửi JSON mã hóa UTF-8"),
    422: ("invalid-request", "Invalid request · Yêu cầu không hợp lệ"),
    429: ("rate-limited", "Too many requests · Quá nhiều yêu cầu"),
    500: ("internal", "Internal error · Lỗi hệ thống"),
    503: ("unavailable", "Service unavailable, retry later · Tạm thời không phục vụ được"),
}


def indefinite(noun: str) -> str:
    """``a retailer``, ``an organizer``: the article a problem's sentence needs before a role
    or kind (all of ours start with a letter whose sound the spelling gives away)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


class FieldProblem(BaseModel):
    """One thing wrong with one field."""

    path: str = Field(description="where: e.g. `quantity.unit`, `items[3].product.category`")
    problem: str = Field(description="what is wrong, in words")
    allowed: list[str] = Field(default_factory=list, description="values that would be accepted")
    suggestion: str | None = Field(default=None, description="the closest allowed value")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URN naming the kind of problem, e.g. urn:ketnoi:problem:…")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="the request path")
    request_id: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class ApiProblem(Exception):
    """Raised by routes: becomes a problem+json answer with this status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldProblem | Problem] = (),
        headers: Mapping[str, str] | None = None,
        kind: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = [_field(e) for e in errors]
        self.headers = dict(headers or {})
        self.kind = kind
        self.extra = dict(extra or {})


def _field(error: FieldProblem | Problem) -> FieldProblem:
    if isinstance(error, FieldProblem):
        return error
    return FieldProblem(**error.as_dict())


def problem_body(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[FieldProblem] = (),
    kind: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    slug, title = _KINDS.get(status, ("error", "Error · Lỗi"))
    body: dict[str, Any] = {
        "type": f"urn:ketnoi:problem:{kind or slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": current_request_id(),
        "errors": [e.model_dump() for e in errors],
    }
    body.update(extra or {})
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
    kind: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(status, detail, instance=instance, errors=errors, kind=kind, extra=extra)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def request_errors(errors: Sequence[Mapping[str, Any]]) -> list[FieldProblem]:
    """FastAPI's request errors as field problems: body fields by their own path, other inputs
    prefixed by where they were (``query.limit``, ``header.idempotency-key``)."""
    problems = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        skip = 1 if loc[:1] == ("body",) else 0
        (problem,) = explain_errors([error], skip_loc=skip)
        allowed = problem.allowed or _bounds(error.get("ctx") or {})
        problems.append(
            FieldProblem(
                path=problem.path,
                problem=problem.problem,
                allowed=allowed,
                suggestion=problem.suggestion,
            )
        )
    return problems


def _bounds(ctx: Mapping[str, Any]) -> list[str]:
    """Numeric and length limits as allowed values (``>= 1``, ``<= 500``)."""
    signs = {
        "ge": ">=",
        "gt": ">",
        "le": "<=",
        "lt": "<",
        "min_length": "length >=",
        "max_length": "length <=",
    }
    return [f"{sign} {ctx[name]}" for name, sign in signs.items() if name in ctx]


def install(app: FastAPI) -> None:
    """Turn every error the app can raise into problem+json (never HTML, never a bare 500)."""

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            kind=exc.kind,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = exc.errors()
        errors = request_errors(found[:MAX_FIELD_ERRORS])
        detail = "; ".join(_line(e) for e in errors[:5]) or "the request does not parse"
        extra = {}
        if len(found) > MAX_FIELD_ERRORS:
            extra["errors_omitted"] = len(found) - MAX_FIELD_ERRORS
            detail += f"; and {len(found) - MAX_FIELD_ERRORS} more problems (fix these first)"
        return problem_response(422, detail, instance=request.url.path, errors=errors, extra=extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request)
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=headers)

    @app.exception_handler(PublishUnavailable)
    async def unavailable(request: Request, exc: PublishUnavailable) -> JSONResponse:
        return publish_problem(exc, request.url.path)

    @app.exception_handler(EventTooLarge)
    async def too_large(request: Request, exc: EventTooLarge) -> JSONResponse:
        return event_too_large(exc, request.url.path)

    @app.exception_handler(PyMongoError)
    async def store_down(request: Request, exc: PyMongoError) -> JSONResponse:
        log.error("store error", extra={"error": f"{type(exc).__name__}: {exc}"})
        return problem_response(
            503,
            "the store does not answer; retry after a few seconds",
            instance=request.url.path,
            headers={"Retry-After": "5"},
            kind="store-unavailable",
        )

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(
            500, "an unexpected error; it was logged with the request id", instance=request.url.path
        )


def publish_problem(exc: PublishUnavailable, instance: str | None = None) -> JSONResponse:
    """503 for a write Kafka did not acknowledge: what is known of its outcome, and the key whose
    retry converges on the same ids (Kafka may deliver the first attempt later)."""
    attempt = exc.attempt
    extra: dict[str, Any] = {"outcome": "unknown" if exc.sent else "not-sent"}
    headers = {"Retry-After": str(exc.retry_after)}
    if not exc.sent:
        detail = f"{exc} Nothing was sent."
    elif exc.acknowledged:
        extra["acknowledged"] = exc.acknowledged
        detail = f"{exc} The outcome of the others is unknown: Kafka may still record them later."
    else:
        detail = f"{exc} The outcome is unknown: Kafka may still record the event(s) later."
    if attempt is None:
        detail = f"{detail} Retry after a few seconds."
    else:
        hint = retry_hint(attempt)
        detail = f"{detail} {hint[0].upper()}{hint[1:]}, so nothing is recorded twice."
        headers["Idempotency-Key"] = attempt.idempotency_key
        extra.update(
            idempotency_key=attempt.idempotency_key,
            idempotency_key_assigned=attempt.generated,
            created=[{"kind": kind, "id": value} for kind, value in attempt.created],
            event_ids=list(attempt.event_ids),
            hint=hint,
        )
    return problem_response(
        503, detail, instance=instance, headers=headers, kind="event-log-unavailable", extra=extra
    )


def retry_hint(attempt: WriteAttempt) -> str:
    """``retry the same request with header Idempotency-Key: K; the retry converges on ...``."""
    return (
        f"retry the same request with header Idempotency-Key: {attempt.idempotency_key}; "
        f"the retry converges on the same {_converges_on(attempt)}"
    )


def _converges_on(attempt: WriteAttempt) -> str:
    created, events = attempt.created, attempt.event_ids
    if len(created) == 1 and len(events) == 1:
        kind, value = created[0]
        return f"{kind} {value} (event {events[0]})"
    if created:
        kinds = sorted({kind for kind, _ in created})
        return f"{len(created)} {'/'.join(kinds)} ids and {len(events)} events listed here"
    if len(events) == 1:
        return f"event {events[0]}"
    return f"{len(events)} events listed here"


def event_too_large(exc: EventTooLarge, instance: str | None = None) -> JSONResponse:
    """413: Kafka would refuse the event on every retry, so none is sent and none is asked."""
    field = FieldProblem(
        path=exc.field,
        problem=f"{exc.field_size:,} bytes in an event of {exc.size:,} bytes",
        allowed=[f"event <= {exc.limit:,} bytes"],
    )
    extra = {
        "size_bytes": exc.size,
        "limit_bytes": exc.limit,
        "event_type": exc.event_type,
        "largest_field": exc.field,
    }
    return problem_response(
        413, str(exc), instance=instance, errors=[field], kind="event-too-large", extra=extra
    )


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """Every documented method on this path. Starlette names only the first matching route's
    (a path served by a GET route and a POST route would say ``Allow: POST``)."""
    if not hasattr(app.state, "allow_table"):
        table = []
        for template, item in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
            methods = {m.upper() for m in item}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((re.compile(f"^{pattern}$"), methods))
        app.state.allow_table = table
    methods: set[str] = set()
    for pattern, allowed in app.state.allow_table:
        if pattern.match(request.url.path):
            methods |= allowed
    return ", ".join(sorted(methods))


def _line(problem: FieldProblem) -> str:
    text = f"{problem.path}: {problem.problem}"
    if problem.allowed and not any(a in problem.problem for a in problem.allowed[:3]):
        text += f" (allowed: {', '.join(problem.allowed[:10])})"
    if problem.suggestion and problem.suggestion not in problem.problem:
        text += f"; did you mean {problem.suggestion!r}?"
    return text


def documented(*statuses: int, write: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses, all problem+json (see ``openapi.py``); a
    ``write``'s 503 also carries the Idempotency-Key to retry with."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ProblemDetails, "description": _KINDS[status][1]}
        if status in (429, 503):
            entry["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}
            }
        if status == 503 and write:
            entry["headers"]["Idempotency-Key"] = {
                "description": "on a write Kafka did not acknowledge (outcome unknown): the key "
                "to retry with, so the retry converges on the same ids (assigned by the gateway "
                "when the request had none)",
                "schema": {"type": "string"},
            }
        out[status] = entry
    return out
