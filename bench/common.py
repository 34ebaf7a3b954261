"""What the benchmarks that run services share: a free port, and removing their topics."""

from __future__ import annotations

import socket

from aiokafka.admin import AIOKafkaAdminClient

from ketnoi.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def delete_topics(settings: Settings) -> None:
    """Delete every topic under the run's prefix (a benchmark leaves nothing behind)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
