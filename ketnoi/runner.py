"""Run the gateway, matcher and recorder as child processes (for the demo and the e2e tests)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ketnoi.infra.processes import InfraError, wait_until
from ketnoi.settings import Settings

SERVICES = ("gateway", "matcher", "recorder")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the parent dies.

    So a demo or a test killed with SIGKILL still leaves no orphan service behind.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process see exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        text = ",".join(value) if isinstance(value, tuple) else str(value)  # round_markets
        env[f"KETNOI_{name.upper()}"] = text
    return env


@dataclass
class ServiceGroup:
    """Child processes in their own process groups, stopped together (no orphans)."""

    settings: Settings
    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, *names: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = settings_env(self.settings)
        for name in names or SERVICES:
            with open(self.log_dir / f"{name}.log", "ab") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "ketnoi.cli", name],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )

    def wait_gateway_ready(self, timeout: float = 60.0) -> None:
        url = f"{self.settings.gateway_url}/readyz"

        def ready() -> bool:
            self.raise_if_exited()
            try:
                return httpx.get(url, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(ready, timeout, interval=0.2):
            raise InfraError(f"gateway not ready after {timeout:.0f}s:\n{self.log_tail('gateway')}")

    def raise_if_exited(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise InfraError(
                    f"{name} exited with code {proc.returncode}:\n{self.log_tail(name)}"
                )

    def kill(self, name: str) -> None:
        """SIGKILL one service's whole process group (a crash, for recovery tests)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            del self.procs[name]

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
