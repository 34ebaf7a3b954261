"""A bulk answer is kept compact in its idempotency record and replayed whole."""

from __future__ import annotations

import json
import uuid

from services.gateway.idempotency import Ids, compact, expand


def answer(ids: Ids) -> dict:
    results = []
    for index in range(500):
        if index in (7, 31):
            results.append({"index": index, "status": 422, "id": None, "event_id": None,
                            "status_url": None, "detail": "quantity.unit: unknown",
                            "errors": [{"path": f"items[{index}].quantity.unit"}]})  # fmt: skip
            continue
        item_id = ids.entity("offer", index)
        results.append({"index": index, "status": 202, "id": item_id,
                        "event_id": str(ids.event(index)), "status_url": f"/v1/offers/{item_id}",
                        "detail": None, "errors": []})  # fmt: skip
    return {"accepted": 498, "rejected": 2, "results": results}


def test_a_500_item_answer_is_stored_in_a_few_hundred_bytes_and_replayed_whole():
    ids = Ids.for_request("prov-1", "key-1", "digest-1")
    body = answer(ids)
    stored = compact(body, ids)
    assert len(json.dumps(stored)) < 800 < len(json.dumps(body)) // 100
    assert [r["index"] for r in stored["results"]] == [7, 31]  # refusals kept as they were
    replay_ids = Ids.for_request("prov-1", "key-1", "digest-1")  # rebuilt from the record
    assert expand(stored, replay_ids) == body


def test_anything_not_derivable_from_the_key_is_kept_as_it_was():
    ids = Ids.for_request("prov-1", "key-1", "digest-1")
    body = answer(ids)
    body["results"][3]["id"] = str(uuid.uuid4())  # not this key's id
    body["results"][4]["status_url"] = "/elsewhere"
    stored = compact(body, ids)
    assert {r["index"] for r in stored["results"]} == {3, 4, 7, 31}
    assert expand(stored, ids) == body
    single = {"event_id": str(uuid.uuid4()), "id": "o-1", "status_url": "/v1/offers/o-1"}
    assert compact(single, ids) == single and expand(single, ids) == single
