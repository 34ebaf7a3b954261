"""``ketnoi infra prune``: delete the topics and databases that finished runs left behind.

Every test session, demo and benchmark works on a topic prefix and a database of its own
(``test-<id>.``/``ketnoi_test_<id>``, ``demo-<time>.``, ``bench-...``, ``recovery-...``,
``persist-...``), and nothing deletes them afterwards: a busy machine gathers hundreds of topics.
``make clean`` is no answer, since it also deletes the virtualenv.

A run is pruned only when it is **finished**:

1. Its **lease** says so. The test session and the demo write ``<cache>/runs/<run>.json``
   with their process id (and the process's start time, so a recycled pid is not mistaken for
   it). While that process lives the run is kept, whatever its age; once it is gone the run is
   finished. Leases live in the user's cache folder, so every checkout sees all of them.
2. A run without a lease (a benchmark, a run inside a test session such as ``recovery-...``, or
   one from before leases existed) is finished when nothing of it changed for ``older_than``
   (60 minutes by default), judged by the files of the broker and the store, which must run
   from this checkout (their data folders are here). Otherwise its age is unknown and it is
   kept.

Only names of those shapes are considered: the default ``ketnoi.`` prefix, the ``ketnoi``
database and anything else are never touched, nor are the virtualenv and the caches.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ketnoi.settings import Settings

RUN_KINDS = ("test", "demo", "bench", "recovery", "persist")
_TOPIC_RUN = re.compile(rf"^(?P<run>(?:{'|'.join(RUN_KINDS)})-[A-Za-z0-9][A-Za-z0-9-]*)\.")
_DB_RUN = re.compile(rf"^(?:ketnoi_)?(?P<kind>{'|'.join(RUN_KINDS)})_(?P<rest>[A-Za-z0-9_]+)$")
DEFAULT_OLDER_THAN_MINUTES = 60.0


def run_of_topic(topic: str) -> str | None:
    """``test-ab12.orders`` -> ``test-ab12``; None for a topic that is not a run's."""
    match = _TOPIC_RUN.match(topic)
    return match["run"] if match else None


def run_of_database(name: str) -> str | None:
    """``ketnoi_test_ab12`` -> ``test-ab12``, ``ketnoi_bench_gwo_1f`` -> ``bench-gwo-1f``."""
    match = _DB_RUN.match(name)
    return f"{match['kind']}-{match['rest'].replace('_', '-')}" if match else None


# -- leases ----------------------------------------------------------------------------------
def runs_dir(settings: Settings) -> Path:
    """In the user's cache, not the checkout: every checkout using the same broker and store
    sees the leases of the others' runs."""
    return settings.cache_dir / "runs"


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None when it is gone:
    with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def write_lease(settings: Settings, run: str, pid: int | None = None) -> Path:
    """Mark ``run`` as in use by ``pid`` (this process by default) until that process ends."""
    pid = pid or os.getpid()
    path = runs_dir(settings) / f"{run}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    lease = {"run": run, "pid": pid, "started": _process_start(pid),
             "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
    tmp = path.with_name(f".{path.name}.{pid}")
    tmp.write_text(json.dumps(lease))
    tmp.replace(path)  # whole or not at all: a half-written lease would read as abandoned
    return path


