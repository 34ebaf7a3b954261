"""Shared fixtures. Integration and e2e tests run on the real broker and store, started here
if nothing runs yet and stopped afterwards; every run has its own topics and database.

Under pytest-xdist (``-n``) the controlling process starts them once, before its workers, and
stops them after the last one: a worker that started them would stop them under the others.
Each worker is a run of its own (its RUN_ID: topics, database, services)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ketnoi.settings import Settings
from tests import hang_dump, terminal

if TYPE_CHECKING:
    from ketnoi.infra import Infra

RUN_ID = uuid.uuid4().hex[:10]
_started = pytest.StashKey[tuple["Infra", list[str]]]()
FIRST = (
    "tests/integration/test_matcher_recovery_repeated.py",  # about 100 s alone
    "tests/integration/test_matcher_recovery.py",  # 85 s
    "tests/e2e/test_figures_agree.py",  # 50 s, most of it waiting for an expiry
    "tests/e2e/test_gateway_schemathesis.py",  # 30 s
    "tests/integration/",
    "tests/e2e/",
)
"""Collected first, in this order: the slowest files (measured with ``--durations``), then the
other slow kinds, so that workers taking files in turn (``--dist loadfile``) start the longest
at once and end together on the short unit tests. A stale order costs time, never a result."""


def pytest_configure(config: pytest.Config) -> None:
    """Setup progress (Kafka, the store) on the terminal, past pytest's capture; the broker and
    the store for xdist's workers."""
    terminal.pytest_configure(config)
    hang_dump.install(Settings().home / "test-logs")
    if _distributed(config) and not _only_unit_tests(config):
        from ketnoi.infra import Infra

        manager = Infra(Settings())
        config.stash[_started] = (manager, manager.up().started)


def pytest_unconfigure(config: pytest.Config) -> None:
    manager, started = config.stash.get(_started, (None, []))
    if manager is not None and started:
        manager.down(only=started)
    terminal.pytest_unconfigure(config)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--only-reaching", metavar="MODULE",
        help="run only the test modules whose imports can reach MODULE (tests/reach.py)",
    )  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = config.getoption("--only-reaching")
    if target:
        from tests.reach import reaches

        keep = {path: reaches(path, target) for path in {item.path for item in items}}
        config.hook.pytest_deselected(items=[item for item in items if not keep[item.path]])
        items[:] = [item for item in items if keep[item.path]]

    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))

    items.sort(key=rank)  # stable: the order within each group stays


def _distributed(config: pytest.Config) -> bool:
    """The controlling process of an xdist run that will run tests (its workers have
    ``workerinput``): ``-n N`` or ``--tx``, not ``--collect-only`` nor a help listing."""
    option = config.option
    if hasattr(config, "workerinput") or getattr(option, "dist", "no") == "no":
        return False  # xdist sets dist to "load" for -n N without --dist, "no" for -n 0
    listings = ("collectonly", "help", "markers", "showfixtures", "show_fixtures_per_test")
    listing = any(getattr(option, name, False) for name in listings)
    return bool(getattr(option, "tx", None)) and not listing


def _only_unit_tests(config: pytest.Config) -> bool:
    paths = [arg for arg in config.args if not arg.startswith("-")]
    return bool(paths) and all(arg.replace("\\", "/").startswith("tests/unit") for arg in paths)


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
