"""Security headers on every answer, and the Origin rule for the monitor's cookie forms.

Plain ASGI: it edits the headers of ``http.response.start`` and passes every body message on
as it comes, so a server-sent-events stream is neither buffered nor delayed. ``install`` puts
it outside Starlette's error middleware, so that even the problem answer of a crash carries
the headers.

- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
  ``Referrer-Policy: same-origin`` on every answer (``same-origin``, not ``no-referrer``: under
  ``no-referrer`` a browser sends ``Origin: null`` on a same-origin form post, which the login's
  Origin check would then refuse).
- HTML gets a Content-Security-Policy without inline script unless the route set its own (the
  API docs do, see ``DOCS_POLICY``). Everything else gets ``default-src 'none'``: a JSON or JS
  answer opened as a page runs nothing and cannot be framed.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_FRAMING = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    f"connect-src 'self'; {_FRAMING}"
)
"""Pages the project writes (the monitor, its login): everything from here, no inline code."""
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    f"{_FRAMING}"
)
"""Swagger UI and ReDoc (``docs.py`` sends it): scripts only from here too, but both set inline
styles (ReDoc injects its CSS as <style> elements) and ReDoc searches in a blob: worker."""
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""Non-HTML answers: nothing may run or be framed if one is opened as a page."""
ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the headers an answer lacks; a header the route set itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("content-security-policy", PAGE_POLICY if html else DATA_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Wrap the app's whole middleware stack (built lazily by Starlette at the first call), so
    the headers reach every answer, the 500 of an unhandled error included."""
    build: Callable[[], ASGIApp] = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())  # type: ignore[method-assign]


# -- the Origin rule for cookie forms ---------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(scope: Scope) -> bool:
    """Whether a state-changing request comes from one of our own pages.

    ``Origin`` is compared with the ``Host`` the request was sent to (a browser sets both; a
    cross-site page can set neither). Without a usable ``Origin``, ``Sec-Fetch-Site`` decides.
    A request with neither comes from no current browser (a script, curl) and is allowed: it
    cannot be carrying a victim's cookie.
    """
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin and origin != "null":
        return _same_authority(origin, headers.get("host", ""))
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    return origin is None


def _same_authority(origin: str, host: str) -> bool:
    """``Origin`` and ``Host`` name the same host and port. A ``Host`` without a port matches an
    origin on its scheme's default port: behind a TLS proxy the gateway sees plain ``http``."""
    try:
        sent, target = urlsplit(origin), urlsplit(f"//{host}")
        sent_port, target_port = sent.port, target.port
    except ValueError:  # a port that is not a number
        return False
    default = _DEFAULT_PORTS.get(sent.scheme)
    if default is None or not sent.hostname or sent.hostname != target.hostname:
        return False
    return (sent_port or default) == (target_port or default)
