"""Read one Kafka event: parse it and check where it stands, or dead-letter it with the reason.

The matcher and the recorder take events through the same ``Intake``, so they agree on what a
valid event is (``schemas.admission``): one of them storing what the other refused is how a
forged match once became visible and acceptable.
"""

from __future__ import annotations

import logging

from faust.types import EventT, TopicT

from ketnoi.settings import Settings
from schemas.admission import Misplaced, check_placement, kafka_time
from schemas.events import AnyEvent, parse_event
from schemas.problems import describe
from services.common.dead_letter import Stage, dead_letter_key, dead_letter_record
from services.common.topics import max_skew


class Intake:
    """Parse and place events for one service; what fails goes to the dead-letter topic."""

    def __init__(
        self, service: str, settings: Settings, dead_letter: TopicT, log: logging.Logger
    ) -> None:
        self.topics = settings.topics
        self.max_skew = max_skew(settings)
        self.service, self.dead_letter, self.log = service, dead_letter, log

    async def admit(self, event: EventT) -> AnyEvent | None:
        """The validated event, or None once its record is on its way to the DLQ."""
        message = event.message
        try:
            parsed = parse_event(event.value)
        except Exception as exc:  # any way the bytes fail to parse is the event's own fault
            await self.reject(event, "parse", describe(exc), exc)
            return None
        timestamp = message.timestamp
        recorded_at = kafka_time(None if timestamp is None else timestamp * 1000)
        try:
            check_placement(parsed, self.topics.logical(message.topic), event.key,
                            recorded_at, self.max_skew)  # fmt: skip
        except Misplaced as exc:
            await self.reject(event, "placement", str(exc), exc)
            return None
        return parsed

    async def reject(
        self, event: EventT, stage: Stage, reason: str, error: BaseException | None = None
    ) -> None:
        """Send the event's dead-letter record. Faust flushes the producer before it commits
        offsets, so the DLQ has the record before the event counts as processed."""
        message = event.message
        self.log.warning("dead-lettering %s[%s]@%s (%s): %s", message.topic, message.partition,
                         message.offset, stage, reason[:500])  # fmt: skip
        record = dead_letter_record(
            service=self.service, stage=stage, topic=message.topic,
            partition=message.partition, offset=message.offset, key=event.key,
            raw=event.value, reason=reason, error=error,
        )  # fmt: skip
        await self.dead_letter.send(key=dead_letter_key(event.key), value=record)
