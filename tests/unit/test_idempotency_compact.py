"""A bulk answer is kept compact in its idempotency record and replayed whole."""

from __future__ import annotations

import json
import uuid

from services.gateway.bulk import ItemResult
from services.gateway.idempotency import Ids, compact, expand
from services.gateway.problems import FieldProblem


def answer(ids: Ids) -> dict:
    """A bulk answer shaped as the gateway answers (``ItemResult`` dumped as JSON)."""
    results = []
    for index in range(500):
        if index in (7, 31):
            problem = FieldProblem(path=f"items[{index}].quantity.unit", problem="unknown")
            result = ItemResult(index=index, status=422, detail="quantity.unit: unknown",
                                errors=[problem])  # fmt: skip
        else:
            item_id = ids.entity("offer", index)
            result = ItemResult(index=index, status=202, id=item_id, event_id=ids.event(index),
                                status_url=f"/v1/offers/{item_id}")  # fmt: skip
        results.append(result.model_dump(mode="json"))
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
