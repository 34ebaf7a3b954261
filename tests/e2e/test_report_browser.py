"""The report's printable page in Debian's Chromium (Playwright), served by the live gateway:
it renders under its own Content-Security-Policy with nothing fetched from anywhere, shows the
Vietnamese headings and totals, switches to English, and prints to an A4 PDF."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

from tests.e2e.report_support import run_small_session

pytestmark = pytest.mark.infra
HEADINGS = [
    "Kết quả chính",
    "Các phiên kết nối",
    "Tỉnh/thành tham gia",
    "Đơn vị tham gia",
    "Sản phẩm chào bán theo nhóm OCOP và hạng sao",
    "Gặp gỡ giao thương (B2B)",
    "MoU và hợp đồng theo tỉnh/thành xuất xứ",
    "Kết nối đã chốt theo tỉnh/thành xuất xứ",
    "Nhu cầu chưa được đáp ứng lớn nhất",
]
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def test_the_report_renders_and_prints_to_pdf(
    browser, services, api, issue_key, client_for, mongo, screenshots
):
    small = run_small_session(api, issue_key, client_for, mongo, category="tea")
    base = services.settings.gateway_url
    own = urlsplit(base).netloc
    asked: list[str] = []

    def only_the_gateway(route: Route) -> None:
        asked.append(route.request.url)
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    context = browser.new_context(
        base_url=base,
        extra_http_headers={"Authorization": f"Bearer {small.organizer_key}"},
        viewport={"width": 1240, "height": 1754},
        locale="vi-VN",
    )
    context.route("**/*", only_the_gateway)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        url = f"/v1/sessions/{small.session_id}/report?format=html"
        response = page.goto(url)
        assert response is not None and response.ok
        expect(page.locator("h1")).to_contain_text("Báo cáo kết quả phiên kết nối cung cầu")
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        headings = page.locator("h2").all_inner_texts()
        assert [h for h in HEADINGS if h not in headings] == []
        totals = page.locator("#confirmed_by_origin tr.totals")
        expect(totals).to_contain_text("Tổng cộng")
        expect(totals).to_contain_text("750.000.000")
        expect(page.locator("#organizations tr.totals")).to_contain_text("Tổng cộng (2 đơn vị)")
        expect(page.locator("#organizations tbody")).to_contain_text("HTX Sâm Ngọc Linh <Kon Tum>")
        # The style block applied under the page's policy (a blocked one leaves black text).
        color = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
        assert color == "rgb(31, 78, 121)"
        page.screenshot(path=str(screenshots / "report-session.png"), full_page=True)
        pdf = page.pdf(format="A4", print_background=True)
        (screenshots / "report-session.pdf").write_bytes(pdf)
        assert pdf.startswith(b"%PDF-") and len(PAGE_OBJECT.findall(pdf)) > 0

        page.goto(f"{url}&lang=en")
        expect(page.locator("h1")).to_contain_text("Trade-connection session report")
        expect(page.locator("#confirmed_by_origin tr.totals")).to_contain_text("750,000,000")
    finally:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"
    assert asked and all(urlsplit(u).netloc == own for u in asked)


def test_the_monitor_links_to_the_report_the_organizer_can_print(
    browser, services, api, issue_key, client_for, mongo
):
    """A browser cannot send the API key: the monitor's login cookie opens the same report."""
    small = run_small_session(api, issue_key, client_for, mongo, category="spices")
    context = browser.new_context(base_url=services.settings.gateway_url, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"/monitor/sessions/{small.session_id}")
        page.fill("#api_key", small.organizer_key)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"/monitor/sessions/{small.session_id}")
        link = page.locator("#report-link")
        expect(link).to_have_text("Báo cáo")
        expect(page.locator("#xlsx-link")).to_have_attribute("href", re.compile(r"format=xlsx"))
        link.click()
        expect(page).to_have_url(re.compile(r"/monitor/sessions/.+/report\?format=html&lang=vi"))
        expect(page.locator("h1")).to_contain_text("Báo cáo kết quả phiên kết nối cung cầu")
        expect(page.locator("#confirmed_by_origin tr.totals")).to_contain_text("Tổng cộng")
        color = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
        assert color == "rgb(31, 78, 121)"  # the page's style block applied under its policy
        workbook = page.request.get(f"/monitor/sessions/{small.session_id}/report?format=xlsx")
        assert workbook.ok and workbook.body().startswith(b"PK")
    finally:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"
