"""Web hardening on the live gateway: headers on every kind of answer, /metrics behind a key,
the monitor's forms refusing other sites, streams ended by a revocation and capped per key and
in total, and a Last-Event-ID that is not ours answered with a snapshot (never a 500)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from services.gateway.keys import revoke_key
from tests.conftest import free_port
from tests.e2e.monitor_support import WatchedSession, open_session, sse_events
from tests.support import eventually

pytestmark = pytest.mark.infra
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def watched(api, issue_key, client_for) -> WatchedSession:
    # No order is posted here: the session only needs to exist for the monitor.
    return open_session(api, issue_key, client_for, "ornamental-plants")


def _events(client: httpx.Client, session_id: str, **headers: str | bytes):
    return client.stream("GET", f"/monitor/sessions/{session_id}/events", headers=headers)


def _assert_headers(response: httpx.Response, page: bool = False) -> None:
    where = f"{response.request.url.path} ({response.status_code})"
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["x-frame-options"] == "DENY", where
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy, where
    if page:
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'", policy  # no inline script, no eval
        for name, value in (("object-src", "'none'"), ("base-uri", "'none'"),
                            ("form-action", "'self'")):  # fmt: skip
            assert directives[name] == value, (where, name)


def test_every_kind_of_answer_carries_the_headers(services, api, watched):
    url = services.settings.gateway_url
    with httpx.Client(base_url=url) as anonymous:
        json_answer = api.get("/v1/organizations/" + watched.organizer_id)
        assert json_answer.status_code == 200
        _assert_headers(json_answer)
        problem = anonymous.get("/v1/offers")
        assert problem.status_code == 401 and problem.headers["content-type"] == PROBLEM
        _assert_headers(problem)
        for asset, kind in (("monitor.js", "text/javascript"), ("monitor.css", "text/css")):
            answer = anonymous.get(f"/monitor/static/{asset}")
            assert answer.headers["content-type"].startswith(kind)
            _assert_headers(answer)
        for page in ("/monitor/login", "/docs", "/redoc"):
            answer = anonymous.get(page)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(
                "text/html"
            )
            _assert_headers(answer, page=True)
    with _events(watched.organizer, watched.session_id) as stream:
        assert stream.status_code == 200
        _assert_headers(stream)
        assert next(sse_events(stream)).event == "snapshot"  # headers did not hold the body


def test_metrics_need_an_organizer_or_admin_key(services, api, watched):
    anonymous = httpx.get(f"{services.settings.gateway_url}/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    assert "Bearer" in anonymous.headers["www-authenticate"]
    for other_role in (watched.retailer, watched.seller):
        refused = other_role.get("/metrics")
        assert refused.status_code == 403 and "read the metrics" in refused.json()["detail"]
    for client in (api, watched.organizer):
        answer = client.get("/metrics")
        assert answer.status_code == 200 and "ketnoi_gateway_requests_total" in answer.text


async def test_metrics_can_be_opened_for_a_gateway_on_an_internal_address(in_process):
    async with in_process(metrics_access="open") as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200 and "ketnoi_gateway_requests_total" in answer.text


def test_login_and_logout_refuse_another_sites_forms(services, watched):
    url = services.settings.gateway_url
    path = f"/monitor/sessions/{watched.session_id}"
    form = {"api_key": watched.organizer_key, "next": path}
    with httpx.Client(base_url=url) as browser:
        for cross_site in (
            {"Origin": "http://evil.example"},
            {"Origin": url.replace("127.0.0.1", "localhost")},  # another origin, same machine
            {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ):
            refused = browser.post("/monitor/login", data=form, headers=cross_site)
            assert refused.status_code == 403, (cross_site, refused.text)
            assert refused.headers["content-type"] == PROBLEM
            assert refused.json()["type"] == "urn:ketnoi:problem:cross-site-form"
            assert "set-cookie" not in refused.headers
        assert browser.get(path + "/snapshot").status_code == 401  # not logged in

        ours = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        logged_in = browser.post("/monitor/login", data=form, headers=ours)
        assert logged_in.status_code == 303 and logged_in.headers["location"] == path
        assert "samesite=strict" in logged_in.headers["set-cookie"].lower()
        assert browser.get(path + "/snapshot").status_code == 200

        refused = browser.post("/monitor/logout", headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        assert browser.get(path + "/snapshot").status_code == 200  # still logged in
        assert browser.post("/monitor/logout", headers=ours).status_code == 303
        assert browser.get(path + "/snapshot").status_code == 401


def test_a_last_event_id_that_is_not_ours_gets_a_snapshot_never_a_500(watched):
    with _events(watched.organizer, watched.session_id) as response:
        first = next(sse_events(response))
    assert first.event == "snapshot" and first.id
    epoch = first.id.rsplit("-", 1)[0]
    # '²' as the one latin-1 byte a client may send (Starlette decodes headers as latin-1),
    # then forms that int() refuses or would misread.
    for bad in (f"{epoch}-".encode() + b"\xb2", f"{epoch}-1\xb2".encode("latin-1"),
                f"{epoch}-{'9' * 5000}"):  # fmt: skip
        with _events(watched.organizer, watched.session_id, **{"Last-Event-ID": bad}) as answer:
            assert answer.status_code == 200, answer.read()
            assert next(sse_events(answer)).event == "snapshot"
    # The query parameter (for clients that cannot set the header) is read as UTF-8.
    for bad in (f"{epoch}-²", f"{epoch}-١"):
        with watched.organizer.stream(
            "GET",
            f"/monitor/sessions/{watched.session_id}/events",
            params={"last_event_id": bad},
        ) as answer:
            assert answer.status_code == 200, answer.read()
            assert next(sse_events(answer)).event == "snapshot"


def test_revoking_a_key_ends_its_open_streams_within_the_cache_interval(
    services, api, issue_key, client_for, mongo
):
    own = open_session(api, issue_key, client_for, "ornamental-plants")  # its key is revoked
    settings = services.settings
    cache_s = settings.api_key_cache_seconds
    path = f"/monitor/sessions/{own.session_id}"
    # Each read waits at most this long: a stream still open after it fails the test.
    timeout = httpx.Timeout(10.0, read=cache_s + 5.0)
    with (
        httpx.Client(base_url=settings.gateway_url, timeout=timeout) as script,
        httpx.Client(base_url=settings.gateway_url, timeout=timeout) as browser,
    ):
        login = browser.post("/monitor/login", data={"api_key": own.organizer_key, "next": path})
        assert login.status_code == 303
        bearer = {"Authorization": f"Bearer {own.organizer_key}"}
        with (
            script.stream("GET", path + "/events", headers=bearer) as by_key,
            browser.stream("GET", path + "/events") as by_cookie,
        ):
            streams = [sse_events(by_key), sse_events(by_cookie)]
            assert [next(s).event for s in streams] == ["snapshot", "snapshot"]
            key_id = own.organizer_key.split("_")[1]
            assert revoke_key(mongo, key_id)
            revoked_at = time.monotonic()
            for events in streams:
                for _ in events:  # until the gateway ends the stream
                    pass
            took = time.monotonic() - revoked_at
        assert took <= cache_s + 2.0, f"streams ended {took:.1f}s after the revocation"
        # Reconnecting (as EventSource does) is refused: the re-check renewed the key cache.
        assert script.get(path + "/snapshot", headers=bearer).status_code == 401
        assert browser.get(path + "/snapshot").status_code == 401


@pytest.fixture(scope="module")
def capped_gateway(infra: Settings, services) -> Iterator[Settings]:
    """A second gateway on the session's topics and store, with tiny stream caps."""
    settings = infra.model_copy(
        update={
            "gateway_port": free_port(),
            "monitor_max_streams_per_key": 2,
            "monitor_max_streams": 3,
        }
    )
    group = ServiceGroup(settings, infra.home / "test-logs" / "gateway-stream-caps")
    group.start("gateway")
    try:
        group.wait_gateway_ready()
        yield settings
    finally:
        group.stop()


