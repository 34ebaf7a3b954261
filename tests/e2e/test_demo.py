"""``ketnoi demo`` starts its services, shows real matches, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from ketnoi.infra.processes import port_open
from ketnoi.runner import settings_env
from tests.conftest import free_port
from tests.support import eventually

pytestmark = pytest.mark.infra


def _start_demo(infra) -> tuple[subprocess.Popen, list[str], threading.Thread, int]:
    port = free_port()
    env = {**settings_env(infra.model_copy(update={"gateway_port": port})),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    demo = subprocess.Popen(
        [sys.executable, "-m", "ketnoi.cli", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # As a background job of a non-interactive shell would get it: SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True)
    reader.start()
    return demo, lines, reader, port


def _snapshot(url: str, key: str) -> dict | None:
    answer = httpx.get(f"{url}/snapshot", headers={"Authorization": f"Bearer {key}"})
    if answer.status_code != 200 or answer.json()["figures"]["proposals"] < 6:
        return None
    if answer.json()["figures"]["confirmed_kg"] <= 0:
        return None
    return answer.json()


def test_demo_shows_real_matches_and_ctrl_c_stops_everything(infra):
    demo, lines, reader, port = _start_demo(infra)
    demo_settings = infra.model_copy(update={"gateway_port": port})
    try:
        eventually(lambda: any("Press Ctrl-C" in line for line in lines), timeout=180,
                   what="the demo to show its results")  # fmt: skip
        assert port_open("127.0.0.1", demo_settings.gateway_port)
        monitor = re.search(r"Live monitor: +(\S+)\n +organizer key: +(\S+)", "".join(lines))
        assert monitor, "".join(lines)
        url, key = monitor.groups()
        # The demo's session, as its organizer's monitor shows it: the six proposals.
        snapshot = eventually(lambda: _snapshot(url, key), what="the monitor's snapshot")
        assert snapshot["session"]["name"].startswith("Hội nghị kết nối cung cầu")
        assert snapshot["figures"]["participants"] == {"buyer": 6, "supplier": 5}
        assert snapshot["figures"]["proposals"] == 6
        # Both parties accepted one proposal per demand: confirmed volume and value, not 0.
        assert snapshot["figures"]["confirmed_kg"] > 0 and snapshot["figures"]["value_vnd"] > 0
        session_id = url.rstrip("/").rsplit("/", 1)[1]
        report = httpx.get(f"http://127.0.0.1:{port}/v1/sessions/{session_id}/report",
                           headers={"Authorization": f"Bearer {key}"}).json()  # fmt: skip
        headline = {f["key"]: f["value"] for f in report["headline"]}
        assert headline["meetings_held"] == 1 and headline["contracts"] == 1, report
        # One figure, one definition: the report and the monitor give the same value.
        assert headline["confirmed_vnd"] == snapshot["figures"]["value_vnd"], report
        os.killpg(demo.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        # Ctrl-C is how a running demo ends: exit 0, so `make demo` adds no "Error 130".
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    reader.join(10)
    output = "".join(lines)
    count = re.search(r"== (\d+) proposal\(s\)", output)
    assert count and int(count.group(1)) == 6, output
    assert "Quảng Ngãi (formerly Kon Tum)" in output
    # 10 t of coffee needs two cooperatives (partial fills); organic coffee nobody has.
    assert "sieu-thi-hai-phong-2 wants 10,000 kg coffee: 10,000 kg proposed by 2 supplier" in output
    assert re.search(r"sieu-thi-hai-phong-3 wants 1,000 kg coffee: 0 kg .*certification", output)
    # Prices in the unit people write, with its diacritics (the event carries the code "ta").
    assert "VND/tạ" in output and "VND/ta," not in output
    assert re.search(r"== [1-9]\d* match\(es\) confirmed by both parties .*, [1-9]\d* meeting",
                     output), output  # fmt: skip
    assert "Traceback" not in output
    stopped = [line for line in lines if line.startswith("stopped ")]
    assert len(stopped) == 1, output
    assert stopped[0].startswith("stopped the gateway, matcher and recorder; Kafka and the store")
    assert not port_open("127.0.0.1", demo_settings.gateway_port)
    # The demo reused the test session's infrastructure, so it must have left it running.
    assert port_open(infra.kafka_host, infra.kafka_port)


def test_services_die_with_a_killed_demo(infra):
    """Even SIGKILL of the demo (no chance to clean up) leaves no service running."""
    demo, lines, _reader, port = _start_demo(infra)
    try:
        eventually(lambda: any("Press Ctrl-C" in line for line in lines), timeout=180,
                   what="the demo to show its results")  # fmt: skip
        assert port_open("127.0.0.1", port)
        os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(10)
        eventually(lambda: not port_open("127.0.0.1", port), timeout=30,
                   what="the orphaned gateway to stop")  # fmt: skip
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
