"""``ketnoi demo --once`` starts its services, shows real matches, and leaves nothing running."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from ketnoi.runner import settings_env
from tests.conftest import free_port

pytestmark = pytest.mark.infra


def test_demo_shows_real_matches_and_stops_cleanly(infra):
    demo_settings = infra.model_copy(update={"gateway_port": free_port()})
    result = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "demo", "--once"],
        env=settings_env(demo_settings),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    count = re.search(r"== (\d+) match\(es\)", result.stdout)
    assert count and int(count.group(1)) >= 3, result.stdout
    assert "Quảng Ngãi (formerly Kon Tum)" in result.stdout
    assert "no offer has enough quantity" in result.stdout
    # No demo service survives: nothing listens on its gateway port any more.
    from ketnoi.infra.processes import port_open

    assert not port_open("127.0.0.1", demo_settings.gateway_port)
