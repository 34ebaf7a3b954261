"""Health probes that speak the real protocols (a listening port alone proves little)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Health:
    component: str
    healthy: bool
    detail: str


async def kafka_health(bootstrap: str, timeout: float = 5.0) -> Health:
    """Healthy when a client gets cluster metadata (the broker answers the Kafka protocol)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        topics = await asyncio.wait_for(admin.list_topics(), timeout)
        return Health("kafka", True, f"{bootstrap}: {len(topics)} topics")
    except Exception as exc:
        return Health("kafka", False, f"{bootstrap}: {type(exc).__name__}: {exc}")
    finally:
        await admin.close()


async def store_health(url: str, timeout: float = 5.0) -> Health:
    """Healthy when the server answers ``ping`` and reports its wire version."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        await client.admin.command("ping")
        info = await client.admin.command("buildInfo")
        return Health("store", True, f"{url}: MongoDB wire version {info.get('version', '?')}")
    except Exception as exc:
        return Health("store", False, f"{url}: {type(exc).__name__}: {exc}")
    finally:
        await client.close()


def check(settings) -> list[Health]:
    async def both() -> list[Health]:
        return list(
            await asyncio.gather(
                kafka_health(settings.kafka_bootstrap), store_health(settings.mongo_url)
            )
        )

    return asyncio.run(both())
