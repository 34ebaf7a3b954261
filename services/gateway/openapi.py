"""The OpenAPI document as the gateway really answers: errors are ``application/problem+json``.

FastAPI documents every response model under ``application/json``; our errors are sent as
problem+json (RFC 9457), so the document says that, and schemathesis can hold us to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.gateway.problems import PROBLEM_JSON

DESCRIPTION = """
**Kết nối cung cầu**: publish offers and demands, run trade-connection sessions, decide on
matches. Every write is accepted (`202`) once Kafka holds it; its effects (the recorded offer,
the matcher's proposals) follow within seconds at the `status_url`.

- **Keys**: `Authorization: Bearer <key>`, issued by `ketnoi keys create --org ... --role ...`
  (retailer, supplier, province, organizer, admin). Each key sees and changes its own
  organization's data only.
- **Retries**: send an `Idempotency-Key` header on writes; a retry returns the first answer.
  A `503` on a write means Kafka did not acknowledge in time and the outcome is unknown (the
  event may still be recorded): it names the `Idempotency-Key` to retry with (assigned by the
  gateway when you sent none), and that retry converges on the same ids.
- **Sizes**: an event above `max_event_bytes` (900,000 by default) is refused with `413`.
- **Errors**: RFC 9457 problem details, with the field path, the allowed values and the closest
  match (`quantity.unit: unknown unit 'bao' ... did you mean 'hộp'?`).
"""


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
            )
            app.openapi_schema = problem_json(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_json(document: dict[str, Any]) -> dict[str, Any]:
    """Move every 4xx/5xx response documented as JSON to ``application/problem+json``."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    schema = content.pop("application/json")
                    if "ProblemDetails" in str(schema):
                        content[PROBLEM_JSON] = schema
                    else:
                        content["application/json"] = schema
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in str(document.get("paths")):
            del schemas[unused]
    return document
