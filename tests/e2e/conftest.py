from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pymongo import MongoClient

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings


@pytest.fixture(scope="session")
def services(infra: Settings) -> Iterator[ServiceGroup]:
    group = ServiceGroup(infra, infra.home / "test-logs" / infra.topic_prefix.rstrip("."))
    group.start()
    try:
        group.wait_gateway_ready()
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="session")
def api(services: ServiceGroup) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=services.settings.gateway_url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="session")
def mongo(infra: Settings) -> Iterator:
    client: MongoClient = MongoClient(infra.mongo_url, tz_aware=True)
    try:
        yield client[infra.mongo_db]
    finally:
        client.close()
