"""Swagger UI (``/docs``) and ReDoc (``/redoc``), served whole by the gateway.

FastAPI's own pages load their scripts from a CDN (blank on a venue's offline network, and no
integrity check) and start Swagger UI with an inline script (which a Content-Security-Policy
without ``'unsafe-inline'`` blocks). Here the Swagger UI and ReDoc builds come from the
``fastapi-offline`` package (maintained, and ships both), our start-up code is a served file
(``static/swagger-init.js``), and the pages hold no script of their own.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.gateway.security import DOCS_POLICY

VENDOR = Path(fastapi_offline.__file__).parent / "static"
"""swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js (from fastapi-offline)."""
OWN = Path(__file__).parent / "static"
VENDOR_URL = "/docs/vendor"
OWN_URL = "/docs/static"
ICON = "/monitor/static/favicon.svg"
HEADERS = {"Content-Security-Policy": DOCS_POLICY}

_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="{root}{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{root}{vendor}/swagger-ui.css">
<script src="{root}{vendor}/swagger-ui-bundle.js" defer></script>
<script src="{root}{own}/swagger-init.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}{openapi}"></div>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{root}{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{root}{own}/docs.css">
</head>
<body>
<noscript>ReDoc needs JavaScript; the same document is at {root}{openapi}.</noscript>
<redoc spec-url="{root}{openapi}"></redoc>
<script src="{root}{vendor}/redoc.standalone.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """The two pages and their assets; the app must be made with ``docs_url=None`` and
    ``redoc_url=None`` so that FastAPI's CDN pages are not registered as well."""
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR), name="docs-vendor")
    app.mount(OWN_URL, StaticFiles(directory=OWN), name="docs-static")

    def page(template: str, request: Request) -> HTMLResponse:
        html = template.format(
            title=escape(app.title),
            root=escape(request.scope.get("root_path", "").rstrip("/")),
            icon=ICON,
            vendor=VENDOR_URL,
            own=OWN_URL,
            openapi=escape(app.openapi_url or "/openapi.json"),
        )
        return HTMLResponse(html, headers=HEADERS)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return page(_SWAGGER, request)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return page(_REDOC, request)
