"""The monitor's HTTP side: login, the pages, a snapshot and the event stream of a session.

Pages need a login cookie (``/monitor/login``); the JSON and the stream also take the API key
in a header, for scripts. Organizers see the sessions they organize, the platform admin every
session; any other session answers 404, as the API does, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.types import Receive, Scope, Send

from services.gateway.keys import Caller, Role, hash_key
from services.gateway.problems import ApiProblem, indefinite
from services.gateway.routers import agendas, reports
from services.gateway.security import PAGE_POLICY, same_origin
from services.monitor import views
from services.monitor.logins import COOKIE, close_login, open_login
from services.monitor.projection import Board
from services.monitor.service import Monitor

STATIC = Path(__file__).parent / "static"
KEEP_ALIVE_S = 15.0
RETRY_MS = 1000
"""How soon a browser reconnects after the stream breaks (the SSE ``retry`` field)."""
SECURITY_HEADERS = {
    # Everything is served from here: no CDN, no inline script (the venue may be offline).
    # The gateway's SecurityHeaders adds the rest (nosniff, X-Frame-Options, Referrer-Policy).
    "Content-Security-Policy": PAGE_POLICY,
    "Cache-Control": "no-store",
}
ORGANIZER_ROLES = (Role.ORGANIZER, Role.ADMIN)

router = APIRouter(prefix="/monitor", include_in_schema=False)


def _monitor(request: Request) -> Monitor:
    return request.app.state.monitor


@dataclass(frozen=True)
class _Credential:
    """What a request authenticates with: an API key (scripts) or a login token (the page)."""

    kind: str  # "key" or "login"
    secret: str

    @property
    def digest(self) -> str:
        return f"{self.kind}:{hash_key(self.secret)}"


def _credential(request: Request) -> _Credential | None:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else None
    key = key or request.headers.get("x-api-key")
    if key:
        return _Credential("key", key)
    token = request.cookies.get(COOKIE)
    return _Credential("login", token) if token else None


async def _lookup(
    monitor: Monitor, credential: _Credential, *, fresh: bool = False
) -> Caller | None:
    """The caller behind a credential; ``fresh`` skips the short cache (a revocation shows at
    once, and the cached entry is renewed for every other request too)."""
    if credential.kind == "key":
        if fresh:
            monitor.key_cache.forget(hash_key(credential.secret))
        return await monitor.key_cache.lookup(monitor.gateway, credential.secret)
    if fresh:
        monitor.logins.forget(hash_key(credential.secret))
    return await monitor.logins.caller(monitor.gateway.db, credential.secret)


async def _caller(request: Request) -> Caller | None:
    """From an API key header (scripts) or the login cookie (the page)."""
    credential = _credential(request)
    return await _lookup(_monitor(request), credential) if credential else None


def _check_origin(request: Request, doing: str) -> None:
    """The login cookie is SameSite=Strict, but a cross-site form can still post to log a
    victim in (as the attacker's organizer) or out: refuse what no page of ours sent."""
    if not same_origin(request.scope):
        raise ApiProblem(
            403,
            f"cannot {doing} from another site's page (Origin "
            f"{request.headers.get('origin', 'absent')!r}); open /monitor/login on this "
            "gateway and submit the form there",
            kind="cross-site-form",
        )


def _visible(caller: Caller, board: Board | None) -> bool:
    if board is None or board.organizer_id is None:
        return False
    return caller.role is Role.ADMIN or (
        caller.role is Role.ORGANIZER and board.organizer_id == caller.org_id
    )


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=SECURITY_HEADERS)


def _message(status: int, vi: str, en: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Ketnoi</title>'
        '<link rel="icon" href="/monitor/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/monitor/static/monitor.css"></head>'
        f'<body class="message"><main><h1>{status}</h1><p>{vi}</p><p lang="en" class="en">'
        f'{en}</p><p><a href="/monitor">← Phiên của tôi / My sessions</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


async def _page_caller(request: Request) -> Caller | Response:
    caller = await _caller(request)
    if caller is None:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/monitor/login?next={target}", status_code=303)
    if caller.role not in ORGANIZER_ROLES:
        return _message(
            403,
            "Màn hình theo dõi chỉ dành cho ban tổ chức phiên kết nối.",
            "The monitor is for the organizers of trade-connection sessions only.",
        )
    return caller


async def _api_caller(request: Request) -> Caller:
    caller = await _caller(request)
    if caller is None:
        raise ApiProblem(
            401,
            "log in at /monitor/login, or send an organizer's API key as "
            "`Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": 'Bearer realm="ketnoi"'},
        )
    if caller.role not in ORGANIZER_ROLES:
        raise ApiProblem(403, f"{indefinite(caller.role.value)} key cannot watch sessions "
                              "(roles that can: organizer, admin)")  # fmt: skip
    return caller


def _board_for(request: Request, caller: Caller, session_id: str) -> Board:
    board = _monitor(request).projection.board(session_id)
    if not _visible(caller, board):
        raise ApiProblem(
            404,
            f"no session {session_id!r} organized by this organization (a session created "
            "seconds ago may not be read yet)",
        )
    assert board is not None
    return board


# -- login -----------------------------------------------------------------------------------


@router.get("/login")
async def login_page() -> FileResponse:
    return _page("login.html")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/monitor/") and not target.startswith("//"):
        return target
    return "/monitor"


