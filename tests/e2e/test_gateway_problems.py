"""Errors say clearly what is wrong: RFC 9457 problem+json with the field path, the allowed
values and the closest match; 401 for keys, 413 for oversized bodies, 429 per key."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from ketnoi.runner import settings_env
from tests.factories import demand_body, offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id", "errors"}


def test_an_invalid_body_names_each_field_what_is_allowed_and_the_closest(api):
    body = demand_body(unit="kgg", delivery_province="Hai Phongg", criteria={"category": "xe máy"})
    response = api.post("/v1/demands", json=body, headers={"X-Request-ID": "req-422-check"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_KEYS
    assert problem["type"] == "urn:ketnoi:problem:invalid-request"
    assert problem["status"] == 422 and problem["instance"] == "/v1/demands"
    assert problem["request_id"] == response.headers["X-Request-ID"] == "req-422-check"
    errors = {e["path"]: e for e in problem["errors"]}
    assert set(errors) == {"quantity.unit", "delivery_province", "criteria.category"}
    assert "tấn" in errors["quantity.unit"]["allowed"] and errors["quantity.unit"]["suggestion"]
    assert errors["delivery_province"]["suggestion"] == "Hải Phòng"
    assert "coffee" in errors["criteria.category"]["allowed"]
    assert "quantity.unit" in problem["detail"] and "Hải Phòng" in problem["detail"]


def test_a_bad_query_parameter_lists_the_allowed_values(api):
    response = api.get("/v1/matches", params={"status": "done", "limit": 0})
    assert response.status_code == 422
    errors = {e["path"]: e for e in response.json()["errors"]}
    assert errors["query.status"]["allowed"] == ["proposed", "confirmed", "expired", "released"]
    assert errors["query.limit"]["allowed"] == [">= 1"]


def test_unknown_items_and_methods_are_problems_too(api):
    missing = api.get(f"/v1/offers/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:ketnoi:problem:not-found"
    method = api.delete("/v1/sessions/s1/participants")
    assert method.status_code == 405
    assert method.headers["Allow"] == "GET, HEAD, POST"  # both routes of the path
    assert method.headers["content-type"] == "application/problem+json"


def test_missing_unknown_and_revoked_keys_are_401(services, issue_key, client_for, infra):
    url = f"{services.settings.gateway_url}/v1/demands"
    for headers in ({}, {"Authorization": "Bearer knk_nope"}, {"Authorization": "Basic eDp5"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["type"] == "urn:ketnoi:problem:unauthenticated"

    env = {**os.environ, **settings_env(infra)}
    org = f"sieu-thi-{uuid.uuid4().hex[:6]}"
    create = ["keys", "create", "--org", org, "--role", "retailer", "--unregistered"]
    created = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", *create],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip()
    assert key.startswith("knk_") and "shown once" in created.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "keys", "list", "--org", org],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert key not in listed.stdout and "retailer" in listed.stdout and "active" in listed.stdout
    key_id = listed.stdout.split()[0]
    client = client_for(key)
    assert client.get("/v1/demands").status_code == 200
    from pymongo import MongoClient

    with MongoClient(infra.mongo_url) as mongo:  # only the hash is stored
        stored = mongo[infra.mongo_db].api_keys.find_one({"key_id": key_id})
        assert stored["_id"] == hashlib.sha256(key.encode()).hexdigest()
        assert key not in str(stored)

    revoked = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "keys", "revoke", key_id],
        env=env,
        capture_output=True,
        text=True,
    )
    assert revoked.returncode == 0, revoked.stderr
    eventually(
        lambda: client.get("/v1/demands").status_code == 401,
        timeout=services.settings.api_key_cache_seconds + 10,
        what="the key refused",
    )
    again = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "keys", "revoke", key_id],
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "no active key" in again.stderr


def test_a_province_key_needs_its_province(infra):
    env = {**os.environ, **settings_env(infra)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketnoi.cli",
            "keys",
            "create",
            "--org",
            "so-ct-x",
            "--role",
            "province",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "--province" in result.stderr


def test_an_oversized_body_is_413_declared_or_streamed(api, services):
    limit = services.settings.max_body_bytes
    big = offer_body(product={"name": "x" * (limit + 10), "category": "tea"})
    declared = api.post("/v1/offers", json=big)
    assert declared.status_code == 413
    assert declared.json()["type"] == "urn:ketnoi:problem:body-too-large"

    def chunks():  # no Content-Length: the gateway counts while reading
        yield b'{"supplier_id": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = api.post(
        "/v1/offers", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"


async def test_rate_limits_are_per_key_with_retry_after(in_process, issue_key, admin_key):
    first, second = issue_key("sieu-thi-rl-1", "retailer"), issue_key("sieu-thi-rl-2", "retailer")
    async with in_process(rate_limit_per_second=0.2, rate_limit_burst=3) as client:
        answers = [
            (await client.get("/v1/demands", headers={"Authorization": f"Bearer {first}"}))
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        limited = answers[-1]
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["type"] == "urn:ketnoi:problem:rate-limited"
        other = await client.get("/v1/demands", headers={"Authorization": f"Bearer {second}"})
        assert other.status_code == 200
        admin = {"Authorization": f"Bearer {admin_key}"}
        metrics = (await client.get("/metrics", headers=admin)).text
        assert "ketnoi_gateway_rate_limited_total 1.0" in metrics
