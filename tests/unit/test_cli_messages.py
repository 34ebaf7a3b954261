"""Every rough edge a new user met answers with one sentence and a hint, never a traceback.

Each case runs the real command as a subprocess, against ports where nothing listens (bound
once, then released), so nothing here needs or touches the shared broker and store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ketnoi.settings import PROJECT_ROOT
from tests.conftest import free_port


@pytest.fixture
def nothing_runs(tmp_path) -> dict[str, str]:
    """An environment whose Kafka, store and gateway ports are all closed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KETNOI_")}
    return {
        **env,
        "KETNOI_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "KETNOI_MONGO_URL": f"mongodb://127.0.0.1:{free_port()}",
        "KETNOI_GATEWAY_PORT": str(free_port()),
        "KETNOI_HOME": str(tmp_path / "home"),
    }


def ketnoi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", *args],
        env=env, capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
    )  # fmt: skip


def one_clear_line(text: str) -> str:
    """The single line of ``text``, checked to be an error with a hint and no traceback."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("error: "), text
    assert "Traceback" not in text and "Unclosed" not in text
    return lines[0]


def test_keys_create_with_the_store_down(nothing_runs):
    result = ketnoi(nothing_runs, "keys", "create", "--org", "ketnoi-admin", "--role", "admin")
    assert result.returncode == 1 and result.stdout == ""
    line = one_clear_line(result.stderr)
    assert line.startswith(f"error: cannot reach the store at {nothing_runs['KETNOI_MONGO_URL']}")
    assert "make infra-up" in line


def test_infra_status_with_everything_down_shows_no_versions(nothing_runs):
    result = ketnoi(nothing_runs, "infra", "status")
    assert result.returncode == 1
    assert result.stderr == ""  # no raw client log line beside the answer
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["kafka", "DOWN"], ["store", "DOWN"]]
    assert f"no broker answers at {nothing_runs['KETNOI_KAFKA_BOOTSTRAP']}" in lines[0]
    assert "versions" not in result.stdout and "3.9.1" not in result.stdout
    assert lines[2] == (
        "hint: Kafka and the store (FerretDB) are not running; start them with `make infra-up` "
        "(or `.venv/bin/ketnoi infra up`)"
    )
    assert len(lines) == 3


def test_infra_prune_with_kafka_down(nothing_runs):
    result = ketnoi(nothing_runs, "infra", "prune", "--dry-run")
    assert result.returncode == 1 and result.stdout == ""
    line = one_clear_line(result.stderr)
    assert line.startswith(f"error: cannot reach Kafka at {nothing_runs['KETNOI_KAFKA_BOOTSTRAP']}")


def test_a_second_gateway_on_a_busy_port(nothing_runs):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # Warnings shown: an unclosed Kafka producer would say so.
        env = {**nothing_runs, "KETNOI_GATEWAY_PORT": str(port), "PYTHONWARNINGS": "always"}
        result = ketnoi(env, "gateway")
    assert result.returncode == 1 and result.stdout == ""
    line = one_clear_line(result.stderr)
    assert line.startswith(f"error: port {port} on 127.0.0.1 is already in use")
    assert "KETNOI_GATEWAY_PORT" in line


class _Refuses(BaseHTTPRequestHandler):
    """A gateway that knows no key: 401 to everything, counting the requests."""

    requests = 0

    def do_POST(self) -> None:  # the http.server naming convention
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"title": "Unauthorized", "detail": "unknown API key"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_gateway() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Refuses)
    _Refuses.requests = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_simulate_stops_at_the_first_refused_key(nothing_runs, refusing_gateway):
    result = ketnoi(nothing_runs, "simulate", "--to", "gateway", "--count", "200", "--rate", "50",
                    "--api-key", "wrong", "--gateway-url", refusing_gateway)  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    line = one_clear_line(result.stderr)
    assert "answered 401 to POST /v1/" in line and "--role admin" in line
    assert _Refuses.requests == 1  # not 10 s of requests that all get 401


def test_simulate_to_the_gateway_without_a_key(nothing_runs):
    result = ketnoi(nothing_runs, "simulate", "--to", "gateway", "--count", "3")
    assert result.returncode == 2
    line = one_clear_line(result.stderr)
    assert "ketnoi keys create --org ketnoi-admin --role admin" in line
