"""The engine stays pure: importing it pulls in no broker, store or HTTP client."""

from __future__ import annotations

import subprocess
import sys

# reaches: services.matcher.engine (in a fresh interpreter; rerun on the engine's source)

FORBIDDEN = ("faust", "aiokafka", "kafka", "pymongo", "motor", "httpx")


def test_importing_the_engine_loads_no_infrastructure_client():
    code = (
        "import sys, services.matcher.engine\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_engine_loads_the_schemas_it_builds_on():
    code = "import sys, services.matcher.engine\nprint('schemas.events' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"  # so the check above ran on a real import
