"""Liveness, readiness and metrics: for the process supervisor and Prometheus.

Liveness and readiness need no key. Metrics need an organizer's or the admin's key unless
``metrics_access`` is ``open`` (a gateway bound to an internal address): they reveal traffic.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from ketnoi.infra.health import kafka_health
from services.gateway.access import require_role
from services.gateway.auth import _bearer as bearer  # the API's one key scheme
from services.gateway.auth import authenticate
from services.gateway.context import GatewayDep
from services.gateway.keys import Role
from services.gateway.problems import documented

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, str]


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Kafka or the store is unreachable"}},
    summary="Readiness: Kafka and the store both answer",
)
async def readyz(gateway: GatewayDep) -> JSONResponse:
    checks = {"store": "ok", "kafka": "ok"}
    try:
        await asyncio.wait_for(gateway.db.command("ping"), 3.0)
    except Exception as exc:  # any failure means "not ready", with the reason
        checks["store"] = f"{type(exc).__name__}: {exc}"[:300]
    if not gateway.publisher.connected:
        checks["kafka"] = f"producer not connected to {gateway.settings.kafka_bootstrap}"
    else:
        kafka = await kafka_health(gateway.settings.kafka_bootstrap, timeout=3.0)
        if not kafka.healthy:
            checks["kafka"] = kafka.detail[:300]
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        },
        **documented(401, 403, 429),
    },
    summary="Prometheus metrics (an organizer's or the admin's key, unless configured open)",
)
async def metrics(
    request: Request,
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)] = None,
) -> Response:
    if gateway.settings.metrics_access != "open":
        caller = await authenticate(request, gateway, credentials, x_api_key)
        require_role(caller, Role.ORGANIZER, Role.ADMIN, doing="read the metrics")
    return Response(gateway.metrics.render(), media_type=gateway.metrics.content_type)
