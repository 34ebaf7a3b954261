"""`ketnoi stop`, the warning of `ketnoi infra down`, and who holds a busy port (issue 13).

The commands run as subprocesses against a gateway of this test, started with Kafka and store
addresses nobody else uses: `ketnoi stop` picks services by the Kafka and store they use, so
the services of other test runs on this machine are never touched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ketnoi import running
from ketnoi.settings import Settings
from tests.conftest import free_port
from tests.support import eventually

# -- reading /proc ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/work/.venv/bin/python3.11", "/work/.venv/bin/ketnoi", "matcher"], "matcher"),
        (["ketnoi", "gateway"], "gateway"),
        (["/usr/bin/python3", "-m", "ketnoi.cli", "recorder"], "recorder"),
        (["ketnoi", "stop"], None),
        (["ketnoi", "demo"], None),
        (["python", "-m", "pytest", "tests/unit/test_cli.py::test_gateway"], None),
        ([], None),
    ],
)
def test_service_name_from_a_command_line(argv: list[str], name: str | None):
    assert running.service_name(argv) == name


def _fake_process(proc: Path, pid: int, argv: list[str], env: dict[str, str]) -> None:
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (proc / str(pid) / "environ").write_bytes(
        b"\0".join(f"{k}={v}".encode() for k, v in env.items()) + b"\0"
    )


def test_find_services_picks_those_using_this_kafka_or_store(tmp_path: Path):
    proc = tmp_path / "proc"
    mine = {"KETNOI_KAFKA_BOOTSTRAP": "127.0.0.1:19092", "KETNOI_MONGO_URL": "mongodb://x:1"}
    _fake_process(proc, 101, ["ketnoi", "gateway"], mine)
    _fake_process(proc, 102, ["python", "-m", "ketnoi.cli", "matcher"],
                  {"KETNOI_MONGO_URL": "mongodb://x:1"})  # fmt: skip
    _fake_process(proc, 103, ["ketnoi", "recorder"], {})  # the defaults: another stack
    _fake_process(proc, 104, ["ketnoi", "stop"], mine)  # not a service
    settings = Settings(kafka_bootstrap="127.0.0.1:19092", mongo_url="mongodb://x:1")
    found = running.find_services(settings, proc)
    assert [(s.process.pid, s.name) for s in found] == [(101, "gateway"), (102, "matcher")]
    # 102 uses the default Kafka (its variable unset) and our store: it counts for both
    default = Settings(kafka_bootstrap="127.0.0.1:9092", mongo_url="mongodb://127.0.0.1:27017")
    defaults = running.find_services(default, proc)
    assert [(s.process.pid, s.name) for s in defaults] == [(102, "matcher"), (103, "recorder")]


def test_port_holders_names_the_listening_process():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.listen()
        assert running.port_in_use("127.0.0.1", port)
        holders = running.port_holders(port)
        assert [h.pid for h in holders] == [os.getpid()]
        message = running.busy_port_message("127.0.0.1", port)
        assert message.startswith(
            f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()}"
        )
        assert "KETNOI_GATEWAY_PORT" in message
    assert not running.port_in_use("127.0.0.1", port)


def test_a_port_nobody_visible_holds_gets_a_hint(tmp_path: Path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text("  sl  local_address rem_address   st\n")
    assert running._holders_from_proc(8000, tmp_path) == []


# -- the commands, on a gateway of our own -----------------------------------------------------


@pytest.fixture
def own_stack(tmp_path: Path) -> dict[str, str]:
    """An environment whose Kafka and store addresses are this test's alone (nothing listens)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETNOI_")}
    return {
        **env,
        "KETNOI_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "KETNOI_MONGO_URL": f"mongodb://127.0.0.1:{free_port()}",
        "KETNOI_GATEWAY_PORT": str(free_port()),
        "KETNOI_HOME": str(tmp_path / "home"),
    }


@pytest.fixture
def gateway(own_stack: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen]:
    with open(tmp_path / "gateway.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ketnoi.cli", "gateway"], env=own_stack,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{own_stack['KETNOI_GATEWAY_PORT']}/healthz"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(up, timeout=60, what="the gateway to answer /healthz")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def ketnoi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ketnoi.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_infra_down_warns_demo_names_the_port_holder_and_stop_stops(own_stack, gateway):
    pid = gateway.pid
    listed = ketnoi(own_stack, "stop", "--dry-run")
    assert listed.returncode == 0 and listed.stdout.strip() == f"would stop gateway (pid {pid})"

    down = ketnoi(own_stack, "infra", "down")
    assert down.returncode == 0, down.stderr
    assert f"warning: gateway (pid {pid}) still run against Kafka at" in down.stderr
    assert "`ketnoi stop`" in down.stderr and gateway.poll() is None  # warned, not stopped

    demo = ketnoi(own_stack, "demo", "--once")
    port = own_stack["KETNOI_GATEWAY_PORT"]
    assert demo.returncode == 1
    assert (f"error: the demo cannot start its gateway: port {port} on 127.0.0.1 is already "
            f"in use by pid {pid} (`{sys.executable} -m ketnoi.cli gateway`, a Ketnoi gateway "
            "still running); stop it with `ketnoi stop`") in demo.stdout  # fmt: skip

    stopped = ketnoi(own_stack, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped gateway (pid {pid}) in " in stopped.stdout
    assert gateway.wait(1) == 0  # a requested stop is a clean exit
    again = ketnoi(own_stack, "stop")
    assert again.returncode == 0 and again.stdout.startswith("no ketnoi service runs against")


def test_infra_down_can_stop_the_services_first(own_stack, gateway):
    down = ketnoi(own_stack, "infra", "down", "--stop-services")
    assert down.returncode == 0, down.stderr
    assert f"stopped gateway (pid {gateway.pid}) in " in down.stdout
    assert gateway.wait(1) == 0
