"""Per-key rate limits: a token bucket per API key, in the gateway's memory.

A province pushing its catalogue must not starve a supermarket posting one demand, and a
runaway retry loop must hit a wall with a clear answer (429 + Retry-After), not the broker.
Each gateway process limits on its own: with N replicas the sustained limit is N times this.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, rate_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_second
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before a token is back."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (1 - bucket.tokens) / self.rate
