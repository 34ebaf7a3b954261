"""SIGTERM stops each service within 10 s with exit code 0, mid-work, and nothing is lost.

Each service is started as `ketnoi <service>` (ServiceGroup), fed, and sent SIGTERM while it
works; a worker is then started again on the same topics and must complete the outputs (the
matcher: exactly the uninterrupted reference; the recorder: every record). The gateway must let
go of its port and have put every write it answered 202 on Kafka. Before (issue 13), an
interrupted batch meant exit 70, and with Kafka away the matcher ignored SIGTERM for 100 s.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import MongoClient

from connectors.simulator import events as scenario_events
from ketnoi import demo_data
from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from services.common.topics import ensure_topics
from services.gateway.keys import create_key
from services.recorder.documents import writes_for
from tests.conftest import free_port
from tests.integration import matcher_harness as harness
from tests.support import eventually

pytestmark = pytest.mark.infra
STOP_LIMIT = 10.0
"""Docker's default grace before SIGKILL; our services aim at 8 s at most."""


@pytest.fixture
def private(infra: Settings) -> Settings:
    """This test's own topics, database and gateway port on the shared broker and store."""
    run = uuid.uuid4().hex[:8]
    settings = infra.model_copy(update={
        "topic_prefix": f"stop-{run}.", "mongo_db": f"ketnoi_stop_{run}", "topic_partitions": 3,
        "match_tick_seconds": 3600.0, "gateway_port": free_port(),
    })  # fmt: skip
    asyncio.run(ensure_topics(settings))
    return settings


def _group(settings: Settings, name: str) -> ServiceGroup:
    return ServiceGroup(settings, settings.home / "test-logs" / settings.topic_prefix / name)


def sigterm(group: ServiceGroup, name: str) -> tuple[int, float]:
    """SIGTERM the service itself (as `docker stop` and `ketnoi stop` do): its exit code and
    how long it took; SIGKILL and fail past the limit."""
    proc = group.procs[name]
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(STOP_LIMIT + 5)
    except subprocess.TimeoutExpired:
        group.kill(name)
        pytest.fail(f"{name} still ran {STOP_LIMIT + 5:.0f} s after SIGTERM:\n"
                    f"{group.log_tail(name)}")  # fmt: skip
    elapsed = time.monotonic() - started
    del group.procs[name]
    return code, elapsed


def assert_clean_stop(group: ServiceGroup, name: str, code: int, elapsed: float) -> None:
    tail = group.log_tail(name)
    assert code == 0, f"{name} exited {code} after SIGTERM:\n{tail}"
    assert elapsed < STOP_LIMIT, f"{name} took {elapsed:.1f} s to stop:\n{tail}"
    assert "Traceback" not in tail and "CRITICAL" not in tail, tail


def test_matcher_sigterm_mid_stream_exits_0_and_a_restart_completes_the_outputs(private):
    stream = harness.stream_with_decisions(private, 3000, seed=5)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    first = _group(private, "first")
    first.start("matcher")
    try:
        eventually(lambda: harness.output_count(private) >= len(expected) // 4, timeout=120,
                   what="the matcher to be a quarter through")  # fmt: skip
        code, elapsed = sigterm(first, "matcher")
    finally:
        first.stop()
    assert harness.output_count(private) < len(expected), "finished before SIGTERM; raise COUNT"
    assert_clean_stop(first, "matcher", code, elapsed)

    second = _group(private, "second")
    second.start("matcher")
    try:
        eventually(lambda: harness.all_emitted(private, expected), timeout=120,
                   what="the restarted matcher to finish")  # fmt: skip
        harness.compare(expected, asyncio.run(harness.read_outputs(private)))
        second.raise_if_exited()
    finally:
        second.stop()


def _recorded(settings: Settings, wanted: dict[str, set[str]]) -> int:
    client: MongoClient = MongoClient(settings.mongo_url)
    try:
        db = client[settings.mongo_db]
        return sum(
            db[name].count_documents({"_id": {"$in": sorted(ids)}}) for name, ids in wanted.items()
        )
    finally:
        client.close()


