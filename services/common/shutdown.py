"""A requested stop (SIGTERM, Ctrl-C) is not an error: finish or abandon the work in hand and
exit 0 within STOP_SECONDS, whatever Kafka and the store are doing.

Why a deadline of our own: with Kafka away, Faust's orderly stop waits on offset commits and
producer flushes that never complete (the matcher ignored SIGTERM for over 100 s, and Docker
sends SIGKILL after 10 s anyway). Exiting without that stop is always safe here: nothing is
committed before its outputs are flushed (Faust flushes the producer before each commit), the
matcher's books are crash-consistent (decision 4) and every output has a deterministic id, so
what was not committed is redelivered and changes nothing twice. This is what ``kill -9`` does,
and the recovery tests do exactly that.

What must never happen is acknowledging a half-processed batch: Faust acks a batch (or an
event) when the agent's loop body is left, even by a cancellation, and commits acked offsets
during an orderly stop. So a worker whose batch is interrupted by the stop calls ``abandon``,
which exits before anything more is acknowledged (see ``fail_stop`` for the error case).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable
from typing import NoReturn, TypeVar

T = TypeVar("T")

STOP_SECONDS = 8.0
"""Longest orderly stop: under Docker's default 10 s grace before SIGKILL."""
STOP_SECONDS_OFFLINE = 2.0
"""Longest orderly stop while Kafka is unreachable: nothing can be committed anyway."""


class StopRequest:
    """This process was asked to stop: when, by which signal, and a deadline that exits 0."""

    def __init__(self) -> None:
        self.since: float | None = None
        # Reentrant: a handler runs in the main thread between bytecodes, so a second signal
        # can land inside the first one's ``with``; a plain Lock then waits on itself forever
        # (a gateway stopped by two SIGTERMs a moment apart hung until SIGKILL, seen in CI).
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    @property
    def requested(self) -> bool:
        return self.since is not None

    def request(self, service: str, signum: int, log: logging.Logger, deadline: float) -> None:
        """Called from a signal handler: log once, arm the deadline; a second signal exits now."""
        name = signal.Signals(signum).name
        with self._lock:
            first = self.since is None
            if first:
                self.since = time.monotonic()
        if not first:
            log.warning("%s: %s again: exiting now; work not committed is redelivered",
                        service, name)  # fmt: skip
            _exit_now()
        log.info("%s: %s received: finishing the work in hand, exiting within %.0f s",
                 service, name, deadline)  # fmt: skip
        timer = threading.Timer(deadline, self._deadline, args=(service, deadline, log))
        timer.daemon = True
        timer.start()
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    def _deadline(self, service: str, deadline: float, log: logging.Logger) -> None:
        log.warning("%s: still stopping after %.0f s (Kafka or the store does not answer): "
                    "exiting now; work not committed is redelivered",
                    service, deadline)  # fmt: skip
        _exit_now()

    def abandon(self, log: logging.Logger, service: str, what: str) -> NoReturn:
        """Exit 0 at once, leaving ``what`` unacknowledged: it is redelivered after a restart."""
        log.info("%s: stopping with %s unfinished and not committed: it is redelivered on "
                 "restart", service, what)  # fmt: skip
        _exit_now()

    async def sleep(self, seconds: float | None) -> None:
        """Sleep (None: until a stop), but wake at once when a stop is requested."""
        if self.requested:
            return
        if self._event is None:
            self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)

    async def unless_stopped(self, work: Awaitable[T]) -> tuple[bool, T | None]:
        """Await ``work`` unless a stop comes first: (True, result), or (False, None) with the
        work cancelled. For retries during an outage, which may wait many seconds each."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.sleep(None))
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return True, task.result()
        task.cancel()
        return False, None


def _exit_now() -> NoReturn:
    for handler in logging.getLogger().handlers + _named_handlers():
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(0)


def _named_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    return [h for logger in loggers for h in getattr(logger, "handlers", [])]


STOP = StopRequest()
"""The process's one stop request (a process runs one service)."""
