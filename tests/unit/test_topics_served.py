"""``ensure_topics`` returns only once the broker serves every topic: a service that went on
earlier subscribed to a topic its consumer learnt of minutes later (the race itself is staged
on the real broker in tests/integration/test_topics_ready.py; it shows only on a busy broker)."""

from __future__ import annotations

import asyncio

import pytest

from services.common import topics


class Broker:
    """Describes topics as a broker whose metadata settles after ``settles_after`` asks."""

    def __init__(self, settles_after: int) -> None:
        self.asked = 0
        self.settles_after = settles_after

    async def describe_topics(self, names: list[str]) -> list[dict]:
        self.asked += 1
        served = self.asked > self.settles_after
        unled = [{"partition": 0, "leader": -1}]
        return [
            {"topic": name, "error_code": 0 if served or i else 3,
             "partitions": [{"partition": 0, "leader": 1}] if served else (unled if i else [])}
            for i, name in enumerate(names)
        ]  # fmt: skip


def test_it_waits_until_each_topic_is_listed_with_its_partitions_led():
    broker = Broker(settles_after=3)
    asyncio.run(topics._until_served(broker, ["a.orders", "a.matches"]))
    assert broker.asked == 4, "returned before the broker served both topics"


def test_a_broker_that_never_serves_them_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(topics, "READY_TIMEOUT_S", 0.2)
    with pytest.raises(TimeoutError, match=r"a\.matches, a\.orders .*ketnoi infra status"):
        asyncio.run(topics._until_served(Broker(settles_after=10**9), ["a.orders", "a.matches"]))