def test_recorder_sigterm_mid_stream_exits_0_and_a_restart_records_everything(private):
    # The recorder writes about 10 events/s to FerretDB on our 2-core machine: a small stream.
    stream = list(scenario_events(seed=9, count=300))
    wanted: dict[str, set[str]] = {}
    for event in stream:
        for write in writes_for(event):
            wanted.setdefault(write.collection, set()).add(write.doc_id)
    total = sum(len(ids) for ids in wanted.values())
    asyncio.run(harness.produce(private, stream))

    first = _group(private, "first")
    first.start("recorder")
    try:
        eventually(lambda: _recorded(private, wanted) >= total // 5, timeout=120,
                   what="the recorder to be a fifth through")  # fmt: skip
        code, elapsed = sigterm(first, "recorder")
    finally:
        first.stop()
    assert _recorded(private, wanted) < total, "finished before SIGTERM; raise the count"
    assert_clean_stop(first, "recorder", code, elapsed)

    second = _group(private, "second")
    second.start("recorder")
    try:
        eventually(lambda: _recorded(private, wanted) == total, timeout=120,
                   what="the restarted recorder to record every offer and demand")  # fmt: skip
        second.raise_if_exited()
    finally:
        second.stop()


class _Writer(threading.Thread):
    """Registers cooperatives one after another until the gateway goes away."""

    def __init__(self, settings: Settings, key: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=settings.gateway_url, timeout=10.0,
                                   headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        self.accepted: list[str] = []
        self.refused: list[int] = []

    def run(self) -> None:
        with self.client:
            while True:
                org_id = f"htx-{uuid.uuid4().hex[:10]}"
                body = {"org_id": org_id, "name": f"HTX {org_id}", "kind": "cooperative",
                        "province": "Kon Tum"}  # fmt: skip
                try:
                    response = self.client.post("/v1/organizations", json=body)
                except httpx.HTTPError:
                    return  # the gateway stopped: the answer never came, no claim is made
                if response.status_code == 202:
                    self.accepted.append(org_id)
                else:
                    self.refused.append(response.status_code)


def _registered_on_kafka(settings: Settings) -> set[str]:
    async def read() -> set[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        await consumer.start()
        try:
            topic = settings.topics.organizations  # created with topic_partitions partitions
            tps = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            ids: set[str] = set()
            while [p for p in tps if await consumer.position(p) < end[p]]:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    ids |= {json.loads(r.value)["organization"]["org_id"] for r in records}
            return ids
        finally:
            await harness._stop(consumer)

    return asyncio.run(read())


def test_gateway_sigterm_with_writes_and_a_monitor_stream_open_exits_0_and_loses_none(private):
    client: MongoClient = MongoClient(private.mongo_url, tz_aware=True)
    try:
        admin = create_key(client[private.mongo_db], "ketnoi-admin", "admin").key
    finally:
        client.close()
    group = _group(private, "gateway")
    group.start("gateway")
    writer = _Writer(private, admin)
    try:
        group.wait_gateway_ready()
        headers = {"Authorization": f"Bearer {admin}"}
        with httpx.Client(base_url=private.gateway_url, headers=headers, timeout=10.0) as http:
            organizer = next(o for o in demo_data.organizations() if o["kind"] == "organizer")
            assert http.post("/v1/organizations", json=organizer).status_code == 202
            created = http.post("/v1/sessions", json=demo_data.session(datetime.now(UTC).date()))
            assert created.status_code == 202, created.text
            snapshot = f"/monitor/sessions/{created.json()['id']}/snapshot"
            eventually(lambda: http.get(snapshot).status_code == 200, timeout=30,
                       what="the monitor to know the session")  # fmt: skip
            # An organizer's page watching the session: an open stream must not hold the stop.
            events = snapshot.removesuffix("snapshot") + "events"
            with http.stream("GET", events, timeout=30.0) as stream:
                assert stream.status_code == 200
                first_line = next(stream.iter_lines())
                assert first_line, "the stream sent nothing"
                writer.start()
                eventually(lambda: len(writer.accepted) >= 20, timeout=30,
                           what="writes to be accepted")  # fmt: skip
                code, elapsed = sigterm(group, "gateway")
        writer.join(15)
    finally:
        group.stop()
    assert_clean_stop(group, "gateway", code, elapsed)
    assert not writer.refused, writer.refused
    missing = set(writer.accepted) - _registered_on_kafka(private)
    assert not missing, f"answered 202 but not on Kafka: {sorted(missing)[:5]}"
    from ketnoi.running import port_in_use

    assert not port_in_use(private.gateway_host, private.gateway_port), "the port is still held"
