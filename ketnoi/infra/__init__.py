"""Local infrastructure for development and tests: real Kafka and a MongoDB-wire store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ketnoi import prepare
from ketnoi.infra.health import Health, check
from ketnoi.infra.kafka import LocalKafka
from ketnoi.infra.processes import InfraError, port_open, wait_until
from ketnoi.infra.store import LocalStore
from ketnoi.progress import StageError, emit, run_jobs, stage
from ketnoi.settings import Settings

_NAMES = {"kafka": "Kafka", "store": "the store (FerretDB)"}

__all__ = ["Health", "Infra", "InfraError", "UpResult"]


@dataclass
class UpResult:
    started: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


class Infra:
    """Start, stop and inspect the broker and the store; reuse what already runs."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.kafka = LocalKafka(self.settings)
        self.store = LocalStore(self.settings)

    def up(self) -> UpResult:
        """Start what is not running yet, each setup stage shown with its elapsed time.

        The Kafka jar fetch and the store's Go build run at once, and Kafka starts as soon as
        its jars are there, while the store may still be building (the longest first-run
        stage); on Ctrl-C or a failure, only what this call started is stopped.
        """
        result = UpResult()
        s = self.settings
        need_kafka = not (self.kafka.running() or port_open(s.kafka_host, s.kafka_port))
        need_store = not (self.store.running() or port_open(s.mongo_host, s.mongo_port))
        for name, needed, where in [("kafka", need_kafka, s.kafka_bootstrap),
                                    ("store", need_store, s.mongo_url)]:  # fmt: skip
            if not needed:
                result.reused.append(name)
                emit(f"reusing {_NAMES[name]}, already running at {where}")
        if not need_store and (older := self.store.outdated()):
            emit(f"warning: the running store is an older build ({older}, this checkout builds "
                 f"{self.store.binary.name}); run `ketnoi infra down` and `ketnoi infra up` to "
                 "use this one")  # fmt: skip
        try:
            self._prepare_and_start(result, need_kafka, need_store)
            waiting = " and ".join(_NAMES[name] for name in result.started)
            label = f"starting {waiting}" if waiting else "checking the running Kafka and store"
            with stage(label) as current:
                if need_kafka:
                    self.kafka.wait_ready(on_wait=current.tick)
                if need_store:
                    self.store.wait_ready(on_wait=current.tick)
                self._wait_healthy(on_wait=current.tick)
        except BaseException:
            # Ctrl-C or a failure half-way: stop only what this call started, leave no orphan.
            self.down(only=result.started)
            raise
        return result

    def _prepare_and_start(self, result: UpResult, need_kafka: bool, need_store: bool) -> None:
        settings = self.settings
        log_dir = settings.home / "setup"

        def start_kafka() -> None:
            self.kafka.ensure_formatted()
            self.kafka.start()
            result.started.append("kafka")

        try:
            with prepare.locked(settings.cache_dir):
                self._prepare_under_lock(need_kafka, need_store, start_kafka, log_dir)
        except (prepare.PrepareError, StageError) as exc:
            raise InfraError(str(exc)) from None
        except FileNotFoundError as exc:
            raise InfraError(f"{exc.filename} could not be started: {exc.strerror}") from None
        if need_store:
            self.store.start()
            result.started.append("store")

    def _prepare_under_lock(
        self, need_kafka: bool, need_store: bool, start_kafka: Callable[[], None], log_dir: Path
    ) -> None:
        """Fetch or build what is missing, at once; Kafka starts the moment its jars are in."""
        cache = self.settings.cache_dir
        kafka_job = prepare.kafka_job(cache, log_dir) if need_kafka else None
        store_job = prepare.store_job(cache, log_dir) if need_store else None
        if kafka_job is not None:
            install = kafka_job.then

            def install_then_start() -> None:
                if install is not None:
                    install()
                start_kafka()

            kafka_job.then = install_then_start
        elif need_kafka:
            start_kafka()  # jars cached: Kafka warms up while the store builds
        jobs = [job for job in (kafka_job, store_job) if job is not None]
        if jobs:
            run_jobs(jobs)

    def _wait_healthy(
        self, timeout: float = 60.0, on_wait: Callable[[], None] | None = None
    ) -> None:
        last: list[Health] = []

        def healthy() -> bool:
            nonlocal last
            if on_wait is not None:
                on_wait()
            last = check(self.settings)
            return all(h.healthy for h in last)

        if not wait_until(healthy, timeout, interval=0.5):
            details = "; ".join(f"{h.component}: {h.detail}" for h in last)
            raise InfraError(f"infrastructure not healthy after {timeout:.0f}s: {details}")

    def down(self, only: list[str] | None = None) -> list[str]:
        stopped = []
        if (only is None or "store" in only) and self.store.stop():
            stopped.append("store")
        if (only is None or "kafka" in only) and self.kafka.stop():
            stopped.append("kafka")
        return stopped

    def status(self) -> list[Health]:
        return check(self.settings)

    def status_report(self) -> tuple[bool, list[str]]:
        """Whether both answer, and lines saying so: versions only of what answers, and for
        what does not, how to start it (never versions of something that is not running)."""
        report = self.status()
        lines = [f"{h.component:6} {'healthy' if h.healthy else 'DOWN':8} {h.detail}"
                 for h in report]  # fmt: skip
        versions = {"kafka": self.kafka.version(), "store": self.store.version()}
        running = [versions[h.component] for h in report if h.healthy]
        if running:
            lines.append("versions: " + "; ".join(running))
        down = [_NAMES[h.component] for h in report if not h.healthy]
        if down:
            are, them = ("are", "them") if len(down) > 1 else ("is", "it")
            lines.append(f"hint: {' and '.join(down)} {are} not running; start {them} with "
                         "`make infra-up` (or `.venv/bin/ketnoi infra up`)")  # fmt: skip
        return not down, lines
