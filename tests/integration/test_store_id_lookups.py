"""The local store answers ``_id`` lookups from its ``_id`` index (``ketnoi/store_build.py``
patches FerretDB v1 for it), and the patch changes how much is read, never what is answered:
every filter beside or around an ``_id`` gives MongoDB's answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from bson import ObjectId
from pymongo import MongoClient
from pymongo.collection import Collection

from ketnoi.settings import Settings

pytestmark = pytest.mark.infra
OID = ObjectId()


@pytest.fixture
def items(infra: Settings) -> Iterator[Collection]:
    client: MongoClient = MongoClient(infra.mongo_url)
    db = client[f"id_lookups_{uuid.uuid4().hex[:8]}"]
    db.items.insert_many([
        {"_id": "a", "state": "pending", "n": 1},
        {"_id": "b", "state": "done", "n": 2},
        {"_id": "c", "state": "pending", "n": 3},
        {"_id": 7, "state": "done", "n": 4},
        {"_id": OID, "state": "done", "n": 5},
    ])  # fmt: skip
    try:
        yield db.items
    finally:
        client.drop_database(db.name)
        client.close()


def _ids(collection: Collection, query: dict) -> list:
    return sorted((d["_id"] for d in collection.find(query)), key=str)


def _plan(collection: Collection, query: dict) -> dict:
    return collection.database.command("explain", {"find": collection.name, "filter": query})


@pytest.mark.parametrize(
    "query",
    [
        {"_id": "a"},
        {"_id": "a", "state": "pending"},
        {"state": "pending", "_id": "c"},
        {"_id": {"$in": ["a", "c", "zz"]}},
        {"_id": {"$in": ["a", "b"]}, "state": "done"},
        {"_id": OID},
    ],
)
def test_an_id_beside_other_conditions_is_looked_up_in_the_index(items, query):
    plan = _plan(items, query)
    hint = "a store built before the patch is running: `ketnoi infra down`, then `infra up`"
    assert plan["filterPushdown"] is True, hint
    assert any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"]), (hint, plan)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"_id": "a"}, ["a"]),
        ({"_id": "a", "state": "done"}, []),  # the other condition still decides
        ({"_id": "a", "state": "pending"}, ["a"]),
        ({"_id": {"$in": ["a", "c", "zz"]}}, ["a", "c"]),
        ({"_id": {"$in": ["a", "b"]}, "state": "done"}, ["b"]),
        ({"_id": {"$in": ["a", 7]}}, [7, "a"]),  # a number among them: read the usual way
        ({"_id": {"$in": []}}, []),
        ({"_id": {"$in": [f"x{i}" for i in range(1500)] + ["b"]}}, ["b"]),  # over the cap
        ({"_id": {"$in": ["a"], "$ne": "a"}}, []),
        ({"_id": 7}, [7]),
        ({"_id": OID}, [OID]),
        ({"_id": "zz"}, []),
        ({"$or": [{"_id": "a"}, {"_id": "b"}]}, ["a", "b"]),
    ],
)
def test_what_a_filter_answers_is_mongodbs_answer(items, query, expected):
    assert _ids(items, query) == sorted(expected, key=str)


def test_guarded_updates_and_deletes_by_id_hit_only_what_the_guard_allows(items):
    assert items.update_one({"_id": "a", "state": "done"}, {"$set": {"n": 9}}).matched_count == 0
    done = items.update_one({"_id": "a", "state": "pending"}, {"$set": {"state": "done"}})
    assert done.modified_count == 1
    assert items.find_one({"_id": "a"}) == {"_id": "a", "state": "done", "n": 1}
    assert items.find_one_and_update({"_id": "c", "n": 4}, {"$set": {"n": 5}}) is None
    assert items.find_one_and_update({"_id": "c", "n": 3}, {"$inc": {"n": 1}})["n"] == 3
    assert items.delete_one({"_id": "b", "state": "pending"}).deleted_count == 0
    assert items.delete_many({"_id": {"$in": ["b", "c"]}}).deleted_count == 2
    assert _ids(items, {}) == sorted([7, "a", OID], key=str)
