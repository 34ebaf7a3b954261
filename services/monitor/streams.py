"""The open monitor event streams: how many a key and the process may hold, and which to end.

A stream is long-lived, so checking its key once at the start is not enough: revoking a key (or
logging out) must end the streams it opened. One task re-checks every credential that has a
stream open, once per ``recheck_s`` (the key-cache interval) and with a fresh store read, and
ends the streams of any that no longer holds. Streams of one key share one check, so the store
sees one read per key and interval, however many pages watch.

The caps refuse before any work (no snapshot is built): a key beyond its share answers 429,
the process beyond its total 503, both with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.gateway.problems import ApiProblem

log = logging.getLogger("ketnoi.monitor")

MIN_RECHECK_S = 0.5
Check = Callable[[], Awaitable[bool]]
"""Reads the credential afresh: True while it may still watch."""


def _nothing() -> None:
    return None


@dataclass(eq=False)
class OpenStream:
    key_id: str
    credential: str  # one per API key or login token (a digest): streams that share a check
    check: Check
    close: Callable[[], None] = _nothing  # set once the stream's viewer exists


class Streams:
    def __init__(self, per_key: int, total: int, recheck_s: float) -> None:
        self.per_key = per_key
        self.total = total
        self.recheck_s = recheck_s
        self._open: set[OpenStream] = set()
        self._by_key: Counter[str] = Counter()
        self.refused = 0
        self.revoked = 0

    def __len__(self) -> int:
        return len(self._open)

    def open(self, key_id: str, credential: str, check: Check) -> OpenStream:
        """Admit a stream or refuse it at once. Synchronous, so no other request can take the
        last place between the count and the admission."""
        retry = max(1, round(self.recheck_s))
        if self._by_key[key_id] >= self.per_key:
            self.refused += 1
            raise ApiProblem(
                429,
                f"this key already has {self.per_key} monitor streams open (the most one key "
                f"may hold); close a page or use another organizer key, then retry in {retry} s",
                headers={"Retry-After": str(retry)},
                kind="too-many-streams",
            )
        if len(self._open) >= self.total:
            self.refused += 1
            raise ApiProblem(
                503,
                f"the gateway already serves {self.total} monitor streams (its limit); retry "
                f"in {retry} s, or ask the operator to add a gateway process",
                headers={"Retry-After": str(retry)},
                kind="too-many-streams",
            )
        stream = OpenStream(key_id, credential, check)
        self._open.add(stream)
        self._by_key[key_id] += 1
        return stream

    def release(self, stream: OpenStream) -> None:
        """Idempotent: the stream's end and its response's end may both call it."""
        if stream in self._open:
            self._open.discard(stream)
            self._by_key[stream.key_id] -= 1
            if self._by_key[stream.key_id] <= 0:
                del self._by_key[stream.key_id]

    async def recheck(self) -> int:
        """Check each credential with a stream open once; end the streams of those that no
        longer hold. Returns how many streams were ended."""
        groups: dict[str, list[OpenStream]] = {}
        for stream in self._open:
            groups.setdefault(stream.credential, []).append(stream)
        ended = 0
        for streams in groups.values():
            try:
                valid = await streams[0].check()
            except Exception as exc:  # the store is down: keep the streams, check again later
                log.warning("monitor stream re-check failed: %r", exc)
                continue
            if valid:
                continue
            for stream in streams:
                self.release(stream)
                stream.close()
                ended += 1
        self.revoked += ended
        return ended

    async def run(self) -> None:
        """Re-check every ``recheck_s`` seconds (at least every half second: a cache of 0 s
        must not make this loop spin), forever."""
        while True:
            await asyncio.sleep(max(self.recheck_s, MIN_RECHECK_S))
            try:
                ended = await self.recheck()
            except Exception:  # a bug must not leave revoked streams open for good
                log.exception("monitor stream re-check failed")
                continue
            if ended:
                log.info("monitor streams ended: key revoked or logged out (%d)", ended)
