"""``ketnoi infra prune`` on the real broker and store, on throwaway runs made here.

Every run this test makes carries one unique token, and every prune is limited to it
(``--only``): the shared broker's other runs, finished or not, are never touched.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import MongoClient

from ketnoi.infra import prune
from ketnoi.runner import settings_env
from ketnoi.settings import Settings
from tests.support import eventually

pytestmark = pytest.mark.infra


async def _make_run(settings: Settings, run: str, record: bool) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(f"{run}.orders", 1, 1), NewTopic(f"{run}.matches", 1, 1)]
        )
    finally:
        await admin.close()
    if record:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(f"{run}.orders", b"{}", key=b"coffee")
        finally:
            await producer.stop()


async def _topics(settings: Settings) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _prune_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "infra", "prune", *args],
        env=settings_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_prune_deletes_finished_runs_only_and_dry_run_deletes_nothing(infra: Settings):
    token = f"prune{uuid.uuid4().hex[:8]}"
    ended, alive, idle = f"test-{token}a", f"test-{token}b", f"bench-{token}c"
    mongo: MongoClient = MongoClient(infra.mongo_url)
    try:
        for run in (ended, alive, idle):
            asyncio.run(_make_run(infra, run, record=run == idle))
            database = "ketnoi_" + run.replace("-", "_")
            mongo[database]["offers"].insert_one({"_id": run})
        prune.write_lease(infra, ended, pid=_ended_pid())  # a test session that has finished
        prune.write_lease(infra, alive)  # this test session: running

        dry = _prune_cli(infra, "--dry-run", "--only", token)
        assert dry.returncode == 0, dry.stderr
        lines = dry.stdout.splitlines()
        assert f"would delete {ended}: 2 topics, database ketnoi_{ended.replace('-', '_')} " \
            "(its process has ended)" in lines  # fmt: skip
        assert any(line.startswith(f"kept {alive}: ") and "in use (process" in line
                   for line in lines)  # fmt: skip
        # Kept either way: judged young when the broker and store run from this checkout, of
        # unknown age when they run from another one (a second clone on a shared stack).
        idle_line = next(line for line in lines if line.startswith(f"kept {idle}: "))
        local_stack = "changed 0 min ago" in idle_line
        assert local_stack or "age unknown" in idle_line, idle_line
        assert lines[-1].endswith("Nothing was deleted (--dry-run).")
        topics = asyncio.run(_topics(infra))
        assert {f"{run}.orders" for run in (ended, alive, idle)} <= set(topics)

        real = _prune_cli(infra, "--only", token)
        assert real.returncode == 0, real.stderr
        assert "deleted 1 finished run(s): 2 topics, 1 databases; kept 2." in real.stdout
        gone = {f"{ended}.orders", f"{ended}.matches"}
        eventually(lambda: not gone & set(asyncio.run(_topics(infra))),
                   what="the ended run's topics to go")  # fmt: skip
        databases = set(mongo.list_database_names())
        assert f"ketnoi_test_{token}a" not in databases
        assert {f"ketnoi_test_{token}b", f"ketnoi_bench_{token}c"} <= databases
        assert not (prune.runs_dir(infra) / f"{ended}.json").exists()

        # Two hours later, the run without a lease counts as finished; the lease still holds.
        # Of unknown age (another checkout's stack), it is kept however late it is.
        later = prune.prune(infra, only=token, now=time.time() + 7200)
        if local_stack:
            assert [run.name for run in later.finished] == [idle]
            assert [run.name for run in later.kept] == [alive]
            assert f"ketnoi_bench_{token}c" not in mongo.list_database_names()
        else:
            assert not later.finished and {r.name for r in later.kept} == {alive, idle}
    finally:
        (prune.runs_dir(infra) / f"{alive}.json").unlink(missing_ok=True)
        prune.prune(infra, only=token, now=time.time() + 7200)  # leave nothing behind
        mongo.close()
