"""The Content-Security-Policy of a self-contained printable page (an agenda, a report): its
one ``<style>`` block, allowed by its hash, and nothing else at all. Saved to a file, such a
page prints the same offline; served, no script or outside resource can run in it."""

from __future__ import annotations

import base64
import hashlib
from functools import cache


@cache
def style_policy(style: str) -> str:
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
