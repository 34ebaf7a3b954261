"""A single-node Apache Kafka (KRaft) from Maven Central jars, fetched and cached by us."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from ketnoi import prepare
from ketnoi.infra.processes import InfraError, ManagedProcess, port_open, wait_until
from ketnoi.prepare import JAR_SHA256, KAFKA_VERSION, POM
from ketnoi.settings import Settings

__all__ = ["JAR_SHA256", "KAFKA_VERSION", "POM", "LocalKafka"]

JVM_OPTS = ["-Xmx512m", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]


class LocalKafka:
    """Fetch, format, start and stop the local broker under ``<home>/kafka``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.home / "kafka"
        self.libs = prepare.kafka_libs(settings.cache_dir)
        self.data = self.dir / "data"
        self.process = ManagedProcess("kafka", settings.home / "run")

    # -- install -------------------------------------------------------------------------
    def ensure_jars(self) -> None:
        """Fetch the jars with Maven unless the cached ones match the checksums."""
        try:
            prepare.prepare(self.settings.cache_dir, kafka=True, store=False,
                            log_dir=self.settings.home / "setup")  # fmt: skip
        except prepare.PrepareError as exc:
            raise InfraError(str(exc)) from None

    def _jars_ok(self) -> bool:
        return prepare.jars_ok(self.libs)

    # -- configure -----------------------------------------------------------------------
    def properties(self) -> str:
        s = self.settings
        host, port, ctl = s.kafka_host, s.kafka_port, s.kafka_controller_port
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{ctl}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={self.data}",
            f"num.partitions={s.topic_partitions}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=6",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "log.retention.hours=168",
            "",
        ])  # fmt: skip

    def ensure_formatted(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "server.properties"
        config.write_text(self.properties())
        if (self.data / "meta.properties").exists():
            return
        cluster_id = self._cluster_id()
        result = subprocess.run(
            ["java", *JVM_OPTS, "-cp", f"{self.libs}/*", "kafka.tools.StorageTool",
             "format", f"--cluster-id={cluster_id}", "-c", str(config), "--ignore-formatted"],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise InfraError(f"kafka storage format failed:\n{result.stdout}\n{result.stderr}")

    def _cluster_id(self) -> str:
        """A Kafka cluster id (base64 of 16 random bytes, as StorageTool random-uuid prints).
        One in 32 starts with '-', so it is passed as ``--cluster-id=ID``, never as a separate
        argument the parser would read as an option."""
        import base64

        return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    # -- run -----------------------------------------------------------------------------
    def running(self) -> bool:
        return self.process.pid() is not None

    def start(self) -> None:
        log4j = self.dir / "log4j.properties"
        log4j.write_text(_LOG4J.format(log=self.dir / "server.log"))
        self.process.start(
            ["java", *JVM_OPTS, f"-Dlog4j.configuration=file:{log4j}",
             f"-Dkafka.logs.dir={self.dir}", "-cp", f"{self.libs}/*",
             "kafka.Kafka", str(self.dir / "server.properties")],
        )  # fmt: skip

    def wait_ready(self, timeout: float = 90.0, on_wait: Callable[[], None] | None = None) -> None:
        """Until the port answers (or the process died); ``on_wait`` runs at each poll."""
        s = self.settings

        def ready() -> bool:
            if on_wait is not None:
                on_wait()
            return self.process.pid() is None or port_open(s.kafka_host, s.kafka_port)

        ok = wait_until(ready, timeout)
        if not ok or self.process.pid() is None:
            raise InfraError(
                f"Kafka did not start within {timeout:.0f}s:\n{self.process.log_tail()}"
            )

    def stop(self) -> bool:
        return self.process.stop(timeout=30.0)

    def version(self) -> str:
        return f"Apache Kafka {KAFKA_VERSION} (KRaft, single node)"

    def data_dir(self) -> Path:
        return self.data


_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
"""
