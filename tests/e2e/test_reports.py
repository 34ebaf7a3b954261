"""The Department's report on the real stack: a small session with a match both sides
confirmed, read as JSON, XLSX and HTML from the API and the CLI; another organizer, a buyer and
a period that misses the session do not see it."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from python_calamine import CalamineWorkbook

from ketnoi.settings import PROJECT_ROOT
from tests.e2e.report_support import (
    PRICE_PER_KG,
    QUANTITY_KG,
    SmallSession,
    hold_the_meeting,
    run_small_session,
)

pytestmark = pytest.mark.infra
VALUE_VND = int(QUANTITY_KG * PRICE_PER_KG)


@pytest.fixture(scope="module")
def small(api, issue_key, client_for, mongo) -> SmallSession:
    return run_small_session(api, issue_key, client_for, mongo)


def _table(report: dict, key: str) -> dict:
    return next(t for t in report["tables"] if t["key"] == key)


def test_the_session_report_as_json_counts_the_confirmed_match(small, mongo):
    answer = small.organizer.get(f"/v1/sessions/{small.session_id}/report")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    report = answer.json()
    assert report["kind"] == "session" and report["session_ids"] == [small.session_id]
    figures = {f["key"]: f["value"] for f in report["headline"]}
    assert figures["confirmed_matches"] == 1
    assert figures["confirmed_kg"] == QUANTITY_KG and figures["confirmed_vnd"] == VALUE_VND
    assert figures["organizations"] == 2 and figures["provinces"] == 2
    assert figures["offers"] == 1 and figures["demands"] == 1 and figures["unmet_demands"] == 0
    origin = _table(report, "confirmed_by_origin")
    assert origin["rows"] == [
        {"province": "Quảng Ngãi", "matches": 1, "kg": QUANTITY_KG, "value_vnd": VALUE_VND}
    ]
    assert (
        origin["totals"]["province"] == "Tổng cộng" and origin["totals"]["value_vnd"] == VALUE_VND
    )
    products = _table(report, "products")
    assert products["rows"][0]["group"] == "Thảo dược" and products["rows"][0]["stars"] == "5 sao"
    statuses = _table(report, "match_status")
    stored = mongo.matches.count_documents({"demand_id": small.demand_id})
    assert statuses["totals"]["matches"] == stored  # every match of the session's demand
    english = small.organizer.get(
        f"/v1/sessions/{small.session_id}/report", params={"lang": "en"}
    ).json()
    assert _table(english, "confirmed_by_origin")["totals"]["province"] == "Total"


def test_the_session_report_as_xlsx_and_html(small):
    url = f"/v1/sessions/{small.session_id}/report"
    workbook = small.organizer.get(url, params={"format": "xlsx"})
    assert workbook.status_code == 200
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f"bao-cao-{small.session_id}.xlsx" in workbook.headers["content-disposition"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(workbook.content))
    assert book.sheet_names[:3] == ["Tổng quan", "Phiên", "Tỉnh thành"]
    rows = book.get_sheet_by_name("Đã chốt theo tỉnh").to_python()
    assert rows[1][:4] == ["Quảng Ngãi", 1, QUANTITY_KG, VALUE_VND]
    assert rows[2][0] == "Tổng cộng" and rows[2][3] == VALUE_VND

    page = small.organizer.get(url, params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "style-src 'sha256-" in policy
    text = page.text
    assert '<html lang="vi">' in text and "Kết nối đã chốt theo tỉnh/thành xuất xứ" in text
    assert "HTX Sâm Ngọc Linh &lt;Kon Tum&gt;" in text and "<Kon Tum>" not in text
    assert "750.000.000" in text  # 300 kg at 2,500,000 VND/kg, Vietnamese digits


def test_other_keys_get_what_they_get_for_the_session(small, issue_key, client_for):
    url = f"/v1/sessions/{small.session_id}/report"
    stranger = client_for(issue_key("so-cong-thuong-khac", "organizer"))
    refused = stranger.get(url)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert small.buyer.get(url).status_code == 404  # a party of the session is no organizer
    assert (
        small.buyer.get(
            "/v1/reports", params={"from": "2026-12-01", "to": "2026-12-31"}
        ).status_code
        == 403
    )
    theirs = stranger.get("/v1/reports", params={"from": "2026-12-01", "to": "2026-12-31"})
    assert theirs.status_code == 200 and small.session_id not in theirs.json()["session_ids"]


def test_the_period_report_includes_the_session_and_bounds_the_period(small, api):
    ours = small.organizer.get("/v1/reports", params={"from": "2026-12-08", "to": "2027-01-31"})
    assert ours.status_code == 200, ours.text
    report = ours.json()
    assert report["session_ids"] == [small.session_id]  # the organizer's only session
    assert report["from"] == "2026-12-08" and report["kind"] == "period"
    figures = {f["key"]: f["value"] for f in report["headline"]}
    assert figures["confirmed_vnd"] == VALUE_VND
    everyone = api.get("/v1/reports", params={"from": "2026-12-01", "to": "2026-12-31"})
    assert small.session_id in everyone.json()["session_ids"]  # the admin sees every session
    before = small.organizer.get("/v1/reports", params={"from": "2026-11-01", "to": "2026-12-06"})
    assert before.json()["session_ids"] == []

    backwards = small.organizer.get(
        "/v1/reports", params={"from": "2026-12-31", "to": "2026-12-01"}
    )
    assert backwards.status_code == 422
    assert [e["path"] for e in backwards.json()["errors"]] == ["query.to"]
    too_long = small.organizer.get("/v1/reports", params={"from": "2026-01-01", "to": "2027-01-02"})
    assert too_long.status_code == 422 and "366 days" in too_long.json()["detail"]
    not_a_date = small.organizer.get(
        "/v1/reports", params={"from": "31/12/2026", "to": "2027-01-02"}
    )
    assert not_a_date.status_code == 422
    assert [e["path"] for e in not_a_date.json()["errors"]] == ["query.from"]


def test_the_cli_saves_the_workbook_and_the_page(small, services, tmp_path):
    env = {**os.environ, "KETNOI_API_KEY": small.organizer_key}
    xlsx, html = tmp_path / "bao-cao.xlsx", tmp_path / "bao-cao.html"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketnoi.cli",
            "report",
            "session",
            small.session_id,
            "--xlsx",
            str(xlsx),
            "--html",
            str(html),
            "--api",
            services.settings.gateway_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {xlsx}" in run.stderr and f"wrote {html}" in run.stderr
    assert CalamineWorkbook.from_path(str(xlsx)).sheet_names[0] == "Tổng quan"
    assert "Kết nối đã chốt" in html.read_text(encoding="utf-8")

    period = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketnoi.cli",
            "report",
            "period",
            "--from",
            "01/12/2026",
            "--to",
            "31/12/2026",
            "--lang",
            "en",
            "--api",
            services.settings.gateway_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert period.returncode == 0, period.stderr
    assert "Confirmed value (VND)" in period.stdout and "750,000,000" in period.stdout

    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketnoi.cli",
            "report",
            "session",
            "no-such-session",
            "--api",
            services.settings.gateway_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert missing.returncode == 1 and missing.stdout == ""
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "(404:" in lines[0]


def test_a_meeting_its_agreed_contract_and_a_claimed_delivery_are_reported(small, mongo):
    """It adds a meeting, an outcome and a delivery: no other test here counts those."""
    hold_the_meeting(small, mongo)
    report = small.organizer.get(f"/v1/sessions/{small.session_id}/report").json()
    figures = {f["key"]: f["value"] for f in report["headline"]}
    assert figures["meetings_held"] == 1
    assert (figures["contracts"], figures["contract_kg"]) == (1, QUANTITY_KG)
    assert figures["contract_vnd"] == 750_000_000 and figures["claimed"] == 0
    origin = _table(report, "deals_by_origin")
    assert [row["province"] for row in origin["rows"]] == ["Quảng Ngãi"]
    assert origin["totals"]["contract_vnd"] == 750_000_000
    meetings = _table(report, "meetings")["rows"]
    assert meetings == [{"session_id": small.session_id, "requested": 0, "scheduled": 1,
                         "held": 1, "no_outcome": 0, "cancelled": 0}]  # fmt: skip
    deliveries = _table(report, "deliveries")["totals"]
    assert (deliveries["confirmed"], deliveries["claimed"]) == (0, 1)
    assert deliveries["claimed_kg"] == 100.0 and deliveries["claimed_vnd"] == 250_000_000
