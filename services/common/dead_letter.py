"""Dead-letter records: a bad event is kept with the reason and its raw bytes, never dropped.

A record must itself fit in one Kafka message: a 900 KB invalid event once made a 1.2 MB
record that the worker could not send, and it stopped on that event again after every restart.
So the raw bytes are kept whole up to ``MAX_RAW_BYTES`` and cut beyond, with the size and the
SHA-256 of the whole, and every text field is cut to a bound.
"""

from __future__ import annotations

import base64
import hashlib
import json
import traceback
from datetime import UTC, datetime
from typing import Literal

from schemas.events import derived_id

Stage = Literal["parse", "placement", "engine", "store"]
"""Where the event failed: it does not parse, is out of place, the engine or the store refused
it. Every stage is decided by the event alone, so a replay dead-letters the same events."""

MAX_RAW_BYTES = 256 * 1024
"""Raw bytes kept in a record (base64 makes them a third larger); the rest is cut."""
MAX_TEXT = 4000
"""Characters kept of the reason and of other free text."""
MAX_KEY_BYTES = 256


def dead_letter_record(
    *,
    service: str,
    stage: Stage,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | None,
    reason: str,
    error: BaseException | None = None,
) -> bytes:
    """The record's JSON; ``dead_letter_id`` is the same for the same event and service, so a
    reader can drop the copy a replay sends again."""
    raw = raw or b""
    kept = raw[:MAX_RAW_BYTES]
    record = {
        "dead_letter_id": derived_id("dead-letter", service, topic, str(partition), str(offset)),
        "service": service,
        "stage": stage,
        "reason": _cut(reason),
        "error_type": type(error).__name__ if error is not None else None,
        "where": last_frame(error),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key[:MAX_KEY_BYTES].decode("utf-8", "replace") if key is not None else None,
        "raw_size": len(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
        "raw_truncated": len(kept) < len(raw),
        "raw_base64": base64.b64encode(kept).decode("ascii"),
        "failed_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The record's Kafka key: the event's, cut so that an oversized key cannot oversize it."""
    return None if key is None else key[:MAX_KEY_BYTES]


def last_frame(error: BaseException | None) -> str | None:
    """``file:line in function`` of the deepest frame, where the error was raised."""
    if error is None or error.__traceback__ is None:
        return None
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return _cut(f"{frame.filename}:{frame.lineno} in {frame.name}", 300)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
