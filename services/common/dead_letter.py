"""Dead-letter records: a bad event is kept with the reason and its raw bytes, never dropped."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime


def dead_letter_record(
    *,
    service: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | None,
    reason: str,
) -> bytes:
    record = {
        "service": service,
        "reason": reason,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "raw_base64": base64.b64encode(raw or b"").decode("ascii"),
        "failed_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")
