"""Liveness, readiness and metrics: for the process supervisor and Prometheus, no key needed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ketnoi.infra.health import kafka_health
from services.gateway.context import GatewayDep

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
        }
    },
    summary="Prometheus metrics",
)
async def metrics(gateway: GatewayDep) -> Response:
    return Response(gateway.metrics.render(), media_type=gateway.metrics.content_type)
