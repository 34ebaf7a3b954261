"""Kafka and the store go away under running services, and come back (issue 13).

Before: the gateway logged 39 and the matcher 113 error lines a second, the recorder crashed
with a traceback, and the matcher ignored SIGTERM for over 100 s. Now each service says what is
down once per retry interval, recovers by itself when it returns, and stops within 10 s with
exit code 0 even while it is away. The stack here is private (its own ports, data and home):
stopping it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from connectors.simulator import events as scenario_events
from ketnoi.infra import Infra
from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from services.common.outages import RETRY_SECONDS
from services.common.topics import ensure_topics
from services.recorder.documents import writes_for
from tests.conftest import RUN_ID, free_port
from tests.integration import matcher_harness as harness
from tests.support import eventually

pytestmark = pytest.mark.infra
SERVICES = ("gateway", "matcher", "recorder")
STOP_LIMIT = 10.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Infra, ServiceGroup]]:
    settings = Settings(
        home=tmp_path / "home",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        mongo_url=f"mongodb://127.0.0.1:{free_port()}",
        gateway_port=free_port(),
        topic_prefix=f"outage-{RUN_ID}.",
        mongo_db=f"outage_{RUN_ID}",
        topic_partitions=2,
        match_tick_seconds=3600.0,
    )
    infra = Infra(settings)
    infra.up()
    services = ServiceGroup(settings, tmp_path / "logs")
    try:
        asyncio.run(ensure_topics(settings))
        services.start(*SERVICES)
        services.wait_gateway_ready()
        yield infra, services
    finally:
        services.stop()
        infra.down()


def _log(services: ServiceGroup, name: str) -> list[str]:
    path = services.log_dir / f"{name}.log"
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def _feed_and_wait_recorded(settings: Settings, seed: int) -> None:
    """Produce a few offers and demands; the recorder must store them and the matcher decide."""
    stream = list(scenario_events(seed=seed, count=20))
    wanted = {w.doc_id for event in stream for w in writes_for(event)}
    before = harness.output_count(settings)
    asyncio.run(harness.produce(settings, stream))
    client: MongoClient = MongoClient(settings.mongo_url)
    try:
        db = client[settings.mongo_db]

        def recorded() -> bool:
            have = {d["_id"] for c in ("offers", "demands") for d in db[c].find({}, {"_id": 1})}
            return wanted <= have

        eventually(recorded, timeout=60, what="the recorder to store the new events")
    finally:
        client.close()
    eventually(lambda: harness.output_count(settings) > before, timeout=60,
               what="the matcher to decide on the new events")  # fmt: skip


def test_outage_is_one_line_per_interval_recovers_and_stops_within_10_s(stack):
    infra, services = stack
    settings = infra.settings
    _feed_and_wait_recorded(settings, seed=3)

    # -- away: one clear line per retry interval, no flood --------------------------------
    marks: dict[str, int] = {name: len(_log(services, name)) for name in SERVICES}
    down_at = time.monotonic()
    infra.down()

    def reported_twice(name: str) -> bool:
        services.raise_if_exited()  # an outage is not a reason to exit
        new = _log(services, name)[marks[name] :]
        return sum("Kafka at" in line and "unreachable" in line for line in new) >= 2

    for name in SERVICES:
        eventually(lambda name=name: reported_twice(name), timeout=4 * RETRY_SECONDS + 10,
                   what=f"the {name} to report the outage twice")  # fmt: skip
    away = time.monotonic() - down_at
    for name in SERVICES:
        new = _log(services, name)[marks[name] :]
        ours = [line for line in new if "unreachable" in line]
        assert any(f"Kafka at {settings.kafka_bootstrap} is unreachable" in line for line in ours)
        noise = [line for line in new if re.search(r"ERROR|\"level\": \"error\"", line)]
        # aiokafka's first retry lines may pass before the watcher notices (a handful, once)
        assert len(noise) <= 8, f"{name}: {len(noise)} error lines in {away:.0f} s:\n" + "\n".join(
            noise[:12]
        )
        assert len(new) / away < 2.0, f"{name}: {len(new)} lines in {away:.0f} s"
        assert "Traceback" not in "\n".join(new), "\n".join(new)

    # -- back: said once, and the services work again without a restart -------------------
    marks = {name: len(_log(services, name)) for name in SERVICES}
    infra.up()
    for name in SERVICES:
        eventually(lambda name=name: any("reachable again" in line
                                         for line in _log(services, name)[marks[name]:]),
                   timeout=4 * RETRY_SECONDS + 10,
                   what=f"the {name} to report Kafka back")  # fmt: skip
    _feed_and_wait_recorded(settings, seed=4)
    eventually(lambda: httpx.get(f"{settings.gateway_url}/readyz").status_code == 200,
               timeout=30, what="the gateway to be ready again")  # fmt: skip
    services.raise_if_exited()

    # -- away again, then SIGTERM: every service exits 0 within 10 s ----------------------
    marks = {name: len(_log(services, name)) for name in SERVICES}
    infra.down()
    for name in SERVICES:
        eventually(lambda name=name: reported_twice(name), timeout=4 * RETRY_SECONDS + 10,
                   what=f"the {name} to report the second outage")  # fmt: skip
    started = time.monotonic()
    for proc in services.procs.values():
        proc.send_signal(signal.SIGTERM)
    for name, proc in list(services.procs.items()):
        code = proc.wait(STOP_LIMIT + 5)
        elapsed = time.monotonic() - started
        tail = "\n".join(_log(services, name)[-15:])
        assert code == 0, f"{name} exited {code}:\n{tail}"
        assert elapsed < STOP_LIMIT, f"{name} took {elapsed:.1f} s:\n{tail}"
        del services.procs[name]
