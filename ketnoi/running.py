"""Which Ketnoi services run on this machine, stopping them, and who holds a port.

Why: services started by hand (`ketnoi gateway &`) outlive the terminal that started them. With
the local Kafka and store stopped under them they logged errors forever and kept port 8000, and
a later `make demo` then talked to that stale gateway and failed with a misleading 401 (issue
13). So `ketnoi infra down` names the services still running against it, `ketnoi stop` stops
them (SIGTERM, wait, report), and the demo and the gateway name the process holding their port.

Linux only (``/proc``); elsewhere nothing is found and callers fall back to plain messages.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketnoi.infra.processes import alive
from ketnoi.settings import Settings

SERVICES = ("gateway", "matcher", "recorder")
PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        return " ".join(self.argv) or f"pid {self.pid}"


@dataclass(frozen=True)
class Service:
    """A running `ketnoi <service>` process and where it sends its work."""

    process: Process
    name: str
    kafka_bootstrap: str
    mongo_url: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.process.pid})"


def _argv(pid: int, proc: Path = PROC) -> tuple[str, ...]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _environ(pid: int, proc: Path = PROC) -> dict[str, str] | None:
    """The process's environment; None when it is not ours to read (another user's)."""
    try:
        raw = (proc / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    pairs = (part.decode(errors="replace").partition("=") for part in raw.split(b"\0") if part)
    return {name: value for name, _, value in pairs}


def service_name(argv: Iterable[str]) -> str | None:
    """``gateway`` for `ketnoi gateway`, `.venv/bin/ketnoi gateway` (under its Python) or
    `python -m ketnoi.cli gateway`; None for anything else (`ketnoi stop`, a demo, an editor)."""
    words = list(argv)
    for i, word in enumerate(words[:-1]):
        launcher = Path(word).name == "ketnoi" or (
            word == "ketnoi.cli" and i > 0 and words[i - 1] == "-m"
        )
        if launcher:
            return words[i + 1] if words[i + 1] in SERVICES else None
    return None


def _pids(proc: Path) -> list[int]:
    try:
        return sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit())
    except OSError:
        return []


def find_services(settings: Settings, proc: Path = PROC) -> list[Service]:
    """The ketnoi services of this machine that use this Kafka or this store (the settings they
    were started with, read from their environment; the defaults when unset)."""
    defaults = Settings.model_fields
    found = []
    for pid in _pids(proc):
        if pid == os.getpid():
            continue
        argv = _argv(pid, proc)
        name = service_name(argv)
        if name is None:
            continue
        env = _environ(pid, proc)
        if env is None:  # another user's service: neither ours to judge nor to signal
            continue
        bootstrap = env.get("KETNOI_KAFKA_BOOTSTRAP", defaults["kafka_bootstrap"].default)
        mongo = env.get("KETNOI_MONGO_URL", defaults["mongo_url"].default)
        if bootstrap == settings.kafka_bootstrap or mongo == settings.mongo_url:
            found.append(Service(Process(pid, argv), name, bootstrap, mongo))
    return found


@dataclass(frozen=True)
class StopReport:
    stopped: list[tuple[Service, float]]
    still_running: list[Service]


def stop_services(services: list[Service], timeout: float = 15.0) -> StopReport:
    """SIGTERM each service, wait up to ``timeout`` for all to exit, report how long each took.
    Each one exits within 10 s by design (services/common/shutdown.py)."""
    started = time.monotonic()
    pending = []
    for service in services:
        if _argv(service.process.pid) != service.process.argv:  # exited, or the pid was reused
            continue
        try:
            os.kill(service.process.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
        pending.append(service)
    stopped: list[tuple[Service, float]] = []
    deadline = started + timeout
    while pending and time.monotonic() < deadline:
        for service in [s for s in pending if not alive(s.process.pid)]:
            stopped.append((service, time.monotonic() - started))
            pending.remove(service)
        if pending:
            time.sleep(0.05)
    return StopReport(stopped, pending)


# -- who holds a port ------------------------------------------------------------------------


def port_in_use(host: str, port: int) -> bool:
    """True when a listening socket already takes ``host:port`` (bind would fail)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == _LISTEN
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def _holders_from_proc(port: int, proc: Path) -> list[Process]:
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for pid in _pids(proc):
        try:
            fds = list((proc / str(pid) / "fd").iterdir())
        except OSError:  # another user's process: not ours to read
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    holders.append(Process(pid, _argv(pid, proc)))
                    break
            except OSError:
                continue
    return holders


