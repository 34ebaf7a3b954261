"""The recorder tells a write the store refuses because of the event (dead-letter it) from a
store that is away (stop without commit, write after restart), on the real store."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, OperationFailure

from services.recorder.worker import caused_by_event
from tests.conftest import free_port

pytestmark = pytest.mark.infra


def _judge(url: str, exc: Exception) -> bool:
    async def run() -> bool:
        client: AsyncMongoClient = AsyncMongoClient(url, serverSelectionTimeoutMS=500)
        try:
            return await caused_by_event(client["ketnoi_judge"], exc)
        finally:
            await client.close()

    return asyncio.run(run())


def test_a_refused_write_while_the_store_answers_is_the_events_fault(infra):
    assert _judge(infra.mongo_url, OperationFailure("document is invalid", code=121))
    assert _judge(infra.mongo_url, ValueError("a field the store cannot encode"))


def test_outages_and_retryable_errors_are_never_blamed_on_the_event(infra):
    assert not _judge(infra.mongo_url, AutoReconnect("connection reset"))
    assert not _judge(infra.mongo_url, TimeoutError())
    retryable = OperationFailure("not primary", code=10107,
                                 details={"errorLabels": ["RetryableWriteError"]})  # fmt: skip
    assert not _judge(infra.mongo_url, retryable)


def test_any_error_while_the_store_is_away_is_an_outage():
    away = f"mongodb://127.0.0.1:{free_port()}"
    assert not _judge(away, OperationFailure("document is invalid", code=121))
