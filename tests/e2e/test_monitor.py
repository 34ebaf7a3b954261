"""The organizer monitor over HTTP: the event stream, resuming it, logins and who may watch."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.monitor_support import (
    WatchedSession,
    open_session,
    read_until,
    rows_of,
    sse_events,
)

pytestmark = pytest.mark.infra
FEED_DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def watched(api, issue_key, client_for) -> WatchedSession:
    return open_session(api, issue_key, client_for, "handicrafts-bamboo-rattan")


def _stream(client: httpx.Client, session_id: str, last_id: str | None = None):
    headers = {"Last-Event-ID": last_id} if last_id else {}
    return client.stream(
        "GET", f"/monitor/sessions/{session_id}/events", headers=headers, timeout=20.0
    )


def _has_match(n: int):
    return lambda seen: len(rows_of(seen)) >= n


def test_stream_sends_a_snapshot_then_each_match_and_resumes_without_gaps(watched):
    client = watched.organizer
    with _stream(client, watched.session_id) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        first = next(events)
        assert first.event == "snapshot" and first.data["session"]["id"] == watched.session_id
        assert first.data["session"]["status"] == "open"
        assert first.data["figures"]["participants"] == {"buyer": 1, "supplier": 1}
        watched.post_offer()
        watched.post_demand()
        seen = read_until(events, _has_match(1), FEED_DEADLINE_S, "match in the stream")
    [row] = rows_of(seen).values()
    assert row["supplier"]["name"] == watched.supplier_name
    assert row["buyer"]["name"] == "Siêu thị Hải Phòng"
    assert row["product"] == watched.product and row["origin"] == "Bắc Ninh"
    assert row["quantity_kg"] == 3000.0 and row["unit_price_vnd"] == 50_000
    assert row["status"] == "proposed" and 0 < row["score"] <= 100
    figures = seen[-1].data["figures"]
    assert figures["proposals"] >= 1 and figures["offers"] >= 1 and figures["demands"] >= 1
    assert seen[-1].data["charts"]["by_origin"][0]["label"]["vi"] == "Bắc Ninh"
    last_id = seen[-1].id
    assert last_id and re.fullmatch(r"[0-9a-f]+-\d+", last_id)

    # While nobody watches, a second demand is matched; coming back with Last-Event-ID gets
    # exactly the updates after that id: no snapshot, nothing seen before, the new match.
    watched.post_demand(amount="2")
    with _stream(client, watched.session_id, last_id) as response:
        events = sse_events(response)
        resumed = read_until(events, _has_match(1), FEED_DEADLINE_S, "missed match on resume")
    epoch, seq = last_id.rsplit("-", 1)
    assert all(e.event == "update" for e in resumed)
    seqs = [int(e.id.rsplit("-", 1)[1]) for e in resumed]
    assert seqs == sorted(set(seqs)) and seqs[0] == int(seq) + 1
    assert all(e.id.startswith(epoch + "-") for e in resumed)
    new_rows = rows_of(resumed)
    assert row["id"] not in new_rows
    assert [r["quantity_kg"] for r in new_rows.values()] == [2000.0]


def test_the_monitor_reports_its_state_to_prometheus(watched):
    text = watched.organizer.get("/metrics").text  # an organizer's key may read the metrics
    applied = re.search(r"^ketnoi_monitor_events_applied (\S+)$", text, re.M)
    assert applied and float(applied.group(1)) > 0
    assert re.search(r"^ketnoi_monitor_caught_up 1\.0$", text, re.M)


def test_an_unknown_or_stale_event_id_gets_a_snapshot(watched):
    with _stream(watched.organizer, watched.session_id, "deadbeef-12") as response:
        first = next(sse_events(response))
    assert first.event == "snapshot"
    snapshot = watched.organizer.get(f"/monitor/sessions/{watched.session_id}/snapshot")
    assert snapshot.status_code == 200 and snapshot.json()["kind"] == "snapshot"


def test_only_the_sessions_organizer_and_the_admin_may_watch(
    watched, api, client_for, issue_key, services
):
    path = f"/monitor/sessions/{watched.session_id}"
    other = client_for(issue_key("so-cong-thuong-khac", "organizer"))
    for suffix in ("/events", "/snapshot"):
        assert other.get(path + suffix).status_code == 404
    assert other.get(path).status_code == 404
    assert "Không có phiên này" in other.get(path).text
    retailer = watched.retailer
    assert retailer.get(path + "/snapshot").status_code == 403
    with httpx.Client(base_url=services.settings.gateway_url) as anonymous:
        assert anonymous.get(path + "/snapshot").status_code == 401
        page = anonymous.get(path)
        assert page.status_code == 303
        assert page.headers["location"] == f"/monitor/login?next={path}"
    assert api.get(path + "/snapshot").status_code == 200
    listed = other.get("/monitor/api/sessions").json()["sessions"]
    assert watched.session_id not in [s["id"] for s in listed]
    mine = watched.organizer.get("/monitor/api/sessions").json()["sessions"]
    assert [s["id"] for s in mine] == [watched.session_id]


def test_login_sets_a_strict_cookie_that_ends_at_logout(watched, services, issue_key):
    path = f"/monitor/sessions/{watched.session_id}"
    with httpx.Client(base_url=services.settings.gateway_url) as browser:
        wrong = browser.post("/monitor/login", data={"api_key": "knk_nope", "next": path})
        assert wrong.status_code == 303 and "error=key" in wrong.headers["location"]
        retailer_key = issue_key("sieu-thi-nao-do", "retailer")
        refused = browser.post("/monitor/login", data={"api_key": retailer_key, "next": path})
        assert "error=role" in refused.headers["location"]
        evil = browser.post(
            "/monitor/login", data={"api_key": watched.organizer_key, "next": "//evil.example/"}
        )
        assert evil.headers["location"] == "/monitor"
        ok = browser.post("/monitor/login", data={"api_key": watched.organizer_key, "next": path})
        assert ok.status_code == 303 and ok.headers["location"] == path
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/monitor" in cookie
        page = browser.get(path)
        assert page.status_code == 200 and '<html lang="vi">' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert browser.get(path + "/snapshot").status_code == 200
        browser.post("/monitor/logout")
        assert browser.get(path + "/snapshot").status_code == 401


def test_every_asset_is_served_by_the_project(services, watched):
    """Works offline at the venue: no script, style or font comes from another host."""
    with httpx.Client(base_url=services.settings.gateway_url) as browser:
        for page in ("/monitor/login",):
            html = browser.get(page).text
            refs = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert refs and all(r.startswith("/monitor/") for r in refs), refs
            for ref in refs:
                if ref.startswith("/monitor/static/"):
                    assert browser.get(ref).status_code == 200, ref
        for asset in ("monitor.js", "monitor.css"):
            text = browser.get(f"/monitor/static/{asset}").text
            assert not re.search(r"https?://", text), f"{asset} refers to another host"