@router.post("/login")
async def login(request: Request) -> Response:
    _check_origin(request, "log in")
    monitor = _monitor(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("api_key") or [""])[0].strip()
    target = _safe_next((form.get("next") or [None])[0])
    caller = await monitor.key_cache.lookup(monitor.gateway, key) if key else None
    if caller is None or caller.role not in ORGANIZER_ROLES:
        error = "role" if caller is not None else "key"
        return RedirectResponse(
            f"/monitor/login?error={error}&next={quote(target, safe='/')}", status_code=303
        )
    token = await open_login(monitor.gateway.db, key, monitor.settings.monitor_login_hours)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(monitor.settings.monitor_login_hours * 3600),
        path="/monitor",
        httponly=True,
        samesite="strict",
        secure=monitor.settings.monitor_cookie_secure,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    _check_origin(request, "log out")
    monitor = _monitor(request)
    token = request.cookies.get(COOKIE)
    if token:
        await close_login(monitor.gateway.db, token)
        monitor.logins.forget(hash_key(token))
    response = RedirectResponse("/monitor/login", status_code=303)
    response.delete_cookie(COOKIE, path="/monitor")
    return response


# -- pages -----------------------------------------------------------------------------------


@router.get("")
async def sessions_page(request: Request) -> Response:
    caller = await _page_caller(request)
    return caller if isinstance(caller, Response) else _page("sessions.html")


@router.get("/sessions/{session_id}")
async def session_page(session_id: str, request: Request) -> Response:
    caller = await _page_caller(request)
    if isinstance(caller, Response):
        return caller
    if not _visible(caller, _monitor(request).projection.board(session_id)):
        return _message(
            404,
            "Không có phiên này trong các phiên đơn vị bạn tổ chức.",
            "No such session among those your organization runs.",
        )
    return _page("monitor.html")


@router.get("/sessions/{session_id}/report")
async def report_page(
    session_id: str,
    request: Request,
    format: Literal["html", "xlsx"] = "html",
    lang: Literal["vi", "en"] = "vi",
) -> Response:
    """The session's report for the logged-in organizer: the printable page or the workbook,
    the same as ``GET /v1/sessions/{id}/report`` (a browser cannot send the API key)."""
    caller = await _page_caller(request)
    if isinstance(caller, Response):
        return caller
    gateway = _monitor(request).gateway
    return await reports.session_report(session_id, gateway, caller, format, lang)


@router.get("/sessions/{session_id}/agenda")
async def agenda_page(
    session_id: str,
    request: Request,
    table: Annotated[int | None, Query(ge=1, le=500)] = None,
    lang: Literal["vi", "en"] = "vi",
) -> Response:
    """Every table's agenda (or one table's) to print, as ``GET /v1/sessions/{id}/agenda``."""
    caller = await _page_caller(request)
    if isinstance(caller, Response):
        return caller
    gateway = _monitor(request).gateway
    return await agendas.get_agenda(session_id, gateway, caller, None, table, lang)


# -- data ------------------------------------------------------------------------------------


@router.get("/api/sessions")
async def my_sessions(request: Request) -> dict[str, Any]:
    caller = await _api_caller(request)
    monitor = _monitor(request)
    organizer = None if caller.role is Role.ADMIN else caller.org_id
    boards = sorted(
        monitor.projection.sessions_of(organizer),
        key=lambda b: (b.dates or ("", ""), b.session_id),
        reverse=True,
    )
    return {
        "organization": caller.org_id,
        "caught_up": monitor.feed.caught_up.is_set(),
        "sessions": [
            {**views.session_info(b), "figures": views.figures(monitor.projection, b)}
            for b in boards
        ],
    }


@router.get("/sessions/{session_id}/snapshot")
async def session_snapshot(session_id: str, request: Request) -> dict[str, Any]:
    caller = await _api_caller(request)
    board = _board_for(request, caller, session_id)
    return views.snapshot(_monitor(request).projection, board)


class _EventStream(StreamingResponse):
    """Runs ``release`` however the response ends: a client gone before the first byte never
    starts the body generator, so a ``finally`` inside it would not run and its place among
    the open streams would stay taken."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


@router.get("/sessions/{session_id}/events")
async def session_events(
    session_id: str,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-sent events: a snapshot (or the updates missed since ``Last-Event-ID``), then an
    update whenever the session changes, at most every ``monitor_flush_ms``.

    The stream counts against its key's and the process's caps (429/503 beyond them) and ends
    within ``api_key_cache_seconds`` of its key being revoked or its login ended."""
    caller = await _api_caller(request)
    _board_for(request, caller, session_id)
    monitor = _monitor(request)
    credential = _credential(request)
    assert credential is not None  # _api_caller found a caller with it

    async def still_valid() -> bool:
        again = await _lookup(monitor, credential, fresh=True)
        return again is not None and again.role in ORGANIZER_ROLES

    hub = monitor.hub
    resume = last_event_id or request.query_params.get("last_event_id")
    opened = monitor.streams.open(caller.key_id, credential.digest, still_valid)
    try:
        viewer, first = hub.subscribe(session_id, resume)
    except BaseException:
        monitor.streams.release(opened)
        raise
    opened.close = viewer.close

    def release() -> None:
        monitor.streams.release(opened)
        hub.unsubscribe(viewer)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            for data in first:
                yield data
            while not viewer.closed:
                if viewer.dropped and viewer.frames.empty():
                    return  # too slow: the browser reconnects and catches up
                try:
                    data = await asyncio.wait_for(viewer.frames.get(), KEEP_ALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if data is None or viewer.closed:
                    return
                yield data
        finally:
            release()

    return _EventStream(stream(), release)