def _holders_from_ss(port: int) -> list[Process]:
    ss = shutil.which("ss")
    if ss is None:
        return []
    try:
        out = subprocess.run([ss, "-Hltnp", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=5).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    pids = sorted({int(pid) for pid in re.findall(r"pid=(\d+)", out)})
    return [Process(pid, _argv(pid)) for pid in pids]


def port_holders(port: int, proc: Path = PROC) -> list[Process]:
    """The processes listening on ``port``: from /proc (ours to read), else from `ss -ltnp`."""
    return _holders_from_proc(port, proc) or _holders_from_ss(port)


def describe_port_holder(port: int) -> str:
    """``pid 123 (`ketnoi gateway`, a Ketnoi gateway)`` or a hint when it cannot be told."""
    holders = port_holders(port)
    if not holders:
        return "a process this user cannot see (`sudo ss -ltnp` names it)"
    parts = []
    for holder in holders:
        name = service_name(holder.argv)
        what = f", a Ketnoi {name} still running" if name else ""
        parts.append(f"pid {holder.pid} (`{_short(holder.command)}`{what})")
    return " and ".join(parts)


def busy_port_message(host: str, port: int) -> str:
    """One sentence and a hint for a taken port, naming who holds it."""
    holders = port_holders(port)
    ours = any(service_name(p.argv) for p in holders)
    hint = "stop it with `ketnoi stop`" if ours else "stop that process"
    return (f"port {port} on {host} is already in use by {describe_port_holder(port)}; {hint}, "
            "or choose another port with KETNOI_GATEWAY_PORT")  # fmt: skip


def _short(command: str, limit: int = 100) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."


# -- the commands ----------------------------------------------------------------------------


def _against(settings: Settings) -> str:
    return f"Kafka at {settings.kafka_bootstrap} or the store at {settings.mongo_url}"


def stop_command(
    settings: Settings, names: list[str], dry_run: bool = False, timeout: float = 15.0
) -> int:
    """`ketnoi stop`: SIGTERM the services running against this Kafka or store, wait, report.
    Exit 0 when none is left running, 1 otherwise, 2 for an unknown service name."""
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        print(f"error: no service called {', '.join(unknown)}; the services are "
              f"{', '.join(SERVICES)}", file=sys.stderr)  # fmt: skip
        return 2
    services = [s for s in find_services(settings) if not names or s.name in names]
    if not services:
        print(f"no ketnoi service runs against {_against(settings)}")
        return 0
    listing = ", ".join(str(s) for s in services)
    if dry_run:
        print(f"would stop {listing}")
        return 0
    print(f"stopping {listing} (SIGTERM; each exits within 10 s) ...", flush=True)
    report = stop_services(services, timeout)
    for service, seconds in report.stopped:
        print(f"stopped {service} in {seconds:.1f} s")
    for service in report.still_running:
        print(f"error: {service} still runs {timeout:.0f} s after SIGTERM; "
              f"`kill -KILL {service.process.pid}` ends it (work not committed is redelivered)",
              file=sys.stderr)  # fmt: skip
    return 1 if report.still_running else 0


def warn_before_infra_down(settings: Settings, stop: bool) -> None:
    """Before stopping Kafka and the store: name the services still using them, and stop them
    first when asked (`ketnoi infra down --stop-services`)."""
    services = find_services(settings)
    if not services:
        return
    listing = ", ".join(str(s) for s in services)
    if stop:
        stop_command(settings, [])
        return
    print(f"warning: {listing} still run against {_against(settings)}; they will log the "
          "outage every 5 s until stopped: `ketnoi stop` stops them (or `ketnoi infra down "
          "--stop-services`)", file=sys.stderr)  # fmt: skip
