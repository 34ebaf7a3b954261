"""Operations: OpenAPI and /docs, liveness and readiness, Prometheus metrics, JSON logs that
carry the request id and the ids of the events a request produced."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.factories import offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra


def test_openapi_documents_every_resource_keys_and_problem_errors(services):
    document = httpx.get(f"{services.settings.gateway_url}/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/v1/offers",
        "/v1/offers:bulk",
        "/v1/offers/{offer_id}/withdraw",
        "/v1/demands/{demand_id}/cancel",
        "/v1/matches/{match_id}/accept",
        "/v1/sessions/{session_id}/stats",
        "/v1/organizations",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    create = paths["/v1/offers"]["post"]
    assert create["security"] == [{"ApiKey": []}]
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "Retry-After" in create["responses"]["503"]["headers"]
    header_names = {p["name"] for p in create["parameters"]}
    assert {"Idempotency-Key", "session_id"} <= header_names
    docs = httpx.get(f"{services.settings.gateway_url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_health_and_readiness(services):
    url = services.settings.gateway_url
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"store": "ok", "kafka": "ok"}}


def test_metrics_count_requests_latencies_and_produced_events(api, services):
    body = offer_body(
        category="wine-liquor",
        supplier_id="htx-ruou-ngo",
        product={"name": "Rượu ngô Bắc Hà", "category": "wine-liquor"},
    )
    assert api.post("/v1/offers", json=body).status_code == 202
    text = api.get("/metrics").text
    assert 'ketnoi_gateway_events_produced_total{type="offer.published"}' in text
    assert 'ketnoi_gateway_requests_total{method="POST",route="/v1/offers",status="202"}' in text
    assert (
        'ketnoi_gateway_request_seconds_bucket{le="0.05",method="POST",route="/v1/offers"}' in text
    )
    assert "ketnoi_gateway_publish_seconds_count" in text
    # Routes are labelled by template: ids in paths never become series of their own.
    api.get(f"/v1/offers/{uuid.uuid4()}")
    text = api.get("/metrics").text
    assert 'route="/v1/offers/{offer_id}"' in text


def test_logs_are_json_lines_with_the_request_and_event_ids(api, services):
    request_id = f"log-check-{uuid.uuid4().hex[:8]}"
    body = offer_body(
        category="wine-liquor",
        supplier_id="htx-ruou-ngo",
        product={"name": "Rượu ngô Bắc Hà", "category": "wine-liquor"},
    )
    response = api.post("/v1/offers", json=body, headers={"X-Request-ID": request_id})
    event_id = response.json()["event_id"]
    log_file = services.log_dir / "gateway.log"

    def ours() -> list[dict] | None:
        lines = [
            json.loads(line) for line in log_file.read_text().splitlines() if request_id in line
        ]
        return lines if len(lines) >= 2 else None

    lines = eventually(ours, what="the request's log lines")
    published = next(line for line in lines if line["msg"] == "published")
    assert published["event_ids"] == [event_id] and published["level"] == "info"
    request = next(line for line in lines if line["msg"] == "request")
    assert request["status"] == 202 and request["route"] == "/v1/offers"
    assert request["org_id"] == "ketnoi-admin" and request["duration_ms"] > 0
