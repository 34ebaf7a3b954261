"""``ketnoi connect webhook``: for sources that can only push, an endpoint that takes signed
deliveries of items and syncs them like a feed's page.

A delivery is ``POST /`` with a JSON body (``{"items": [...]}`` or a list) and three headers:

- ``X-Ketnoi-Delivery``: the sender's unique id for this delivery;
- ``X-Ketnoi-Timestamp``: when it was signed, in Unix seconds;
- ``X-Ketnoi-Signature``: ``sha256=`` + hex HMAC-SHA256 over ``timestamp.delivery.body`` with
  the shared secret (the scheme of Stripe's and GitHub's webhooks).

Replay protection: a timestamp more than ``TOLERANCE_S`` from now is refused (401), and a
delivery id seen before is answered 200 "duplicate" without being applied again (ids are kept
in the source's ledger for longer than the tolerance, so a captured request cannot be replayed
either way). A wrong signature is 401; a body over ``MAX_BODY_BYTES`` 413.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rich.console import Console

from connectors.feeds.source import as_sheet
from connectors.gateway_client import GatewayClient
from connectors.ledger import Ledger, ledger_path
from connectors.spreadsheet.importer import Importer, Options

TOLERANCE_S = 300
MAX_BODY_BYTES = 5 * 1024 * 1024
SEEN_KEEP_S = 3 * TOLERANCE_S
MAX_DELIVERY_ID = 200
"""A delivery id is kept in the ledger: bounded, like every field a sender controls."""


def signature(secret: str, timestamp: str, delivery: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + delivery.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> str | None:
    """None if the delivery is authentic and fresh, else why not (one sentence)."""
    delivery = headers.get("x-ketnoi-delivery", "")
    stamp = headers.get("x-ketnoi-timestamp", "")
    given = headers.get("x-ketnoi-signature", "")
    if not delivery or not stamp.isdigit() or not given:
        return "X-Ketnoi-Delivery, X-Ketnoi-Timestamp and X-Ketnoi-Signature are required"
    if len(delivery) > MAX_DELIVERY_ID or not re.fullmatch(r"[\x21-\x7e]+", delivery):
        return f"X-Ketnoi-Delivery must be 1 to {MAX_DELIVERY_ID} visible ASCII characters"
    if len(stamp) > 12:
        return "X-Ketnoi-Timestamp must be Unix seconds"
    if abs(now - int(stamp)) > TOLERANCE_S:
        return f"the timestamp is more than {TOLERANCE_S} s from now: sign each delivery anew"
    if not hmac.compare_digest(signature(secret, stamp, delivery, body), given):
        return "the signature does not match the body and the shared secret"
    return None


def create_app(options: Options, client: GatewayClient, secret: str) -> FastAPI:
    if len(secret) < 16:
        raise ValueError("the shared secret must have at least 16 characters")
    app = FastAPI(title="Ketnoi webhook connector", docs_url=None, redoc_url=None)
    source = options.source or "webhook"
    path = ledger_path(options.home, client.base_url, client.api_key, options.kind, source)
    lock = asyncio.Lock()  # one delivery at a time: the ledger has one writer
    console = Console(stderr=True)

    @app.post("/")
    async def deliver(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _problem(413, f"the body is over {MAX_BODY_BYTES:,} bytes: deliver fewer items")
        headers = {k.lower(): v for k, v in request.headers.items()}
        why = verify(secret, headers, body, time.time())
        if why is not None:
            return _problem(401, why)
        delivery = headers["x-ketnoi-delivery"]
        try:
            data = json.loads(body)
        except ValueError:
            return _problem(400, "the body is not JSON")
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _problem(422, 'the body must be {"items": [objects]} or a list of objects')
        async with lock:
            with Ledger(path) as ledger:
                if _seen(ledger, delivery):
                    return JSONResponse({"status": "duplicate", "delivery": delivery})
            if items:
                run = replace(options, table=as_sheet(source, items), path=Path(f"{source}.hook"),
                              source=source, withdraw_missing=False, result_file=False,
                              show_progress=False)  # fmt: skip
                summary = await Importer(run, client, console).run()
                if summary.error:
                    return _problem(503, f"the platform's gateway failed: {summary.error}")
            else:
                summary = None
            with Ledger(path) as ledger:
                _remember(ledger, delivery)
        counts = {n: getattr(summary, n, 0) for n in ("published", "updated", "unchanged",
                                                        "refused")}  # fmt: skip
        problems = [
            {"index": number - 2, "problem": text}
            for number, text in sorted((summary.problems if summary else {}).items())
        ]
        return JSONResponse({"status": "applied", "delivery": delivery, **counts,
                             "problems": problems})  # fmt: skip

    return app


def _seen(ledger: Ledger, delivery: str) -> bool:
    return ledger.get_meta(f"delivery.{delivery}") is not None


def _remember(ledger: Ledger, delivery: str) -> None:
    ledger.set_meta(f"delivery.{delivery}", str(int(time.time())))
    ledger.forget_meta_before("delivery.", time.time() - SEEN_KEEP_S)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"status": status, "detail": detail}, status_code=status,
                        media_type="application/problem+json")  # fmt: skip


def sign_headers(secret: str, delivery: str, body: bytes, now: float | None = None
                 ) -> dict[str, Any]:  # fmt: skip
    """The headers a sender adds (used by the tests and documented for source systems)."""
    stamp = str(int(time.time() if now is None else now))
    return {"X-Ketnoi-Delivery": delivery, "X-Ketnoi-Timestamp": stamp,
            "X-Ketnoi-Signature": signature(secret, stamp, delivery, body),
            "Content-Type": "application/json"}  # fmt: skip
