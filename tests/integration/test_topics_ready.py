"""Services started together race to create the topics. One that went on while another's
creation was still settling subscribed to a topic the broker did not list yet, and its consumer
learnt of it only at its next metadata refresh, minutes later: under two test workers the
recorder missed every organization event (232 tests timed out). ``ensure_topics`` now returns
only once the broker serves every topic."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from ketnoi.settings import Settings
from services.common.topics import ensure_topics

pytestmark = pytest.mark.infra


async def _unserved_right_after(settings: Settings) -> list[str]:
    """Ensure the topics as a starting service does, then ask a fresh client at once."""
    await ensure_topics(settings)
    t = settings.topics
    names = [t.orders, t.matches, t.sessions, t.organizations, t.dead_letter]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return [d["topic"] for d in described if d["error_code"] or not d["partitions"]]


def test_three_services_creating_the_topics_at_once_each_find_all_of_them_served(infra):
    async def rounds() -> list[list[str]]:
        out = []
        for _ in range(5):  # before the fix: 18 callers of 45 once (a busy broker), else 0
            prefix = f"{infra.topic_prefix}race-{uuid.uuid4().hex[:6]}."
            settings = infra.model_copy(update={"topic_prefix": prefix})
            out += await asyncio.gather(*(_unserved_right_after(settings) for _ in range(3)))
        return out

    unserved = asyncio.run(rounds())
    assert unserved == [[]] * 15, unserved


def test_a_topic_the_broker_refuses_is_one_clear_error_at_once(infra):
    """aiokafka returns each topic's error code and raises for none: an invalid name was
    ignored, and then waited for until a misleading timeout (found in review)."""
    settings = infra.model_copy(update={"topic_prefix": f"{infra.topic_prefix}no space allowed."})
    started = time.monotonic()
    with pytest.raises(KafkaError, match=r"refused to create topic '.*no space allowed\..*'"):
        asyncio.run(ensure_topics(settings))
    assert time.monotonic() - started < 10, "refused at once, not after the served-wait"
