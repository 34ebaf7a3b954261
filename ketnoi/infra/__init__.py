"""Local infrastructure for development and tests: real Kafka and a MongoDB-wire store."""

from __future__ import annotations

from dataclasses import dataclass, field

from ketnoi.infra.health import Health, check
from ketnoi.infra.kafka import LocalKafka
from ketnoi.infra.processes import InfraError, port_open, wait_until
from ketnoi.infra.store import LocalStore
from ketnoi.settings import Settings

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
        result = UpResult()
        try:
            self._up_kafka(result)
            self._up_store(result)
            self._wait_healthy()
        except BaseException:
            # Ctrl-C or a failure half-way: stop only what this call started, leave no orphan.
            self.down(only=result.started)
            raise
        return result

    def _up_kafka(self, result: UpResult) -> None:
        s = self.settings
        if self.kafka.running() or port_open(s.kafka_host, s.kafka_port):
            result.reused.append("kafka")
            return
        self.kafka.ensure_jars()
        self.kafka.ensure_formatted()
        self.kafka.start()
        result.started.append("kafka")
        self.kafka.wait_ready()

    def _up_store(self, result: UpResult) -> None:
        s = self.settings
        if self.store.running() or port_open(s.mongo_host, s.mongo_port):
            result.reused.append("store")
            return
        self.store.ensure_binary()
        self.store.start()
        result.started.append("store")
        self.store.wait_ready()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        last: list[Health] = []

        def healthy() -> bool:
            nonlocal last
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
