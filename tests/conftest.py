"""Shared fixtures. Integration and e2e tests run on the real broker and store, started here
if nothing runs yet and stopped afterwards; every run has its own topics and database."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from ketnoi.settings import Settings
from tests import terminal

RUN_ID = uuid.uuid4().hex[:10]


def pytest_configure(config: pytest.Config) -> None:
    """Setup progress (Kafka, the store) on the terminal, past pytest's capture."""
    terminal.pytest_configure(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    terminal.pytest_unconfigure(config)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default ports (reusing a running dev stack is fine), private topic prefix and database."""
    return Settings(
        topic_prefix=f"test-{RUN_ID}.",
        mongo_db=f"ketnoi_test_{RUN_ID}",
        gateway_port=free_port(),
        topic_partitions=3,
    )


@pytest.fixture(scope="session")
def infra(settings: Settings) -> Iterator[Settings]:
    """Real Kafka and FerretDB: started if absent, stopped at the end only if we started them."""
    from ketnoi.infra import Infra
    from ketnoi.infra.prune import write_lease

    write_lease(settings, f"test-{RUN_ID}")  # `ketnoi infra prune` leaves this run alone
    manager = Infra(settings)
    result = manager.up()
    try:
        yield settings
    finally:
        manager.down(only=result.started)
