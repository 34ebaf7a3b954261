"""Entrypoint: serve the gateway with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from ketnoi.settings import Settings
from services.gateway.app import create_app


def run(settings: Settings) -> None:
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level,
    )
