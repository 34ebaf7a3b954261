"""Create the project's topics with explicit partition counts (the broker never auto-creates)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ketnoi.settings import Settings


async def ensure_topics(settings: Settings) -> list[tuple[str, bool]]:
    """Create missing topics; returns (name, created) for each. Safe to call from every service."""
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
            # Another service may create one between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        created = {t.name for t in missing}
        return [(name, name in created) for name in partitions]
    finally:
        await admin.close()


def max_skew(settings: Settings) -> timedelta | None:
    """The clock check's bound for orders events (``schemas.admission``); None when off."""
    seconds = settings.max_clock_skew_seconds
    return timedelta(seconds=seconds) if seconds > 0 else None


def ensure_topics_sync(settings: Settings) -> list[tuple[str, bool]]:
    return asyncio.run(ensure_topics(settings))
