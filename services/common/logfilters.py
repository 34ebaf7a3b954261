"""Kafka client errors that are expected while topics and groups are being set up, logged as
what they are.

Right after a worker or the gateway creates a topic (a Faust changelog, a fresh test prefix),
the broker needs a moment to elect its leader and coordinator. aiokafka logs that moment at
ERROR ("Failed fetch offsets ... NotLeaderForPartitionError") and retries by itself: an ERROR
line in every clean start-up teaches people to ignore errors. This filter lowers those known,
retried conditions to INFO and says so; everything else keeps its level.
"""

from __future__ import annotations

import logging

TRANSIENT = (
    "NotLeaderForPartitionError",
    "LeaderNotAvailableError",
    "UnknownTopicOrPartitionError",
    "GroupCoordinatorNotAvailableError",
    "NotCoordinatorForGroupError",
)
LOGGERS = ("aiokafka.consumer.fetcher", "aiokafka.consumer.group_coordinator")
NOTE = " (transient while a new topic or group gets its leader; aiokafka retries it)"


class TransientKafkaErrors(logging.Filter):
    """Lower an aiokafka ERROR naming a transient set-up condition to INFO, with a note."""

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.ERROR <= record.levelno < logging.CRITICAL:
            message = record.getMessage()
            if any(name in message for name in TRANSIENT):
                record.levelno, record.levelname = logging.INFO, "INFO"
                record.msg, record.args = message + NOTE, ()
        return True


_FILTER = TransientKafkaErrors()


def install() -> None:
    """Attach the filter to the aiokafka loggers that report these (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