def lease_holder(settings: Settings, run: str) -> int | bool | None:
    """The live pid holding ``run``'s lease; False when the holder is gone; None: no lease."""
    path = runs_dir(settings) / f"{run}.json"
    try:
        lease = json.loads(path.read_text())
        pid = int(lease["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: nobody can be holding it
    started = _process_start(pid)
    if started is None or (lease.get("started") and lease["started"] != started):
        return False
    return pid


# -- what a run is made of -------------------------------------------------------------------
@dataclass
class Run:
    name: str
    topics: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    last_change: float | None = None  # newest known change (epoch seconds)
    unknown: list[str] = field(default_factory=list)  # parts whose age nobody can tell
    finished: bool = False
    why: str = ""

    def parts(self) -> str:
        bits = []
        if self.topics:
            bits.append(f"{len(self.topics)} topic{'s' if len(self.topics) != 1 else ''}")
        bits += [f"database {name}" for name in self.databases]
        return ", ".join(bits) or "nothing"

    def seen(self, when: float | None, part: str) -> None:
        if when is None:
            self.unknown.append(part)
        elif self.last_change is None or when > self.last_change:
            self.last_change = when


def group_runs(topics: Iterable[str], databases: Iterable[str], only: str = "") -> list[Run]:
    runs: dict[str, Run] = {}
    for topic in topics:
        name = run_of_topic(topic)
        if name and only in name:
            runs.setdefault(name, Run(name)).topics.append(topic)
    for database in databases:
        name = run_of_database(database)
        if name and only in name:
            runs.setdefault(name, Run(name)).databases.append(database)
    return sorted(runs.values(), key=lambda run: run.name)


def _newest_mtime(paths: Iterable[Path]) -> float | None:
    newest: float | None = None
    for path in paths:
        try:
            stamp = path.stat().st_mtime
        except OSError:
            continue
        newest = stamp if newest is None else max(newest, stamp)
    return newest


def local_topic_change(kafka_data: Path, topic: str) -> float | None:
    """Newest write to a topic's partition folders (a broker from this checkout)."""
    files: list[Path] = []
    for folder in kafka_data.glob(f"{glob_escape(topic)}-*"):
        if not folder.name[len(topic) + 1 :].isdigit():  # another topic, or one being deleted
            continue
        try:
            files += [folder, *folder.iterdir()]
        except OSError:  # deleted meanwhile
            continue
    return _newest_mtime(files)


def local_database_change(store_data: Path, database: str) -> float | None:
    """Newest write to a database's SQLite files (a FerretDB from this checkout). Not the
    ``-shm`` file: SQLite updates it on reads too (listing the databases would count)."""
    name = glob_escape(database)
    return _newest_mtime(
        [*store_data.glob(f"{name}.sqlite"), *store_data.glob(f"{name}.sqlite-wal")]
    )


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# -- the decision ----------------------------------------------------------------------------
def decide(settings: Settings, run: Run, older_than_s: float, now: float) -> None:
    holder = lease_holder(settings, run.name)
    if holder is False:
        run.finished, run.why = True, "its process has ended"
        return
    if holder is not None:
        run.why = f"in use (process {holder} is running)"
        return
    if run.last_change is not None and now - run.last_change < older_than_s:
        run.why = f"changed {_ago(now - run.last_change)} ago (no lease; keeps it for "
        run.why += f"{_ago(older_than_s)})"
        return
    if run.unknown:
        run.why = f"age unknown ({run.unknown[0]}): no lease and no record or file to tell"
        return
    idle = "" if run.last_change is None else f" for {_ago(now - run.last_change)}"
    run.finished, run.why = True, f"no lease, unchanged{idle}"


def _ago(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


@dataclass
class PruneResult:
    runs: list[Run]
    deleted_topics: int = 0
    deleted_databases: int = 0

    @property
    def finished(self) -> list[Run]:
        return [run for run in self.runs if run.finished]

    @property
    def kept(self) -> list[Run]:
        return [run for run in self.runs if not run.finished]


def _ours(settings: Settings, name: str) -> bool:
    """Whether the local broker or store runs from this checkout (its pid file is ours)."""
    from ketnoi.infra.processes import ManagedProcess

    return ManagedProcess(name, settings.home / "run").pid() is not None


async def _topics(settings: Settings) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=10_000)  # fmt: skip
    await asyncio.wait_for(admin.start(), 10)
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def _delete_topics(settings: Settings, topics: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=60_000)  # fmt: skip
    await admin.start()
    try:
        for start in range(0, len(topics), 50):  # small requests: the broker answers each
            await admin.delete_topics(topics[start : start + 50])
    finally:
        await admin.close()


def prune(
    settings: Settings,
    *,
    dry_run: bool = False,
    older_than_minutes: float = DEFAULT_OLDER_THAN_MINUTES,
    only: str = "",
    now: float | None = None,
) -> PruneResult:
    """Find the runs, decide which are finished, and (unless ``dry_run``) delete those."""
    from pymongo import MongoClient

    now = time.time() if now is None else now
    older_than_s = older_than_minutes * 60
    topics = asyncio.run(_topics(settings))
    client: MongoClient = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        databases = client.list_database_names()
        runs = group_runs(topics, databases, only)
        kafka_local, store_local = _ours(settings, "kafka"), _ours(settings, "store")
        for run in runs:
            for topic in run.topics:
                changed = local_topic_change(settings.home / "kafka" / "data", topic)
                run.seen(changed if kafka_local else None, topic)
            for database in run.databases:
                changed = local_database_change(settings.home / "store" / "data", database)
                run.seen(changed if store_local else None, database)
            decide(settings, run, older_than_s, now)
        result = PruneResult(runs)
        if dry_run:
            return result
        doomed_topics = [t for run in result.finished for t in run.topics]
        if doomed_topics:
            asyncio.run(_delete_topics(settings, doomed_topics))
            result.deleted_topics = len(doomed_topics)
        for run in result.finished:
            for database in run.databases:
                client.drop_database(database)
                result.deleted_databases += 1
            (runs_dir(settings) / f"{run.name}.json").unlink(missing_ok=True)
        _drop_stale_leases(settings, only)
        return result
    finally:
        client.close()


def _drop_stale_leases(settings: Settings, only: str) -> None:
    """Leases of ended runs that left nothing behind (a session without the infrastructure)."""
    for lease in runs_dir(settings).glob("*.json"):
        if only in lease.stem and lease_holder(settings, lease.stem) is False:
            lease.unlink(missing_ok=True)


def report(result: PruneResult, dry_run: bool) -> list[str]:
    """What was (or would be) deleted and what was kept, one run per line, then a summary."""
    verb = "would delete" if dry_run else "deleted"
    lines = [f"{verb} {run.name}: {run.parts()} ({run.why})" for run in result.finished]
    lines += [f"kept {run.name}: {run.parts()}; {run.why}" for run in result.kept]
    topics = sum(len(run.topics) for run in result.finished)
    databases = sum(len(run.databases) for run in result.finished)
    summary = (f"{verb} {len(result.finished)} finished run(s): {topics} topics, "
               f"{databases} databases; kept {len(result.kept)}")  # fmt: skip
    if dry_run:
        summary += ". Nothing was deleted (--dry-run)"
    return [*lines, summary + "."]


def main(settings: Settings, *, dry_run: bool, older_than_minutes: float, only: str) -> int:
    """The ``ketnoi infra prune`` command: one line per run, a summary, no traceback."""
    import sys

    from aiokafka.errors import KafkaError
    from pymongo.errors import PyMongoError

    from ketnoi.infra.health import quiet_kafka_client

    try:
        with quiet_kafka_client():
            result = prune(settings, dry_run=dry_run, older_than_minutes=older_than_minutes,
                           only=only)  # fmt: skip
    except (KafkaError, OSError, TimeoutError) as exc:
        print(f"error: cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__}); "
              "start it with `make infra-up` (or `ketnoi infra up`)", file=sys.stderr)  # fmt: skip
        return 1
    except PyMongoError as exc:
        print(f"error: cannot reach the store at {settings.mongo_url} ({type(exc).__name__}); "
              "start it with `make infra-up` (or `ketnoi infra up`)", file=sys.stderr)  # fmt: skip
        return 1
    for line in report(result, dry_run):
        print(line)
    return 0