def test_open_streams_are_capped_per_key_and_in_total(capped_gateway, watched, admin_key):
    url = capped_gateway.gateway_url
    organizer = {"Authorization": f"Bearer {watched.organizer_key}"}
    admin = {"Authorization": f"Bearer {admin_key}"}
    snapshot = f"/monitor/sessions/{watched.session_id}/snapshot"
    with httpx.Client(base_url=url, timeout=10.0) as client, contextlib.ExitStack() as held:
        eventually(
            lambda: client.get(snapshot, headers=organizer).status_code == 200,
            what="the capped gateway's monitor to read the session",
        )

        def open_stream(headers: dict[str, str]) -> httpx.Response:
            return held.enter_context(_events(client, watched.session_id, **headers))

        assert [open_stream(organizer).status_code for _ in range(2)] == [200, 200]
        started = time.monotonic()
        per_key = open_stream(organizer)
        assert per_key.status_code == 429 and per_key.headers["content-type"] == PROBLEM
        assert int(per_key.headers["Retry-After"]) >= 1
        assert "2 monitor streams" in per_key.read().decode()
        assert open_stream(admin).status_code == 200  # another key still has room
        total = open_stream(admin)
        assert total.status_code == 503 and int(total.headers["Retry-After"]) >= 1
        assert "3 monitor streams" in total.read().decode()
        assert time.monotonic() - started < 2.0  # refused at once, not after any wait
