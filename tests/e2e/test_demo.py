"""``ketnoi demo`` starts its services, shows real matches, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from ketnoi.infra.processes import port_open
from ketnoi.runner import settings_env
from tests.conftest import free_port
from tests.support import eventually

pytestmark = pytest.mark.infra


def test_demo_shows_real_matches_and_ctrl_c_stops_everything(infra):
    demo_settings = infra.model_copy(update={"gateway_port": free_port()})
    env = {**settings_env(demo_settings), "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "ketnoi.cli", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True)
    reader.start()
    try:
        eventually(lambda: any("Press Ctrl-C" in line for line in lines), timeout=180,
                   what="the demo to show its results")  # fmt: skip
        assert port_open("127.0.0.1", demo_settings.gateway_port)
        os.killpg(demo.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        assert demo.wait(60) == 130
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
    assert "stopping services" in output
    assert not port_open("127.0.0.1", demo_settings.gateway_port)
    # The demo reused the test session's infrastructure, so it must have left it running.
    assert port_open(infra.kafka_host, infra.kafka_port)
