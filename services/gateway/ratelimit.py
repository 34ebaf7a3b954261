"""Limits kept in the gateway's memory: per-key rate, per-address auth failures, in-flight work.

A province pushing its catalogue must not starve a supermarket posting one demand, and a
runaway retry loop must hit a wall with a clear answer (429 + Retry-After), not the broker.
Each gateway process limits on its own: with N replicas the sustained limit is N times this.

- ``RateLimiter``: a token bucket per key (API keys; client addresses for auth failures), with
  a bounded number of buckets so that a flood of new names cannot grow memory.
- ``InFlight``: how much work the gateway holds at once. Past the limit a request is refused at
  once (503), because queued requests only make every answer late (measured: 200 keys each
  within its rate limit kept ~200 requests queued, answers took seconds). A slice of the limit
  is kept for *light* clients, those asking for no more than their fair share, so a
  well-behaved key is still served while heavy ones fill the rest (decision 11); and heavy
  clients together hold at most a slice of the limit, so that light requests do not wait for
  the CPU behind theirs (decision 13).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 100_000
"""Buckets kept per limiter; past it the full (idle) ones go, then the oldest."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per name: ``burst`` at once, ``rate_per_second`` sustained."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rate = rate_per_second
        self.burst = max(1, burst)
        self._clock = clock
        self._max_buckets = max(1, max_buckets)
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """0 if the request may go ahead (a token is taken), else the seconds to wait before a
        token is back (nothing taken)."""
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return self._wait(bucket)

    def spent(self, key: str) -> float:
        """Tokens missing from the bucket now (0 for a name never seen or fully refilled)."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else self.burst - self._refilled(key).tokens

    def give(self, key: str) -> None:
        """Return a token ``take`` took (up to ``burst``): the request turned out to be fine."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1)

    def wait(self, key: str) -> float:
        """Like ``take`` without taking: 0 while a token is left, else the seconds until one is
        back. Asking about a name never seen stores nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1 else self._wait(bucket)

    def __len__(self) -> int:
        return len(self._buckets)

    def _wait(self, bucket: _Bucket) -> float:
        if self.rate <= 0:
            return math.inf
        return (1 - bucket.tokens) / self.rate

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _evict(self, now: float) -> None:
        """Drop the buckets that refilled (forgetting them changes nothing), else the oldest
        half: a flood of new names costs memory for at most ``max_buckets`` of them."""
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_buckets:
            for key in list(self._buckets)[: len(self._buckets) // 2 + 1]:
                del self._buckets[key]


RATE_WINDOW_S = 2.0
"""Time constant of each client's rate (units/s, an exponentially weighted average): long
enough that a client sending one request a second reads as about 1/s (0.8 to 1.3), short
enough that a new flood is seen as heavy within a second or two."""
YOUNG_S = 0.5
"""A client first seen less than this ago is rated as if seen this long (see ``_estimate``)."""
SHARE_EVERY_S = 0.25
"""How often the fair share is recomputed (a pass over the active clients)."""
HEAVY_DUTY = 1 / 3
"""While contended and light clients are being served, heavy clients' requests hold the
gateway at most this share of the time: after a stretch of heavy work the slice stays closed
twice as long. The overload bench (the quiet keys' p99 under 10x load over their unloaded
p99): 1.9-2.6 with the slice busy back to back, 1.4-2.3 at a half, 1.2-1.8 at a third (one
run of 15: 2.26)."""
HEAVY_STRETCH_S = 0.1
"""A stretch of heavy work admits no new heavy request after this long, and its pause counts
at most this long: a request waiting seconds for Kafka is not seconds of CPU, and a pause of
seconds would let the completed rate, and with it the fair share, sink below the quiet keys'."""
LIGHT_RECENT_S = 1.0
"""Heavy work pauses only if a light client was admitted under contention this recently: with
heavy clients alone, a pause would leave the gateway idle for nobody."""
MAX_CLIENTS = 10_000
"""Clients whose rates are tracked; past it the quietest are forgotten."""
IDLE_RATE = 0.05
"""A client below this rate (one request in 20 s) is no longer counted as active."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """What ``enter`` admitted: ``leave`` gives back exactly this. A client's requests may be
    capped or not (it turns heavy, the gateway fills), so whether *this* one holds heavy units
    is the request's, not the client's."""

    units: int
    heavy: bool


@dataclass
class _Client:
    rate: float  # units offered (served or not) per second, weighted average
    at: float  # when ``rate`` was last brought up to date
    since: float  # when first seen (since it was last forgotten)
    held: int = 0  # units of the limit it holds now
    held_heavy: int = 0  # of which admitted while it was heavy


class InFlight:
    """The gateway's in-flight limit, in *units*: a request holds one, a large body more (its
    validation costs CPU in proportion to its size).

    ``enter`` admits or refuses at once (nothing queues); ``leave`` gives the units back.
    Until the total reaches ``limit - reserve`` anyone is admitted; the last ``reserve`` units
    go only to *light* clients. A client's rate counts the units of every request it offers,
    refused ones included (work, not requests: a catalogue push weighs more than one offer),
    averaged over ``RATE_WINDOW_S``; it is light when that rate is within its max-min fair share
    of what the gateway completes, or when it is among the quietest clients, whose rates
    together fit in half of that (``light_threshold``). A key flooding within its own per-key
    rate limit is then refused (503) while one sending a request now and then is not. A client
    is its API key once that key is known valid, else its address (``middleware.Admission``).

    With ``heavy`` set, the requests of clients that are not light hold at most that many units
    together while the gateway is contended (one such request is admitted whatever its size
    when none is held), and, while light clients are being served, at most ``HEAVY_DUTY`` of
    the time (a stretch of heavy work is followed by a pause). The remainder of the
    shared part then stays free for light clients, and the CPU that heavy work would take
    stays with them too.
    """

    def __init__(
        self,
        limit: int,
        reserve: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = RATE_WINDOW_S,
        max_clients: int = MAX_CLIENTS,
        heavy: int | None = None,
    ) -> None:
        self.limit = max(1, limit)
        self.reserve = min(self.limit - 1, max(0, self.limit // 4 if reserve is None else reserve))
        self.heavy = None if heavy is None else max(1, heavy)
        self.held = 0
        self.held_heavy = 0
        self._full_at = -math.inf  # when a request last reached into the reserve
        self._clock = clock
        self._window_s = window_s
        self._max_clients = max(1, max_clients)
        self._clients: dict[str, _Client] = {}
        self._done_rate = 0.0  # units answered per second, weighted average
        self._done_at = clock()
        self._share = math.inf  # the rate up to which a client is light
        self._share_at = -math.inf
        self._joined = 0  # clients first seen since the threshold was computed
        self._heavy_since = 0.0  # when the heavy slice last went from empty to held
        self._heavy_paused_until = -math.inf
        self._light_at = -math.inf  # when a light client was last admitted while contended
        self._started = clock()

    @property
    def share(self) -> float:
        """The rate (units/s) up to which a client is light; infinite when not contended."""
        return self._share

    def enter(self, client: str, units: int = 1) -> Admitted | None:
        """Admit one request of ``client`` holding ``units``, or refuse it (None)."""
        now = self._clock()
        units = self._units(units)
        if now - self._share_at >= SHARE_EVERY_S:
            self._recompute(now)  # first: it forgets idle clients, so not the one entering now
        new = client not in self._clients
        entry = self._client(client, now)
        entry.rate = self._decayed(entry.rate, now - entry.at)
        entry.at = now
        if new:  # no history: judged by this request, so a flood of new keys is not light
            entry.rate = units / self._window_s
            judged = self._estimate(entry, now)
        else:  # judged by its history, before this request
            judged = self._estimate(entry, now)
            entry.rate += units / self._window_s
        light = judged <= self._share
        if self.held + units > self.limit - self.reserve:
            self._full_at = now
            if self.held + units > self.limit:
                return None
            has_history = now - self._started >= self._window_s
            if light and self._share == math.inf and self._joined and has_history:
                # The threshold said "uncontended", but clients joined since it was computed:
                # if a flood began, its first requests would take the reserve (the quiet
                # keys' 503s under overload came from that moment). A recomputation is a
                # pass over the active clients, so only new clients trigger it.
                self._recompute(now)
                light = judged <= self._share
            if not light:
                return None
        # The slice binds only while the gateway has been full lately: on an idle gateway a
        # burst from one client (a connector's bulk requests, concurrent retries) reads as
        # contention too, since little completed lately, and must not be refused.
        full_lately = now - self._full_at < self._window_s
        capped = not light and self.heavy is not None and full_lately
        if capped and self.held_heavy > 0 and self.held_heavy + units > self.heavy:
            return None
        quiet_waiting = now - self._light_at < LIGHT_RECENT_S
        if capped and quiet_waiting:
            if self.held_heavy == 0 and now < self._heavy_paused_until:
                return None  # heavy work pauses: the time it held the gateway, given to others
            if self.held_heavy > 0 and now - self._heavy_since >= HEAVY_STRETCH_S:
                return None  # a stretch ends: requests overlapping would never let it pause
        if light and self._share < math.inf:
            self._light_at = now
        self.held += units
        entry.held += units
        if capped:
            if self.held_heavy == 0:
                self._heavy_since = now
            self.held_heavy += units
            entry.held_heavy += units
        return Admitted(units, capped)

    def leave(self, client: str, admitted: Admitted | int = 1) -> None:
        """The request ``enter`` admitted is answered: its units are free again. Given only a
        number of units, its heavy units are taken to be the client's (right for a client
        with one request at a time; the middleware passes what ``enter`` returned)."""
        if isinstance(admitted, Admitted):
            units, heavy_request = admitted.units, admitted.heavy
        else:
            units, heavy_request = self._units(admitted), True
        now = self._clock()
        self.held = max(0, self.held - units)
        entry = self._clients.get(client)
        if entry is not None:
            entry.held = max(0, entry.held - units)
            heavy = min(units, entry.held_heavy) if heavy_request else 0
            entry.held_heavy -= heavy
            self.held_heavy = max(0, self.held_heavy - heavy)
            if heavy and self.held_heavy == 0:  # a stretch of heavy work ends: it pauses
                busy = min(now - self._heavy_since, HEAVY_STRETCH_S)  # waiting is not work
                self._heavy_paused_until = now + busy * (1 - HEAVY_DUTY) / HEAVY_DUTY
        done = self._decayed(self._done_rate, now - self._done_at)
        self._done_rate = done + units / self._window_s
        self._done_at = now

    def _units(self, units: int) -> int:
        """At most half the shared part: a large request is still admitted while others are
        served (it would wait for an empty gateway otherwise)."""
        return max(1, min(units, (self.limit - self.reserve) // 2))

    def _client(self, client: str, now: float) -> _Client:
        entry = self._clients.get(client)
        if entry is None:
            if len(self._clients) >= self._max_clients:
                self._recompute(now)  # forgets idle clients
                if len(self._clients) >= self._max_clients:
                    quiet = sorted(self._clients, key=lambda c: self._clients[c].rate)
                    for name in quiet[: len(quiet) // 2]:
                        if self._clients[name].held == 0:
                            del self._clients[name]
            entry = self._clients[client] = _Client(0.0, now, now)
            self._joined += 1
        return entry

    def _decayed(self, rate: float, elapsed: float) -> float:
        return rate * math.exp(-max(0.0, elapsed) / self._window_s)

    def _estimate(self, entry: _Client, now: float) -> float:
        """The client's rate, corrected for a short history: an average started from zero
        reads low for its first seconds, so 200 keys starting a flood together would look
        quieter than a key that has sent one request a second all along. Dividing by the part
        of the window seen (at least ``YOUNG_S``) removes that bias."""
        seen = 1 - math.exp(-max(YOUNG_S, now - entry.since) / self._window_s)
        return entry.rate / seen

    def _recompute(self, now: float) -> None:
        """Bring every rate up to date, forget idle clients, and set the light threshold."""
        self._share_at = now
        self._joined = 0
        rates = []
        for name, entry in list(self._clients.items()):
            entry.rate = self._decayed(entry.rate, now - entry.at)
            entry.at = now
            if entry.rate < IDLE_RATE and entry.held == 0:
                del self._clients[name]
            else:
                rates.append(self._estimate(entry, now))
        capacity = self._decayed(self._done_rate, now - self._done_at)
        self._share = light_threshold(rates, capacity)


QUIET_SHARE = 0.5
"""The quietest clients are light as long as their rates add up to this share of capacity."""
LIGHT_SLACK = 1.5
"""Quiet clients are light up to this much above the busiest of them: their requests do not
come like clockwork, and two close together must not make one heavy. It is below
``QUIET_GAP``, so the clients that ended the quiet group stay out."""
QUIET_GAP = 2.0
"""... and up to the first client asking for more than twice the group's median: rates are
noisy averages, so without it the quietest of the heavy clients would pass for light now and
then (and, one a little above the other, take the threshold up with them)."""


def light_threshold(demands: list[float], capacity: float) -> float:
    """The rate up to which a client is light: the larger of its max-min fair share (the water
    level) and ``LIGHT_SLACK`` times the rate of the busiest of the quietest clients whose
    demands, lowest first, fit in ``QUIET_SHARE`` of ``capacity`` (stopping at the first one
    ``QUIET_GAP`` times their median). Infinite when all demands fit in capacity, or nothing
    completed lately.

    Max-min alone is not enough: with 200 heavy keys the fair share of each is capacity/200,
    and a key sending one request a second may be above it though it asks for little."""
    if capacity <= 0 or sum(demands) <= capacity:
        return math.inf  # nothing completed yet says nothing about contention
    quiet, total = 0.0, 0.0
    ordered = sorted(demands)
    for index, demand in enumerate(ordered):
        total += demand
        typical = ordered[index // 2]  # the median of the quiet group so far
        if total > QUIET_SHARE * capacity or demand > QUIET_GAP * typical:
            break
        if index + 1 == len(ordered) or ordered[index + 1] > demand:
            quiet = demand  # every client at this rate fits, not only some of them
    return max(water_level(demands, capacity), LIGHT_SLACK * quiet)


def water_level(demands: list[float], capacity: float) -> float:
    """Max-min fair share: the level L with sum(min(d, L)) == capacity; infinite when every
    demand fits, i.e. no one needs to be cut."""
    if sum(demands) <= capacity:
        return math.inf
    ordered = sorted(demands)
    below = 0.0  # sum of the demands under the level
    for index, demand in enumerate(ordered):
        level = (capacity - below) / (len(ordered) - index)
        if demand >= level:
            return level
        below += demand
    return math.inf  # not reached: the sum exceeds capacity
