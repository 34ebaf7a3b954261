"""Request bodies read strictly: UTF-8 JSON only, each key once, no NaN, errors with a place.

Python's ``json.loads`` reads UTF-16 and UTF-32 bodies, keeps the last of two equal keys
silently and takes ``NaN``: what one client meant and another part reads can then differ. The
routes of the API use ``StrictJsonRoute``, which parses the body once by these rules and hands
the result to FastAPI (Starlette's ``Request.json`` returns what is cached on the request).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from services.gateway.problems import ApiProblem, FieldProblem

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class StrictJsonRoute(APIRoute):
    """An API route whose JSON body is read by ``parse_json`` before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.method in _WITH_BODY:
                raw = await request.body()
                if raw:
                    request._json = parse_json(raw, request.headers.get("content-type"))
            return await handler(request)

        return strict


def parse_json(raw: bytes, content_type: str | None) -> Any:
    """The body as JSON, or a problem: 415 for another media type or encoding, 400 for JSON that
    does not parse (with line and column) or repeats a key."""
    _check_media_type(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(
            415,
            f"the body is not UTF-8 (byte {exc.start} is {raw[exc.start]:#04x}): send JSON "
            "encoded as UTF-8",
        ) from None
    try:
        return json.loads(
            text.removeprefix("\ufeff"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise ApiProblem(
            400,
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            errors=[
                FieldProblem(
                    path="(body)", problem=f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
                )
            ],
            kind="invalid-json",
        ) from None


def _check_media_type(content_type: str | None) -> None:
    if content_type is None:
        return  # FastAPI reads a body without a type as JSON too
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    is_json = message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )
    charset = message.get_param("charset")
    if not is_json or (isinstance(charset, str) and charset.lower() not in ("utf-8", "utf8")):
        raise ApiProblem(
            415,
            f"Content-Type {content_type!r} is not accepted: send application/json in UTF-8",
            headers={"Accept": "application/json"},
        )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ApiProblem(
            400,
            f"the key {twice!r} appears twice in one JSON object: send each field once",
            errors=[FieldProblem(path=twice, problem="appears twice in one object")],
            kind="duplicate-key",
        )
    return result


def _no_constant(name: str) -> Any:
    raise ApiProblem(400, f"{name} is not a JSON number: send a finite number", kind="invalid-json")
