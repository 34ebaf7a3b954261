"""Pacing at a fixed rate against an absolute schedule, so delays never add up to drift.

Event ``i`` is due at ``t0 + i / rate``. Waiting for each event's own due time (rather than
sleeping ``1 / rate`` after each send) absorbs slow sends and late wake-ups: a late event makes
the next waits shorter, and the average rate stays exact over a long run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def due_at(t0: float, index: int, rate: float) -> float:
    """When event ``index`` (0-based) is due; ``rate`` 0 means no pacing (always ``t0``)."""
    if rate < 0:
        raise ValueError(f"rate must not be negative, got {rate}")
    return t0 if rate == 0 else t0 + index / rate


def delay_for(now: float, t0: float, index: int, rate: float) -> float:
    """Seconds to wait before sending event ``index``; 0 when it is already due or late."""
    return max(0.0, due_at(t0, index, rate) - now)


class Pacer:
    """Waits until each event is due; the clock and the sleep are injectable for tests."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        due_at(0.0, 0, rate)  # validates the rate
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None

    async def wait(self, index: int) -> None:
        if self.rate == 0:
            return
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        delay = delay_for(now, self._t0, index, self.rate)
        if delay > 0:
            await self._sleep(delay)
