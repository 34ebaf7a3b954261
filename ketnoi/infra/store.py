"""The local MongoDB-wire-protocol store: FerretDB v1 (SQLite backend), built from the Go proxy.

Why FerretDB: it persists to disk, enforces unique indexes, speaks the wire protocol of
MongoDB 7 and is Apache-2.0; nx-27017 returned wrong results for updates we rely on (see
``docs/infra-notes.md``). Production uses real MongoDB 7 (docker-compose.yml).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ketnoi import prepare
from ketnoi.infra.processes import InfraError, ManagedProcess, port_open, wait_until
from ketnoi.prepare import FERRETDB_VERSION
from ketnoi.prepare import STORE_SOURCE as SOURCE
from ketnoi.settings import Settings

__all__ = ["FERRETDB_VERSION", "SOURCE", "LocalStore"]


class LocalStore:
    """Build, start and stop the FerretDB wrapper under ``<home>/store``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data = settings.home / "store" / "data"
        self.process = ManagedProcess("store", settings.home / "run")

    @property
    def binary(self) -> Path:
        """Named by FerretDB version and build digest (``ketnoi.prepare.store_binary``)."""
        return prepare.store_binary(self.settings.cache_dir)

    def ensure_binary(self) -> None:
        """Build the store with Go unless this version's binary is cached."""
        try:
            prepare.prepare(self.settings.cache_dir, kafka=False, store=True,
                            log_dir=self.settings.home / "setup")  # fmt: skip
        except prepare.PrepareError as exc:
            raise InfraError(str(exc)) from None

    def running(self) -> bool:
        return self.process.pid() is not None

    def outdated(self) -> str | None:
        """The binary the running store was started from, when it is not this checkout's build
        (a store started before the build changed, e.g. before the ``_id`` index patch)."""
        pid = self.process.pid()
        if pid is None:
            return None
        try:
            started = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            return None
        return None if started == str(self.binary) else Path(started).name

    def start(self) -> None:
        s = self.settings
        self.data.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [str(self.binary), f"--listen-addr={s.mongo_host}:{s.mongo_port}",
             f"--data-dir={self.data}"],
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30.0, on_wait: Callable[[], None] | None = None) -> None:
        """Until the port answers (or the process died); ``on_wait`` runs at each poll."""
        s = self.settings

        def ready() -> bool:
            if on_wait is not None:
                on_wait()
            return self.process.pid() is None or port_open(s.mongo_host, s.mongo_port)

        ok = wait_until(ready, timeout)
        if not ok or self.process.pid() is None:
            raise InfraError(
                f"FerretDB did not start within {timeout:.0f}s:\n{self.process.log_tail()}"
            )

    def stop(self) -> bool:
        return self.process.stop(timeout=15.0)

    def version(self) -> str:
        return f"FerretDB {FERRETDB_VERSION} (SQLite backend, MongoDB 7.0 wire protocol)"
