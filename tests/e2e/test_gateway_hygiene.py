"""Bounded work per request and strict input (issue 12, items 1 and 5), on the real gateway."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.factories import demand_body, offer_body

pytestmark = pytest.mark.infra


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _post(api, path: str, content: bytes, content_type: str = "application/json"):
    return api.post(path, content=content, headers={"content-type": content_type})


def test_an_oversized_list_is_refused_at_once_without_growing_memory(services, api):
    """Once: 320,000 ships_to items took 20.6 s, froze the gateway, answered 50 MB and left
    the process 850 MB larger."""
    pid = services.procs["gateway"].pid
    before = _rss_mb(pid)
    body = json.dumps(offer_body(ships_to=["zz"] * 320_000)).encode()
    started = time.monotonic()
    response = _post(api, "/v1/offers", body)
    took = time.monotonic() - started
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["ships_to"]
    assert len(response.content) < 5_000
    assert took < 3.0, f"{took:.1f} s for a refusal"
    assert _rss_mb(pid) - before < 150, "the refusal kept memory"


def test_a_problem_lists_at_most_twenty_fields(api):
    body = demand_body(excluded_suppliers=[f"bad id {i}" for i in range(100)])
    response = api.post("/v1/demands", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 20 and problem["errors_omitted"] == 80


def test_the_role_is_checked_before_the_body(issue_key, client_for):
    retailer = client_for(issue_key("st-hygiene", "retailer"))
    body = json.dumps(offer_body(ships_to=["zz"] * 320_000, unit_price_vnd=True)).encode()
    response = _post(retailer, "/v1/offers", body)
    assert response.status_code == 403 and "cannot publish offers" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (offer_body(unit_price_vnd=True), "unit_price_vnd", "not true/false"),
        (offer_body(quantity={"amount": "١٢", "unit": "tấn"}), "quantity.amount", "ASCII"),
        (
            offer_body(product={"name": "\u200d\u200c\u200b", "category": "tea"}),
            "product.name",
            "no visible character",
        ),
        (offer_body(product={"name": "Trà\x00", "category": "tea"}), "product.name", "U+0000"),
        (
            offer_body(product={"name": "\x1b[31mTrà", "category": "tea"}),
            "product.name",
            "U+001B",
        ),
    ],
    ids=["bool-price", "arabic-indic-digits", "zero-width-name", "nul", "esc"],
)
def test_loose_input_is_refused_with_the_field_named(api, body, path, words):
    response = api.post("/v1/offers", json=body)
    assert response.status_code == 422, response.text
    errors = {e["path"]: e["problem"] for e in response.json()["errors"]}
    assert words in errors[path]


def test_only_utf8_json_is_accepted(api):
    text = json.dumps(offer_body(), ensure_ascii=False)
    utf16 = _post(api, "/v1/offers", text.encode("utf-16"))
    assert utf16.status_code == 415 and "UTF-8" in utf16.json()["detail"]
    latin = _post(api, "/v1/offers", text.encode(), "application/json; charset=latin-1")
    assert latin.status_code == 415
    plain = _post(api, "/v1/offers", text.encode(), "text/plain")
    assert plain.status_code == 415


def test_duplicate_keys_nan_and_broken_json_are_refused_with_a_place(api):
    text = json.dumps(offer_body())
    twice = _post(api, "/v1/offers", (text[:-1] + ', "unit_price_vnd": 1}').encode())
    assert twice.status_code == 400 and "'unit_price_vnd' appears twice" in twice.json()["detail"]
    nan = _post(api, "/v1/offers", text.replace('"unit_price_vnd": 50000', '"unit_price_vnd": NaN')
                .encode())  # fmt: skip
    assert nan.status_code == 400 and "NaN" in nan.json()["detail"]
    broken = _post(api, "/v1/offers", b'{\n  "supplier_id": "x",\n  oops\n}')
    assert broken.status_code == 400
    assert "line 3, column 3" in broken.json()["detail"]


def test_a_weak_etag_is_refused(api):
    response = api.put("/v1/offers/o-missing", json=offer_body(), headers={"If-Match": 'W/"1"'})
    assert response.status_code == 422 and "not W/" in response.json()["detail"]
