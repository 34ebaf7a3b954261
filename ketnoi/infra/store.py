"""The local MongoDB-wire-protocol store: FerretDB v1 (SQLite backend), built from the Go proxy.

Why FerretDB: it persists to disk, enforces unique indexes, speaks the wire protocol of
MongoDB 7 and is Apache-2.0; nx-27017 returned wrong results for updates we rely on (see
``../shared/docs/infra-notes.md``). Production uses real MongoDB 7 (docker-compose.yml).
"""

from __future__ import annotations

import subprocess

from ketnoi.infra.processes import InfraError, ManagedProcess, port_open, require_tool, wait_until
from ketnoi.settings import PROJECT_ROOT, Settings

FERRETDB_VERSION = "v1.24.2"
SOURCE = PROJECT_ROOT / "infra" / "ferretdb"


class LocalStore:
    """Build, start and stop the FerretDB wrapper under ``<home>/store``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.binary = settings.cache_dir / f"ketnoi-ferretdb-{FERRETDB_VERSION}"
        self.data = settings.home / "store" / "data"
        self.process = ManagedProcess("store", settings.home / "run")

    def ensure_binary(self) -> None:
        if self.binary.is_file():
            return
        go = require_tool(
            "go",
            "to build FerretDB (the local MongoDB-compatible store)",
            "Install Go 1.24+ (Debian: apt-get install golang, or the official tarball).",
        )
        print(f"building FerretDB {FERRETDB_VERSION} with Go (modules cached in ~/go/pkg/mod) ...")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.binary.with_name(self.binary.name + ".tmp")
        result = subprocess.run(
            [go, "build", "-trimpath", "-o", str(tmp), "."],
            cwd=SOURCE, capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise InfraError(f"go build of FerretDB failed:\n{result.stderr[-3000:]}")
        tmp.rename(self.binary)

    def running(self) -> bool:
        return self.process.pid() is not None

    def start(self) -> None:
        s = self.settings
        self.data.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [str(self.binary), f"--listen-addr={s.mongo_host}:{s.mongo_port}",
             f"--data-dir={self.data}"],
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30.0) -> None:
        s = self.settings
        ok = wait_until(
            lambda: self.process.pid() is None or port_open(s.mongo_host, s.mongo_port), timeout
        )
        if not ok or self.process.pid() is None:
            raise InfraError(
                f"FerretDB did not start within {timeout:.0f}s:\n{self.process.log_tail()}"
            )

    def stop(self) -> bool:
        return self.process.stop(timeout=15.0)

    def version(self) -> str:
        return f"FerretDB {FERRETDB_VERSION} (SQLite backend, MongoDB 7.0 wire protocol)"
