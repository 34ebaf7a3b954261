"""A single-node Apache Kafka (KRaft) from Maven Central jars, fetched and cached by us."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from pathlib import Path

from ketnoi.infra.processes import InfraError, ManagedProcess, port_open, require_tool, wait_until
from ketnoi.settings import PROJECT_ROOT, Settings

KAFKA_VERSION = "3.9.1"
POM = PROJECT_ROOT / "infra" / "kafka" / "pom.xml"
# Checksums of the jars that make the broker, recorded when the version was pinned.
JAR_SHA256 = {
    "kafka_2.13-3.9.1.jar": "5631c61356d55611c158291a69ad028f3c4fed5d0a610c62a0853c65c89d10f6",
    "kafka-clients-3.9.1.jar": "7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9",
    "kafka-server-3.9.1.jar": "02b5a92645865e3152e9d1d829f6d4c4b4272f637b7fe4a2b00cabcbcd8df6f4",
    "kafka-raft-3.9.1.jar": "0d4236cf868f8668c74c49bec4bed41e400bb13d6d381a0f8e9843585b2f159f",
    "kafka-metadata-3.9.1.jar": "35c35118d4abb0b747ad68d1e0be00d5bd02206b462ad76ebbcd85b33436f13a",
    "reload4j-1.2.25.jar": "e71115175c4b080cf51dd72097165ea001ff9fafdc4f79d88049d0b1ecca979c",
}
JVM_OPTS = ["-Xmx512m", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]


class LocalKafka:
    """Fetch, format, start and stop the local broker under ``<home>/kafka``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.home / "kafka"
        self.libs = settings.cache_dir / f"kafka-libs-{KAFKA_VERSION}"
        self.data = self.dir / "data"
        self.process = ManagedProcess("kafka", settings.home / "run")

    # -- install -------------------------------------------------------------------------
    def ensure_jars(self) -> None:
        if self._jars_ok():
            return
        mvn = require_tool(
            "mvn",
            "to fetch the Apache Kafka jars from Maven Central",
            "Install Maven and a JDK 17 (Debian: apt-get install maven openjdk-17-jdk-headless).",
        )
        require_tool("java", "to run Apache Kafka", "Install a JDK 17 (openjdk-17-jdk-headless).")
        tmp = self.libs.with_name(self.libs.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"fetching Apache Kafka {KAFKA_VERSION} jars with Maven (cached in ~/.m2) ...")
        result = subprocess.run(
            [mvn, "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise InfraError(f"mvn could not fetch Kafka jars:\n{result.stdout[-2000:]}")
        shutil.rmtree(self.libs, ignore_errors=True)
        tmp.rename(self.libs)
        if not self._jars_ok():
            raise InfraError(f"Kafka jars in {self.libs} do not match the recorded checksums")

    def _jars_ok(self) -> bool:
        for name, digest in JAR_SHA256.items():
            jar = self.libs / name
            if not jar.is_file() or hashlib.sha256(jar.read_bytes()).hexdigest() != digest:
                return False
        return True

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
             "format", "-t", cluster_id, "-c", str(config), "--ignore-formatted"],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise InfraError(f"kafka storage format failed:\n{result.stdout}\n{result.stderr}")

    def _cluster_id(self) -> str:
        """A Kafka cluster id (base64 of 16 random bytes, as StorageTool random-uuid prints)."""
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

    def wait_ready(self, timeout: float = 90.0) -> None:
        s = self.settings
        ok = wait_until(
            lambda: self.process.pid() is None or port_open(s.kafka_host, s.kafka_port), timeout
        )
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
