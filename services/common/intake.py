"""Read one Kafka event: parse and validate it, or dead-letter it with the reason."""

from __future__ import annotations

import logging
from collections.abc import Callable

from faust.types import EventT, TopicT
from pydantic import ValidationError

from schemas.events import AnyEvent, parse_event
from schemas.problems import describe
from services.common.dead_letter import dead_letter_record

Check = Callable[[AnyEvent, EventT], None]
"""Raises ValueError when a well-formed event does not belong where it arrived."""


async def parse_or_dead_letter(
    event: EventT,
    dead_letter: TopicT,
    service: str,
    log: logging.Logger,
    check: Check | None = None,
) -> AnyEvent | None:
    """The validated event, or None after the raw bytes and the reason reached the DLQ."""
    message = event.message
    try:
        parsed = parse_event(event.value)
        if check is not None:
            check(parsed, event)
        return parsed
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        reason = describe(exc)
    log.warning(
        "dead-lettering %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason
    )
    record = dead_letter_record(
        service=service,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=event.key,
        raw=event.value,
        reason=reason,
    )
    # Faust flushes the producer before it commits offsets, so the DLQ has the record first.
    await dead_letter.send(key=event.key, value=record)
    return None
