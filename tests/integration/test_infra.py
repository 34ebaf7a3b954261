"""The project's own infrastructure: a real Kafka broker and a real MongoDB-wire store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from ketnoi.infra import Infra
from ketnoi.infra.processes import port_open
from ketnoi.settings import Settings
from schemas.events import Match, MatchProposed
from services.common.store import connect, database, ensure_indexes
from services.common.topics import ensure_topics
from services.recorder.worker import write
from tests.conftest import RUN_ID, free_port

pytestmark = pytest.mark.infra


def test_status_reports_both_healthy(infra: Settings):
    health = {h.component: h for h in Infra(infra).status()}
    assert health["kafka"].healthy, health["kafka"].detail
    assert health["store"].healthy, health["store"].detail
    assert "7.0" in health["store"].detail  # FerretDB speaks the MongoDB 7.0 wire protocol


def test_topics_are_created_with_explicit_partition_counts(infra: Settings):
    async def describe() -> dict[str, int]:
        await ensure_topics(infra)
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(infra.topics.all())
            return {t["topic"]: len(t["partitions"]) for t in described}
        finally:
            await admin.close()

    counts = asyncio.run(describe())
    assert counts[infra.topics.orders] == infra.topic_partitions
    assert counts[infra.topics.matches] == infra.topic_partitions
    assert counts[infra.topics.dead_letter] == 1


def test_store_enforces_unique_indexes_and_conditional_updates(infra: Settings):
    client: MongoClient = MongoClient(infra.mongo_url)
    try:
        coll = client[infra.mongo_db][f"probe_{uuid.uuid4().hex[:6]}"]
        coll.create_index("key", unique=True)
        coll.insert_one({"_id": 1, "key": "Lâm Đồng", "remaining": 5})
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": 2, "key": "Lâm Đồng"})
        # An atomic reservation: succeeds once, then the guard refuses.
        guard = {"_id": 1, "remaining": {"$gte": 3}}
        assert coll.find_one_and_update(guard, {"$inc": {"remaining": -3}})["remaining"] == 5
        assert coll.find_one_and_update(guard, {"$inc": {"remaining": -3}}) is None
        assert coll.find_one({"_id": 1})["key"] == "Lâm Đồng"
    finally:
        client.close()


def _private_settings(tmp_path) -> Settings:
    """A second, private stack on free ports, so stopping it cannot disturb other tests."""
    return Settings(
        home=tmp_path / "home",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        mongo_url=f"mongodb://127.0.0.1:{free_port()}",
        topic_prefix=f"persist-{RUN_ID}.",
        mongo_db=f"persist_{RUN_ID}",
        topic_partitions=2,
    )


def _match_event() -> MatchProposed:
    return MatchProposed(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        source="test",
        match=Match(
            match_id="m-persist", offer_id="o1", demand_id="d1", supplier_id="s1",
            buyer_id="b1", category="coffee", quantity_kg=Decimal(3000), unit_price_vnd=95_000,
        ),
    )  # fmt: skip


async def _record(settings: Settings, event: MatchProposed) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topics.matches, key=b"coffee", value=event.model_dump_json().encode()
        )
    finally:
        await producer.stop()
    client = connect(settings)
    try:
        db = database(client, settings)
        await ensure_indexes(db)
        await write(db, event)
    finally:
        await client.close()


async def _read_back(settings: Settings) -> tuple[dict | None, list[bytes]]:
    client = connect(settings)
    try:
        doc = await database(client, settings).matches.find_one({"_id": "m-persist"})
    finally:
        await client.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(settings.topics.matches, p) for p in range(2)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        values: list[bytes] = []
        while sum(end.values()) > len(values):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                values += [r.value for r in records]
        return doc, values
    finally:
        await consumer.stop()


def test_data_survives_restart_and_down_leaves_no_process(tmp_path):
    settings = _private_settings(tmp_path)
    infra = Infra(settings)
    event = _match_event()
    try:
        assert sorted(infra.up().started) == ["kafka", "store"]
        asyncio.run(_record(settings, event))
        pids = [infra.kafka.process.pid(), infra.store.process.pid()]
        assert all(pids)

        assert sorted(infra.down()) == ["kafka", "store"]
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}"), f"process {pid} survived infra down"
        assert not port_open(settings.kafka_host, settings.kafka_port)
        assert not port_open(settings.mongo_host, settings.mongo_port)

        assert sorted(infra.up().started) == ["kafka", "store"]
        again = infra.up()  # starting twice reuses what runs
        assert again.started == [] and sorted(again.reused) == ["kafka", "store"]
        doc, values = asyncio.run(_read_back(settings))
        assert doc is not None and doc["quantity_kg"] == 3000.0 and doc["buyer_id"] == "b1"
        assert event.model_dump_json().encode() in values
    finally:
        infra.down()


def test_ctrl_c_during_infra_up_leaves_no_process(tmp_path):
    from ketnoi.runner import settings_env
    from tests.support import eventually

    settings = _private_settings(tmp_path)
    infra = Infra(settings)
    up = subprocess.Popen(
        [sys.executable, "-m", "ketnoi.cli", "infra", "up"],
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # As a background job of a non-interactive shell would get it: SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        kafka_pid = eventually(infra.kafka.process.pid, timeout=60, what="Kafka to be launched")
        os.killpg(up.pid, signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        stopped_by_test = infra.down()  # whatever happened, leave nothing running
    assert up.returncode == 130, output
    assert "interrupted" in output
    assert not os.path.exists(f"/proc/{kafka_pid}"), "Kafka survived Ctrl-C of infra up"
    assert stopped_by_test == [], f"infra up left {stopped_by_test} running after Ctrl-C"
