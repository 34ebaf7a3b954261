"""Security headers on every kind of answer, the Origin rule of the monitor's forms, and the API
docs served without a CDN and without inline script. No broker or store needed: the app is
called in process without its lifespan (these routes need neither)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.responses import StreamingResponse
from starlette.types import Message

from ketnoi.settings import Settings
from services.gateway.app import create_app
from services.gateway.security import SecurityHeaders, same_origin

HTML_DIRECTIVES = (
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)


@pytest.fixture(scope="module")
def app():
    app = create_app(Settings(mongo_db="ketnoi_unit_unused"))

    @app.get("/test-crash", include_in_schema=False)
    async def crash() -> None:
        raise RuntimeError("a bug")

    return app


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


def directives(policy: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in policy.split(";") if p.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def assert_common(response: httpx.Response) -> None:
    where = f"{response.request.url.path} ({response.status_code})"
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["x-frame-options"] == "DENY", where
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer"), where
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"], where


def assert_page_policy(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    for directive in HTML_DIRECTIVES:
        assert directive in policy, (response.request.url.path, directive)
    scripts = directives(policy).get("script-src", directives(policy)["default-src"])
    assert scripts == "'self'", policy
    assert "unsafe-inline" not in scripts and "unsafe-eval" not in scripts


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/healthz", 200, "application/json"),
        ("/openapi.json", 200, "application/json"),
        ("/nope", 404, "application/problem+json"),
        ("/test-crash", 500, "application/problem+json"),
        ("/docs/vendor/swagger-ui-bundle.js", 200, "text/javascript"),
        ("/docs/vendor/redoc.standalone.js", 200, "text/javascript"),
        ("/docs/static/swagger-init.js", 200, "text/javascript"),
        ("/docs/vendor/swagger-ui.css", 200, "text/css"),
        ("/monitor/static/monitor.js", 200, "text/javascript"),
        ("/monitor/static/monitor.css", 200, "text/css"),
        ("/monitor/static/favicon.svg", 200, "image/svg+xml"),
    ],
)
async def test_every_answer_says_nosniff_and_cannot_be_framed(client, path, status, kind):
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(kind)
    assert_common(response)
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("path", ["/monitor/login", "/docs", "/redoc"])
async def test_html_pages_have_a_policy_without_inline_script(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_common(response)
    assert_page_policy(response)
    html = response.text
    # Nothing inline that the policy would have to allow: every script is a served file.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"(?:src|href)=\"https?://", html), "an asset from another host"


async def test_the_docs_pages_load_only_assets_the_gateway_serves(client):
    for path in ("/docs", "/redoc"):
        html = (await client.get(path)).text
        refs = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', html)
        assert refs, path
        for ref in refs:
            assert ref.startswith("/"), ref
            answer = await client.get(ref)
            assert answer.status_code == 200, ref
    init = (await client.get("/docs/static/swagger-init.js")).text
    assert "SwaggerUIBundle(" in init and "validatorUrl: null" in init


async def test_an_event_stream_passes_the_middleware_unbuffered():
    """Pure ASGI: the first event reaches the client while the stream is still open."""
    release = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        await release.wait()
        yield b"data: second\n\n"

    inner = StreamingResponse(events(), media_type="text/event-stream")
    sent: list[Message] = []
    first_body = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_body.set()

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client never disconnects here
        raise AssertionError

    scope = {"type": "http", "method": "GET", "path": "/events", "headers": [],
             "asgi": {"version": "3.0", "spec_version": "2.4"}}  # fmt: skip
    task = asyncio.create_task(SecurityHeaders(inner)(scope, receive, send))
    await asyncio.wait_for(first_body.wait(), 5)
    assert not task.done()
    start = sent[0]
    names = {k.decode().lower() for k, _ in start["headers"]}
    assert {"x-content-type-options", "content-security-policy"} <= names
    assert [m.get("body") for m in sent[1:]] == [b"data: first\n\n"]
    release.set()
    await asyncio.wait_for(task, 5)
    assert b"data: second\n\n" in [m.get("body") for m in sent]


def _scope(host: str = "127.0.0.1:8000", **headers: str) -> dict:
    pairs = [(b"host", host.encode())]
    pairs += [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "scheme": "http", "headers": pairs}


@pytest.mark.parametrize(
    ("host", "headers", "allowed"),
    [
        # The gateway's own pages.
        ("127.0.0.1:8000", {"origin": "http://127.0.0.1:8000"}, True),
        ("Ketnoi.example", {"origin": "https://ketnoi.example"}, True),  # behind a TLS proxy
        ("ketnoi.example:443", {"origin": "https://ketnoi.example"}, True),
        ("[::1]:8000", {"origin": "http://[::1]:8000"}, True),
        ("127.0.0.1:8000", {"sec_fetch_site": "same-origin"}, True),
        ("127.0.0.1:8000", {"origin": "null", "sec_fetch_site": "same-origin"}, True),
        # Scripts and curl send neither header: they cannot carry a victim's cookie.
        ("127.0.0.1:8000", {}, True),
        # Another site's page, or ours on another port.
        ("127.0.0.1:8000", {"origin": "http://evil.example"}, False),
        ("127.0.0.1:8000", {"origin": "http://127.0.0.1:9000"}, False),
        ("127.0.0.1:8000", {"origin": "http://127.0.0.1"}, False),
        ("ketnoi.example", {"origin": "https://ketnoi.example.evil.example"}, False),
        ("ketnoi.example", {"origin": "https://ketnoi.example:8443"}, False),
        ("127.0.0.1:8000", {"origin": "http://127.0.0.1:8000:1"}, False),
        ("127.0.0.1:8000", {"origin": "file://"}, False),
        ("127.0.0.1:8000", {"origin": "null"}, False),  # a sandboxed frame's form
        ("127.0.0.1:8000", {"sec_fetch_site": "cross-site"}, False),
        ("127.0.0.1:8000", {"sec_fetch_site": "same-site"}, False),
        ("127.0.0.1:8000", {"origin": "null", "sec_fetch_site": "cross-site"}, False),
        ("", {"origin": "http://127.0.0.1:8000"}, False),
    ],
)
def test_only_our_own_pages_may_post_the_monitor_forms(host, headers, allowed):
    assert same_origin(_scope(host, **headers)) is allowed
