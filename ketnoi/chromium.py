"""Debian's Chromium, as the browser tests and the monitor's load script start it."""

from __future__ import annotations

import shutil

FLAGS = [
    # As root in a sandboxed machine whose network is closed beyond localhost: no sandbox, no
    # GPU, and none of the background connections that a closed network refuses.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def executable() -> str:
    """The system Chromium (Playwright downloads no browser here)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError(
            "Chromium is missing; `make browser` installs it (apt-get install chromium)"
        )
    return found
