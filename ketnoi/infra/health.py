"""Health probes that speak the real protocols (a listening port alone proves little)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketnoi.settings import Settings


@dataclass(frozen=True)
class Health:
    component: str
    healthy: bool
    detail: str


async def kafka_health(bootstrap: str, timeout: float = 5.0) -> Health:
    """Healthy when a client gets cluster metadata (the broker answers the Kafka protocol)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaConnectionError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        topics = await asyncio.wait_for(admin.list_topics(), timeout)
        return Health("kafka", True, f"{bootstrap}: {len(topics)} topics")
    except (KafkaConnectionError, OSError, TimeoutError) as exc:
        return Health("kafka", False, f"no broker answers at {bootstrap} ({type(exc).__name__})")
    except Exception as exc:
        return Health("kafka", False, f"{bootstrap}: {type(exc).__name__}: {exc}")
    finally:
        await admin.close()


async def store_health(url: str, timeout: float = 5.0) -> Health:
    """Healthy when the server answers ``ping`` and reports its wire version."""
    from pymongo import AsyncMongoClient
    from pymongo.errors import ConnectionFailure

    client: AsyncMongoClient = AsyncMongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        await client.admin.command("ping")
        info = await client.admin.command("buildInfo")
        return Health("store", True, f"{url}: MongoDB wire version {info.get('version', '?')}")
    except ConnectionFailure as exc:
        return Health("store", False, f"no MongoDB-wire server answers at {url} "
                                      f"({type(exc).__name__})")  # fmt: skip
    except Exception as exc:
        return Health("store", False, f"{url}: {type(exc).__name__}: {exc}")
    finally:
        await client.close()


def check(settings: Settings) -> list[Health]:
    """Both probes at once (each gives up after 5 s). aiokafka would also log each refused
    connection on its own (a second, raw line): the probe's answer says it already."""

    async def both() -> list[Health]:
        return list(
            await asyncio.gather(
                kafka_health(settings.kafka_bootstrap), store_health(settings.mongo_url)
            )
        )

    with quiet_kafka_client():
        return asyncio.run(both())


@contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """Hold back aiokafka's own log lines (each refused connection, a raw line on stderr) while
    a command talks to Kafka and reports the outcome in its own words."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
