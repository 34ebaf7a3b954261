"""Entrypoint: serve the gateway with uvicorn on the configured host and port, JSON logs."""

from __future__ import annotations

import uvicorn

from ketnoi.settings import Settings
from services.gateway.app import create_app
from services.gateway.logs import configure


def run(settings: Settings) -> None:
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level,
        log_config=configure(settings.log_level),
        access_log=False,  # our middleware logs each request once, with its ids
    )
