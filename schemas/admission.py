"""Where an event may stand: the rule every consumer applies before acting on one.

A well-formed event can still be out of place: a matcher outcome written to ``orders`` (a
forged ``match.proposed``), an offer under another market's Kafka key, or a time far from when
the broker took it. The matcher, the recorder and the monitor apply this one rule, so they
never disagree on what an ``orders`` event is (one stored a forged match the other refused).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import ORDERS, Envelope

DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far an orders event's ``occurred_at`` may stand from its Kafka timestamp."""
CLOCKED_TOPICS = frozenset({ORDERS})
"""Topics whose ``occurred_at`` is a market's clock. Matcher outcomes carry their cause's time
and may be sent long after it (a backlog, a redelivery), so only these are held to the skew."""


class Misplaced(ValueError):
    """A valid event that does not belong where it arrived (dead-lettered, never applied)."""


def check_placement(
    event: Envelope,
    topic: str,
    key: bytes | None,
    recorded_at: datetime | None,
    max_skew: timedelta | None = DEFAULT_MAX_CLOCK_SKEW,
) -> None:
    """Raise ``Misplaced`` unless ``event`` belongs on the logical ``topic`` under ``key``.

    ``recorded_at`` is the record's Kafka timestamp (None when the record has none). It is part
    of the record, so a replay decides exactly as the first reading did. ``max_skew`` None
    turns the clock check off.
    """
    if topic != event.TOPIC:
        raise Misplaced(f"event type {event.type!r} belongs on {event.TOPIC!r}, not on {topic!r}")
    expected = event.kafka_key
    if key is None or key != expected.encode():
        shown = None if key is None else key[:80].decode("utf-8", "replace")
        raise Misplaced(f"Kafka key {shown!r} is not the event's key {expected!r}")
    if recorded_at is not None and max_skew is not None and topic in CLOCKED_TOPICS:
        skew = event.occurred_at - recorded_at
        if abs(skew) > max_skew:
            raise Misplaced(
                f"occurred_at {event.occurred_at.isoformat()} is {_span(skew)} "
                f"{'after' if skew > timedelta(0) else 'before'} the broker's timestamp "
                f"{recorded_at.isoformat()}; at most {_span(max_skew)} is allowed, so that no "
                "event moves a market's clock"
            )


def replay_timestamp_ms(event: Envelope) -> int:
    """The Kafka timestamp for a producer that writes recorded or simulated events with their
    own times (a scenario, a test stream): their ``occurred_at``, so that the clock check holds.
    The gateway stamps nothing and so gets the send time, next to its ``occurred_at`` of now."""
    return int(event.occurred_at.timestamp() * 1000)


def kafka_time(timestamp_ms: float | int | None) -> datetime | None:
    """A Kafka record timestamp (milliseconds; -1 or None when absent) as a UTC time."""
    if timestamp_ms is None or timestamp_ms < 0:
        return None
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _span(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
