"""Validation problems a province clerk can act on: where, what was wrong, what is allowed.

Used by the gateway's error responses and by dead-letter reasons, so a person reading either
sees the same words: ``quantity.unit: unknown unit 'bao' ... (allowed: kg, tấn, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

_PREFIXES = ("Value error, ", "Assertion failed, ")
_FRIENDLY = {
    "string_pattern_mismatch": (
        "use only ASCII letters, digits and . _ : - (no spaces or diacritics)"
    ),
    "extra_forbidden": "this field is not part of the contract (check its spelling)",
    "missing": "this field is required",
}


@dataclass(frozen=True)
class Problem:
    path: str
    problem: str
    allowed: list[str] = field(default_factory=list)
    suggestion: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}"
        if self.allowed and not any(a in self.problem for a in self.allowed[:3]):
            text += f" (allowed: {', '.join(self.allowed[:40])})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "problem": self.problem,
            "allowed": self.allowed,
            "suggestion": self.suggestion,
        }


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or "function-" in item:
            continue  # pydantic's internal union/validator labels mean nothing to a clerk
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(body)"


def explain(exc: ValidationError) -> list[Problem]:
    """One Problem per error, with allowed values and the closest match where we know them."""
    return explain_errors(exc.errors(include_url=False))


def explain_errors(errors: Sequence[Mapping[str, Any]], *, skip_loc: int = 0) -> list[Problem]:
    """As ``explain``, for pydantic-style error dicts (FastAPI's request errors prefix ``body``)."""
    problems = []
    for error in errors:
        message = _FRIENDLY.get(error["type"], error["msg"])
        for prefix in _PREFIXES:
            message = message.removeprefix(prefix)
        ctx = error.get("ctx") or {}
        cause = ctx.get("error")
        allowed = [str(a) for a in getattr(cause, "allowed", []) or []]
        suggestions = getattr(cause, "suggestions", None) or []
        closest = getattr(cause, "closest", None) or (suggestions[0] if suggestions else None)
        if not allowed and "expected" in ctx:
            allowed = [
                part.strip(" '") for part in str(ctx["expected"]).replace(" or ", ",").split(",")
            ]
        problems.append(
            Problem(
                path=_path(tuple(error["loc"])[skip_loc:]),
                problem=message,
                allowed=allowed,
                suggestion=closest,
            )
        )
    return problems


def describe(exc: Exception) -> str:
    """A one-line reason for logs and dead-letter records."""
    if isinstance(exc, ValidationError):
        return "; ".join(str(p) for p in explain(exc)[:10])
    return f"{type(exc).__name__}: {exc}"
