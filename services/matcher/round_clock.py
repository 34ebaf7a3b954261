"""When the matcher's ticker closes a market's clearing round.

Rounds close at the multiples of ``KETNOI_ROUND_SECONDS`` since the UTC epoch: a tick marks
``closes_round`` when a boundary has passed since the market's previous round tick, so every
market of every worker closes its rounds at the same wall-clock times whatever the tick phase.
The ticker runs every ``KETNOI_MATCH_TICK_SECONDS``, so rounds come in effect every
max(round seconds, tick seconds). The first tick of a market after the worker starts (or takes
the market over) closes one: harmless, a round clears only what is open and waiting. The tick
is an event in the log, so a replay clears exactly when the first run did; this clock only
decides what the next tick says.
"""

from __future__ import annotations

import math
from datetime import datetime


class RoundClock:
    """The last round period of each market this worker ticked (in memory)."""

    def __init__(self, round_seconds: float) -> None:
        if not round_seconds > 0 or not math.isfinite(round_seconds):
            raise ValueError(f"round_seconds must be a positive number, not {round_seconds}")
        self.round_seconds = round_seconds
        self._last: dict[str, int] = {}

    def closes_round(self, market: str, now: datetime) -> bool:
        """Whether ``market``'s tick at ``now`` closes a round (and, if so, remember it)."""
        period = math.floor(now.timestamp() / self.round_seconds)
        previous = self._last.get(market)
        if previous is not None and period <= previous:
            return False
        self._last[market] = period
        return True
