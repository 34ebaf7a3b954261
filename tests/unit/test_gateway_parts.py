"""The gateway's pure parts: rate limits, keys, problem details, cursors, bulk results,
authorization filters, idempotent ids, If-Match and the OpenAPI rewrite."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest
from aiokafka.errors import KafkaTimeoutError

from schemas.events import OfferPublished, OfferWithdrawn, utcnow
from schemas.orders import Offer, OfferSubmission
from services.gateway import bulk
from services.gateway.common import narrow
from services.gateway.idempotency import Ids
from services.gateway.keys import Caller, Role, caller_from, key_record
from services.gateway.openapi import problem_json
from services.gateway.problems import (
    ApiProblem,
    event_too_large,
    problem_body,
    publish_problem,
    request_errors,
)
from services.gateway.publisher import (
    EventPublisher,
    EventTooLarge,
    PublishUnavailable,
    WriteAttempt,
    encode,
)
from services.gateway.ratelimit import RateLimiter
from services.gateway.revisions import parse_if_match
from services.gateway.views import decode_cursor, encode_cursor
from tests.factories import offer_body


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_the_sustained_rate_per_key():
    clock = Clock()
    limiter = RateLimiter(rate_per_second=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)  # one token back in half a second
    assert limiter.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    clock.now += 60  # refilled, but never above the burst
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") > 0


def test_a_key_is_stored_as_its_hash_only():
    issued, doc = key_record("htx-dak-ha", "supplier", label="kế toán")
    assert issued.key.startswith(f"knk_{issued.key_id}_") and len(issued.key) > 50
    assert doc["_id"] == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key not in str(doc.values())
    assert caller_from(doc) == Caller("htx-dak-ha", Role.SUPPLIER, issued.key_id, None)
    assert caller_from({**doc, "revoked_at": "2026-11-27"}) is None
    other, _ = key_record("htx-dak-ha", "supplier")
    assert other.key != issued.key and other.key_id != issued.key_id


def test_a_province_key_names_a_current_province():
    issued, doc = key_record("so-ct-kon-tum", "province", province="tinh kon tum")
    assert issued.province == "quang-ngai" and doc["province_name"] == "Quảng Ngãi"
    with pytest.raises(ValueError, match="--province"):
        key_record("so-ct", "province")
    with pytest.raises(ValueError, match="province role only"):
        key_record("htx", "supplier", province="Sơn La")
    with pytest.raises(ValueError, match="ASCII"):
        key_record("hợp tác xã", "supplier")
    with pytest.raises(ValueError):
        key_record("htx", "owner")


def test_request_errors_name_where_what_and_the_limits():
    errors = [
        {
            "type": "greater_than_equal",
            "loc": ("query", "limit"),
            "msg": "Input should be >= 1",
            "ctx": {"ge": 1},
        },
        {"type": "missing", "loc": ("body", "quantity", "amount"), "msg": "Field required"},
        {
            "type": "enum",
            "loc": ("query", "status"),
            "msg": "Input should be 'a' or 'b'",
            "ctx": {"expected": "'a' or 'b'"},
        },
    ]
    problems = {p.path: p for p in request_errors(errors)}
    assert problems["query.limit"].allowed == [">= 1"]
    assert problems["quantity.amount"].problem == "this field is required"
    assert problems["query.status"].allowed == ["a", "b"]


def test_problem_details_have_the_rfc_9457_members():
    body = problem_body(409, "already withdrawn", instance="/v1/offers/o1")
    assert body["type"] == "urn:ketnoi:problem:conflict"
    assert body["status"] == 409 and body["detail"] == "already withdrawn"
    assert "Xung đột" in body["title"] and body["errors"] == []


def test_cursors_round_trip_and_foreign_strings_are_refused():
    assert decode_cursor(encode_cursor("d-01:x")) == "d-01:x"
    assert decode_cursor(None) is None
    for bad in ("%%%", "aGVsbG8", ""):
        with pytest.raises(ApiProblem) as refused:
            decode_cursor(bad)
        assert refused.value.status == 422 and refused.value.errors[0].path == "query.cursor"


def test_bulk_validation_reports_each_bad_item_at_its_index():
    items = [offer_body(), offer_body(quantity={"amount": "1", "unit": "hôpp"}), "not an offer"]
    valid, refused = asyncio.run(bulk.validate_items(OfferSubmission, items))
    assert [index for index, _ in valid] == [0]
    assert refused[1].status == 422 and refused[1].errors[0].path == "items[1].quantity.unit"
    assert refused[1].errors[0].suggestion == "hộp"
    assert refused[2].errors[0].path == "items[2]"
    too_many = bulk.too_many(501, 500)
    assert too_many.status == 413 and too_many.errors[0].allowed == ["<= 500"]


def test_narrowing_a_scope_refuses_other_organizations():
    scope = {"supplier_id": {"$in": ["htx-a", "htx-b"]}}
    assert narrow(scope, "supplier_id", "htx-a", "offers") == {"supplier_id": "htx-a"}
    assert narrow(scope, "supplier_id", None, "offers") == scope
    with pytest.raises(ApiProblem) as refused:
        narrow({"buyer_id": "st-1"}, "buyer_id", "st-2", "demands")
    assert refused.value.status == 403 and refused.value.errors[0].allowed == ["st-1"]
    assert narrow({"buyer_id": "st-1"}, "session_id", "s1", "matches") == {
        "buyer_id": "st-1",
        "session_id": "s1",
    }


def test_ids_derive_from_the_idempotency_claim():
    keyed, again = Ids("idem|org|key|hash"), Ids("idem|org|key|hash")
    assert keyed.entity("offer", 3) == again.entity("offer", 3)
    assert keyed.entity("offer", 3) != keyed.entity("offer", 4)
    assert keyed.event(0) == again.event(0) and isinstance(keyed.event(0), uuid.UUID)
    assert Ids("idem|org|key|other").entity("offer") != keyed.entity("offer")


def test_a_gateway_assigned_key_derives_the_ids_a_client_key_would():
    assigned = Ids.for_request("htx-a", "k1", "digest", generated=True)
    retried = Ids.for_request("htx-a", "k1", "digest")
    assert assigned.seed == retried.seed == "idem|htx-a|k1|digest"
    assert assigned.entity("offer") == retried.entity("offer")
    assert assigned.event() == retried.event()
    assert Ids.for_request("htx-b", "k1", "digest").entity("offer") != retried.entity("offer")


def test_ids_record_what_they_handed_out_for_the_503():
    ids = Ids.for_request("htx-a", "k1", "digest", generated=True)
    assert ids.attempt() == WriteAttempt("k1", True, (), ())
    offers = [ids.entity("offer", i) for i in (0, 2)]
    events = [ids.event(i) for i in (0, 2)]
    ids.entity("offer", 0)  # asked twice: listed once
    attempt = ids.attempt()
    assert attempt is not None and attempt.idempotency_key == "k1" and attempt.generated
    assert attempt.created == (("offer", offers[0]), ("offer", offers[1]))
    assert attempt.event_ids == tuple(str(e) for e in events)
    assert Ids("idem|no-key").attempt() is None


def _unavailable(sent: bool = True, acknowledged: int = 0) -> PublishUnavailable:
    exc = PublishUnavailable("Kafka did not acknowledge.", acknowledged=acknowledged, sent=sent)
    ids = Ids.for_request("htx-a", "k1", "digest", generated=True)
    ids.entity("offer")
    ids.event()
    exc.attempt = ids.attempt()
    return exc


def test_an_unacknowledged_write_is_503_outcome_unknown_with_the_key_to_retry():
    exc = _unavailable()
    response = publish_problem(exc, "/v1/offers")
    body = json.loads(response.body)
    assert exc.attempt is not None
    (offer_id,), (event_id,) = [v for _, v in exc.attempt.created], exc.attempt.event_ids
    assert response.status_code == 503 and response.headers["Idempotency-Key"] == "k1"
    assert int(response.headers["Retry-After"]) > 0
    assert body["outcome"] == "unknown" and body["idempotency_key"] == "k1"
    assert body["idempotency_key_assigned"] is True
    assert body["created"] == [{"kind": "offer", "id": offer_id}]
    assert body["event_ids"] == [event_id]
    assert body["hint"] == (
        f"retry the same request with header Idempotency-Key: k1; the retry converges on the "
        f"same offer {offer_id} (event {event_id})"
    )
    assert "outcome is unknown" in body["detail"] and "k1" in body["detail"]
    assert "othing was" not in body["detail"]


def test_a_503_says_nothing_was_sent_only_when_nothing_was():
    not_sent = json.loads(publish_problem(_unavailable(sent=False)).body)
    assert not_sent["outcome"] == "not-sent" and "Nothing was sent" in not_sent["detail"]
    partial = json.loads(publish_problem(_unavailable(acknowledged=2)).body)
    assert partial["outcome"] == "unknown" and partial["acknowledged"] == 2
    assert "Nothing" not in partial["detail"]
    bare = publish_problem(PublishUnavailable("Kafka did not acknowledge."))
    assert "Idempotency-Key" not in bare.headers
    assert json.loads(bare.body)["outcome"] == "unknown"


def test_an_event_over_the_size_limit_is_refused_before_anything_is_sent():
    body = offer_body(excluded_buyers=[f"buyer-{i:03d}-" + "x" * 100 for i in range(100)])
    offer = Offer.model_validate({**body, "offer_id": "o-big"})
    big = OfferPublished(event_id=uuid.uuid4(), occurred_at=utcnow(), source="t", offer=offer)
    small = _withdrawals(1)[0]
    records = encode([small, ("t.orders", big)], 1_000_000)
    assert [topic for topic, _, _ in records] == ["t.orders", "t.orders"]
    assert len(records[1][1]) + len(records[1][2]) > 10_000
    with pytest.raises(EventTooLarge) as refused:
        encode([small, ("t.orders", big)], 10_000)
    exc = refused.value
    assert exc.field == "offer.excluded_buyers" and exc.field_size > 10_000
    assert exc.limit == 10_000 and exc.size > exc.field_size and exc.position == (1, 2)
    assert "2 of 2" in str(exc) and "10,000-byte" in str(exc)
    answer = event_too_large(exc, "/v1/offers")
    problem = json.loads(answer.body)
    assert answer.status_code == 413 and problem["limit_bytes"] == 10_000
    assert problem["type"] == "urn:ketnoi:problem:event-too-large"
    assert problem["errors"][0]["path"] == "offer.excluded_buyers"


def test_if_match_reads_an_etag():
    assert parse_if_match('"3"') == 3 and parse_if_match("5") == 5
    assert parse_if_match(None) is None
    for bad in ('"abc"', '"²"', '"١٢"', '"' + "9" * 40 + '"'):
        with pytest.raises(ApiProblem) as refused:
            parse_if_match(bad)
        assert refused.value.errors[0].path == "header.if-match"


def test_if_match_refuses_a_weak_etag():
    with pytest.raises(ApiProblem) as refused:
        parse_if_match('W/"4"')
    assert refused.value.status == 422 and "weak" in refused.value.errors[0].problem


def test_openapi_errors_are_documented_as_problem_json():
    ref = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    document = {
        "paths": {
            "/v1/x": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {}}}},
                        "404": {"content": {"application/json": ref}},
                        "503": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    }
                }
            }
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}}},
    }
    responses = problem_json(document)["paths"]["/v1/x"]["get"]["responses"]
    assert list(responses["404"]["content"]) == ["application/problem+json"]
    assert list(responses["200"]["content"]) == ["application/json"]
    assert list(responses["503"]["content"]) == ["application/json"]  # not a problem schema
    assert document["components"]["schemas"] == {}


class _Producer:
    """Acknowledges every send but the ones listed (as a broker that lost a partition)."""

    def __init__(self, failing: set[int]) -> None:
        self.failing = failing
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes):
        loop = asyncio.get_running_loop()
        delivery = loop.create_future()
        if len(self.sent) in self.failing:
            delivery.set_exception(KafkaTimeoutError())
        else:
            delivery.set_result(None)
        self.sent.append((topic, key, value))
        return delivery


def _withdrawals(count: int) -> list[tuple[str, OfferWithdrawn]]:
    return [
        ("t.orders", OfferWithdrawn(event_id=uuid.uuid4(), occurred_at=utcnow(), source="test",
                                    offer_id=f"o{i}", category="tea"))
        for i in range(count)
    ]  # fmt: skip


async def test_publishing_waits_for_every_acknowledgement():
    publisher = EventPublisher("127.0.0.1:1", max_event_bytes=10_000)
    with pytest.raises(PublishUnavailable, match="not connected") as unconnected:
        await publisher.publish_many(_withdrawals(1))
    assert unconnected.value.sent is False
    publisher._producer = _Producer(failing=set())  # type: ignore[assignment]
    await publisher.publish_many(_withdrawals(3))
    assert [key for _, key, _ in publisher._producer.sent] == [b"tea"] * 3
    publisher._producer = _Producer(failing={1})  # type: ignore[assignment]
    with pytest.raises(PublishUnavailable) as partial:
        await publisher.publish_many(_withdrawals(3))
    assert partial.value.acknowledged == 2 and "2 of 3" in str(partial.value)
    assert partial.value.sent is True
    publisher._producer = _Producer(failing=set())  # type: ignore[assignment]
    withdrawals = _withdrawals(2)
    big = withdrawals[1][1].model_copy(update={"reason": "x" * 10_000})
    with pytest.raises(EventTooLarge):
        await publisher.publish_many([withdrawals[0], ("t.orders", big)])
    assert publisher._producer.sent == []  # the small one was not sent either
