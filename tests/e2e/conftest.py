from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pymongo import MongoClient

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from services.gateway.app import create_app
from services.gateway.keys import create_key
from tests.conftest import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser


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
def issue_key(infra: Settings) -> Iterator[Callable[..., str]]:
    """Issue an API key in the session's database, as `ketnoi keys create --unregistered`
    does: most tests act for an id nobody registered (the key claims it)."""
    client: MongoClient = MongoClient(infra.mongo_url, tz_aware=True)

    def issue(org_id: str, role: str, province: str | None = None) -> str:
        db = client[infra.mongo_db]
        return create_key(db, org_id, role, province, unregistered=True).key

    try:
        yield issue
    finally:
        client.close()


@pytest.fixture(scope="session")
def admin_key(issue_key: Callable[..., str]) -> str:
    return issue_key("ketnoi-admin", "admin")


@pytest.fixture(scope="session")
def client_for(services: ServiceGroup) -> Iterator[Callable[[str], httpx.Client]]:
    """An HTTP client of the session's gateway that sends this API key."""
    clients: list[httpx.Client] = []

    def make(key: str) -> httpx.Client:
        client = httpx.Client(base_url=services.settings.gateway_url, timeout=10.0,
                              headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()


@pytest.fixture(scope="session")
def api(client_for: Callable[[str], httpx.Client], admin_key: str) -> httpx.Client:
    """The gateway as the platform's admin (may act for any supplier or buyer)."""
    return client_for(admin_key)


@pytest.fixture(scope="session")
def mongo(infra: Settings) -> Iterator:
    client: MongoClient = MongoClient(infra.mongo_url, tz_aware=True)
    try:
        yield client[infra.mongo_db]
    finally:
        client.close()


InProcess = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="session")
def in_process(infra: Settings) -> InProcess:
    """A gateway app in this process (lifespan run), with the session's store and, if given,
    a stand-in publisher and other settings: for failures a live broker cannot stage."""

    @asynccontextmanager
    async def run(publisher=None, **overrides) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(**{**infra.model_dump(), **overrides})
        app = create_app(settings, publisher=publisher)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield client

    return run


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, one per test module (the browser tests)."""
    from playwright.sync_api import sync_playwright

    from ketnoi import chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium.executable(), args=chromium.FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshots(infra: Settings) -> Path:
    """Where the browser tests save what they saw."""
    folder = infra.home / "test-artifacts" / infra.topic_prefix.rstrip(".")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class PrivateStack:
    """A gateway and a recorder on topics and a database of their own, and an admin client."""

    services: ServiceGroup
    issue_key: Callable[..., str]
    api: httpx.Client


@contextmanager
def own_stack(infra: Settings, *names: str, **overrides: Any) -> Iterator[PrivateStack]:
    """``names`` (all services when none) on topics and a database of their own, with these
    settings changed (e.g. ``match_tick_seconds``); the database is dropped afterwards."""
    run = uuid.uuid4().hex[:8]
    settings = infra.model_copy(update={
        "topic_prefix": f"{infra.topic_prefix}own-{run}.", "mongo_db": f"{infra.mongo_db}_{run}",
        "gateway_port": free_port(), **overrides,
    })  # fmt: skip
    group = ServiceGroup(settings, settings.home / "test-logs" / settings.topic_prefix.rstrip("."))
    client: MongoClient = MongoClient(settings.mongo_url, tz_aware=True)

    def issue(org_id: str, role: str, province: str | None = None) -> str:
        return create_key(client[settings.mongo_db], org_id, role, province, unregistered=True).key

    group.start(*names)
    try:
        group.wait_gateway_ready()
        admin = {"Authorization": f"Bearer {issue('ketnoi-admin', 'admin')}"}
        api = httpx.Client(base_url=settings.gateway_url, timeout=10.0, headers=admin)
        try:
            yield PrivateStack(group, issue, api)
        finally:
            api.close()
    finally:
        group.stop()
        client.drop_database(settings.mongo_db)
        client.close()


@pytest.fixture(scope="module")
def private_stack(infra: Settings) -> Iterator[PrivateStack]:
    """For tests that publish many offers into real markets (catalogue imports, feeds): the
    session's matcher would match them against other tests' demands (test_match_flow's coffee
    demand met a catalogue's coffee once), so they get services of their own, without a
    matcher."""
    with own_stack(infra, "gateway", "recorder") as stack:
        yield stack
