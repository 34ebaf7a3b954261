"""The monitor in a real browser: Debian's Chromium, driven by Playwright, against the live
gateway, matcher and recorder. An organizer logs in, a match is posted through the API, and
the feed row, the figures and the charts follow; the screenshots are kept for the README."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.monitor_support import WatchedSession, open_session
from tests.support import eventually

pytestmark = pytest.mark.infra
UPDATE_DEADLINE_MS = 30_000


@pytest.fixture
def page(browser: Browser, services) -> Iterator[Page]:
    context = browser.new_context(
        base_url=services.settings.gateway_url,
        viewport={"width": 1440, "height": 1100},
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.expected_errors = []  # type: ignore[attr-defined]  # a test may expect some
    try:
        yield page
    finally:
        context.close()
    unexpected = [e for e in errors if not any(x in e for x in page.expected_errors)]
    assert unexpected == [], f"the page logged errors: {unexpected}"


def log_in(page: Page, watched: WatchedSession) -> None:
    page.goto(f"/monitor/sessions/{watched.session_id}")
    expect(page).to_have_url(f"/monitor/login?next=/monitor/sessions/{watched.session_id}")
    expect(page.locator("h1")).to_have_text("Đăng nhập màn hình theo dõi")
    page.fill("#api_key", watched.organizer_key)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"/monitor/sessions/{watched.session_id}")


def accept(watched: WatchedSession, match_id: str) -> None:
    for client in (watched.retailer, watched.seller):
        response = client.post(f"/v1/matches/{match_id}/accept")
        assert response.status_code == 202, response.text


def test_an_organizer_watches_a_match_happen(page, api, issue_key, client_for, screenshots):
    watched = open_session(api, issue_key, client_for, "meat-products")
    log_in(page, watched)
    expect(page.locator("#session-name")).to_have_text("Kết nối cung cầu Hải Phòng 2026")
    expect(page.locator("#live")).to_have_text("Trực tiếp", timeout=UPDATE_DEADLINE_MS)
    expect(page.locator("#session-meta")).to_contain_text("05/12/2026 → 06/12/2026")
    expect(page.locator("#session-meta")).to_contain_text("1 người mua · 1 nhà cung cấp")
    expect(page.locator("#fig-proposals")).to_have_text("0")
    expect(page.locator("#feed tbody tr")).to_have_count(0)

    # A match posted through the API appears as a row, and the figures follow.
    watched.post_offer()
    demand_id = watched.post_demand()
    row = page.locator("#feed tbody tr").first
    expect(row).to_contain_text(watched.supplier_name, timeout=UPDATE_DEADLINE_MS)
    expect(row).to_contain_text("Bắc Ninh → Siêu thị Hải Phòng")
    expect(row).to_contain_text("3 tấn")
    expect(row).to_contain_text("50.000 ₫/kg")
    expect(row).to_contain_text("Đề xuất")
    expect(page.locator("#fig-proposals")).to_have_text("1")
    expect(page.locator("#fig-offers")).to_have_text("1")
    expect(page.locator("#fig-demands")).to_have_text("1")
    expect(page.locator("#fig-pending")).to_contain_text("3 tấn")
    expect(page.locator("#by-origin")).to_contain_text("Bắc Ninh")

    # Both sides accept: the row is confirmed, volume, value and fill rate move.
    matches = eventually(
        lambda: watched.organizer.get(
            "/v1/matches", params={"session_id": watched.session_id}
        ).json()["items"],
        what="the match recorded",
    )
    assert [m["demand_id"] for m in matches] == [demand_id]
    accept(watched, matches[0]["match_id"])
    expect(row).to_contain_text("Đã chốt", timeout=UPDATE_DEADLINE_MS)
    expect(page.locator("#fig-volume")).to_have_text("3 tấn")
    expect(page.locator("#fig-value")).to_have_text("150 triệu ₫")
    expect(page.locator("#fig-fill")).to_have_text("100%")
    expect(page.locator("#fig-accepted")).to_have_text("1")

    # A demand nobody can serve is listed with the engine's reason, in Vietnamese.
    watched.post_demand(amount="5", ceiling=10_000)
    stuck = page.locator("#demands tbody tr").first
    expect(stuck).to_contain_text("Giá chào cao hơn giá trần người mua", timeout=UPDATE_DEADLINE_MS)
    expect(stuck).to_contain_text("5 tấn")
    expect(page.locator("#fig-fill")).to_have_text("37,5%")
    page.screenshot(path=str(screenshots / "monitor-vi.png"), full_page=True)

    # The English switch translates the page, and is remembered on reload.
    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(row).to_contain_text("Confirmed")
    expect(stuck).to_contain_text("Offers are above the buyer's maximum price")
    expect(page.locator("#fig-value")).to_have_text("VND 150 m")
    page.reload()
    expect(page.locator("#live")).to_have_text("Live", timeout=UPDATE_DEADLINE_MS)
    expect(page.locator("#feed tbody tr")).to_have_count(1)
    page.screenshot(path=str(screenshots / "monitor-en.png"), full_page=True)
    for name in ("monitor-vi.png", "monitor-en.png"):
        assert (screenshots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_another_organizers_session_is_refused_in_the_browser(page, api, issue_key, client_for):
    watched = open_session(api, issue_key, client_for, "ornamental-plants")
    other_key = issue_key("so-cong-thuong-ha-noi", "organizer")
    page.goto("/monitor/login")
    page.fill("#api_key", other_key)
    page.click("button[type=submit]")
    expect(page).to_have_url("/monitor")
    expect(page.locator("#sessions-empty")).to_be_visible()
    page.expected_errors.append("status of 404")
    response = page.goto(f"/monitor/sessions/{watched.session_id}")
    assert response is not None and response.status == 404
    expect(page.locator("body")).to_contain_text("Không có phiên này")
