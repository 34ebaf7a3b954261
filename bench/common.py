"""What the benchmarks that run a gateway share: a private gateway, a free port, cleanup."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from ketnoi.infra import Infra
from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from services.gateway.keys import create_key


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


@dataclass
class PrivateGateway:
    settings: Settings
    key: str
    """An API key of the role asked for, in the run's own database."""
    pid: int
    group: ServiceGroup | None = None
    """The processes: a benchmark may start another service (``group.start("recorder")``)."""


@contextmanager
def private_gateway(
    base: Settings,
    name: str,
    org_id: str,
    role: str,
    overrides: Mapping[str, Any] | None = None,
    services: tuple[str, ...] = ("gateway",),
) -> Iterator[PrivateGateway]:
    """Kafka and the store (started if absent), and a gateway process (and the other
    ``services``) on a topic prefix and database of this run's own, with the rate and
    in-flight limits out of the way unless
    ``overrides`` (settings) says otherwise; afterwards the gateway is stopped, the topics and
    database dropped, and only what was started here is stopped."""
    run_id = uuid.uuid4().hex[:8]
    settings = base.model_copy(
        update={
            "topic_prefix": f"bench-{name}-{run_id}.",
            "mongo_db": f"ketnoi_bench_{name}_{run_id}",
            "gateway_port": free_port(),
            "rate_limit_per_second": 1e9,
            "rate_limit_burst": 10**9,
            "max_in_flight": 10**6,
            **(overrides or {}),
        }
    )
    infra = Infra(settings)
    started = infra.up().started
    group = ServiceGroup(settings, settings.home / "bench-logs" / f"{name}-{run_id}")
    mongo: MongoClient = MongoClient(settings.mongo_url)
    try:
        # The benchmark's party is nobody registered: its key claims the id.
        key = create_key(
            mongo[settings.mongo_db], org_id, role, label="bench", unregistered=True
        ).key
        group.start(*services)
        group.wait_gateway_ready()
        yield PrivateGateway(settings, key, group.procs["gateway"].pid, group)
    finally:
        group.stop()
        asyncio.run(delete_topics(settings))
        mongo.drop_database(settings.mongo_db)
        mongo.close()
        if started:
            infra.down(only=started)
