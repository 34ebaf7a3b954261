"""Create the project's topics with explicit partition counts (the broker never auto-creates)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.protocol.api import Response

from ketnoi.settings import Settings

READY_TIMEOUT_S = 30.0
"""How long ``ensure_topics`` waits for every topic to have its partitions led."""


async def ensure_topics(settings: Settings) -> list[tuple[str, bool]]:
    """Create missing topics and wait until the broker serves all of them; returns (name,
    created) for each. Safe to call from every service: services started together race to
    create them, and one that went on while another's creation was still settling subscribed
    to a topic the broker's metadata did not list yet; its consumer learnt of it only at its
    next metadata refresh, minutes later (the recorder missed every organization event)."""
    topics = settings.topics
    partitions = {
        topics.orders: settings.topic_partitions,
        topics.matches: settings.topic_partitions,
        topics.sessions: settings.topic_partitions,
        topics.organizations: settings.topic_partitions,
        topics.dead_letter: 1,  # low volume; one partition keeps failures in arrival order
    }
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in partitions.items()
            if name not in existing
        ]
        if missing:
            _refused(await admin.create_topics(missing))
        created = {t.name for t in missing}
        await _until_served(admin, list(partitions))
        return [(name, name in created) for name in partitions]
    finally:
        await admin.close()


ALREADY_EXISTS = 36
"""Kafka's TOPIC_ALREADY_EXISTS: another service created it between our list and create."""


def _refused(response: Response) -> None:
    """Raise for a topic the broker refused to create (an invalid name, a policy): aiokafka
    returns each topic's error code and raises for none of them, and waiting for a topic that
    will never exist would only end in a misleading timeout."""
    refused = [(name, code, message) for name, code, message in response.topic_errors
               if code not in (0, ALREADY_EXISTS)]  # fmt: skip
    if refused:
        name, code, message = refused[0]
        raise KafkaError(
            f"Kafka refused to create topic {name!r} (error {code}: {message}); check "
            "KETNOI_TOPIC_PREFIX and the broker's topic policy"
        )


async def _until_served(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Poll the broker's metadata until each topic is listed with every partition led."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while True:
        waiting = [
            t["topic"]
            for t in await admin.describe_topics(names)
            if t["error_code"] or not t["partitions"]
            or any(p["leader"] < 0 for p in t["partitions"])
        ]  # fmt: skip
        if not waiting:
            return
        if loop.time() > deadline:
            raise TimeoutError(
                f"Kafka lists no partitions for {', '.join(sorted(waiting))} "
                f"{READY_TIMEOUT_S:.0f} s after creating them; is the broker healthy? "
                "(ketnoi infra status)"
            )
        await asyncio.sleep(0.05)


def max_skew(settings: Settings) -> timedelta | None:
    """The clock check's bound for orders events (``schemas.admission``); None when off."""
    seconds = settings.max_clock_skew_seconds
    return timedelta(seconds=seconds) if seconds > 0 else None


def ensure_topics_sync(settings: Settings) -> list[tuple[str, bool]]:
    return asyncio.run(ensure_topics(settings))
