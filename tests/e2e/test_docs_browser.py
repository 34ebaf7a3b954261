"""The API docs on a venue's offline network: Swagger UI and ReDoc render in Debian's Chromium
(driven by Playwright) with every request to another host aborted, and none is attempted."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

pytestmark = pytest.mark.infra
RENDER_DEADLINE_MS = 30_000
REDOC_LOGO = "cdn.redoc.ly"
"""ReDoc's build hard-codes its sidebar logo from its CDN: the page's policy blocks it before
any request is made (the image hides itself), which the browser reports as a console error."""


@pytest.mark.parametrize(
    ("path", "operation", "text"),
    [
        ("/docs", ".opblock-summary-path", "/v1/offers"),  # an operation block
        ("/redoc", "h2", "Publish an offer"),  # an operation's section
    ],
)
def test_api_docs_render_with_the_network_cut(
    browser, services, screenshots, path, operation, text
):
    base = services.settings.gateway_url
    own = urlsplit(base).netloc
    asked: list[str] = []
    left: list[str] = []

    def only_the_gateway(route: Route) -> None:
        url = route.request.url
        asked.append(url)
        if urlsplit(url).netloc == own:
            route.continue_()
        else:
            left.append(url)
            route.abort("internetdisconnected")

    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.route("**/*", only_the_gateway)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        response = page.goto(path)
        assert response is not None and response.ok
        assert "script-src 'self';" in response.headers["content-security-policy"]
        block = page.locator(operation, has_text=text).first
        expect(block).to_be_visible(timeout=RENDER_DEADLINE_MS)
        expect(page.get_by_text("Ketnoi gateway").first).to_be_visible()
        page.screenshot(path=str(screenshots / f"api-docs{path.replace('/', '-')}.png"))
    finally:
        context.close()
    assert left == [], f"requests left the gateway's host: {left}"
    assert asked and all(urlsplit(url).netloc == own for url in asked)
    assert any(url.endswith("/openapi.json") for url in asked)
    unexpected = [e for e in errors if REDOC_LOGO not in e]
    assert unexpected == [], f"the page logged errors: {unexpected}"
