"""Numbered, batched updates per session, fanned out to every page watching it.

Every ``flush`` (a few times a second) turns each changed board into one update, serialised once
for all its viewers: at 100 matches a second a page receives a handful of messages, not a
hundred. Each update has an id ``<epoch>-<seq>``; the last few minutes of updates are kept (also
while a page is away, for ``keep_unwatched_s``), so a page that reconnects with ``Last-Event-ID``
receives exactly the updates it missed. An id from
another epoch (the server restarted, or another gateway process answered) or one older than what
is kept gets a snapshot instead, which replaces the page's state: no gap either way. Rows are
keyed and figures absolute, so a row sent twice is shown once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.monitor import views
from services.monitor.projection import Projection

_SEQ = re.compile(r"[0-9]{1,18}")
"""An update's number as we write it: ASCII digits, small enough for any int64 reader."""


@dataclass(eq=False)
class Viewer:
    """One open event stream. ``frames`` is bounded: a viewer that cannot keep up is dropped and
    its page reconnects and catches up from the kept updates."""

    session_id: str
    frames: asyncio.Queue[bytes | None]
    dropped: bool = False
    closed: bool = False

    def close(self) -> None:
        """End the stream (its key was revoked): wake it if it waits; a full queue means it is
        busy sending and sees ``closed`` before its next frame."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.frames.put_nowait(None)


@dataclass
class _Stream:
    seq: int = 0
    kept: deque[tuple[int, bytes]] = field(default_factory=deque)
    viewers: set[Viewer] = field(default_factory=set)
    watched_at: float = float("-inf")  # monotonic time a viewer last left


def frame(event: str, event_id: str, payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()


class Hub:
    def __init__(
        self,
        projection: Projection,
        *,
        keep: int = 2400,
        keep_unwatched_s: float = 600.0,
        queue_size: int = 512,
        epoch: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.projection = projection
        self.keep = keep
        self.keep_unwatched_s = keep_unwatched_s
        self.clock = clock
        self.queue_size = queue_size
        self.epoch = epoch or secrets.token_hex(4)
        self._streams: dict[str, _Stream] = {}
        self._snapshots: dict[str, tuple[int, bytes]] = {}
        self.frames_sent = 0

    def _stream(self, session_id: str) -> _Stream:
        stream = self._streams.get(session_id)
        if stream is None:
            stream = self._streams[session_id] = _Stream()
        return stream

    def event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def viewers(self) -> int:
        return sum(len(s.viewers) for s in self._streams.values())

    def flush(self) -> int:
        """One update per changed board to its viewers; returns how many updates were made."""
        made = 0
        for session_id, board in self.projection.boards.items():
            if not (board.changed or board.dirty_matches or board.dirty_demands):
                continue
            stream = self._stream(session_id)
            stream.seq += 1
            if not stream.viewers and self.clock() - stream.watched_at > self.keep_unwatched_s:
                # Nobody has watched for a while: skip the work, and forget what was kept, so
                # that a page coming back with an older id gets a snapshot rather than a gap.
                board.dirty_matches.clear()
                board.dirty_demands.clear()
                board.changed = False
                stream.kept.clear()
                continue
            data = frame("update", self.event_id(stream.seq), views.update(self.projection, board))
            stream.kept.append((stream.seq, data))
            while len(stream.kept) > self.keep:
                stream.kept.popleft()
            for viewer in list(stream.viewers):
                self._send(stream, viewer, data)
            made += 1
        return made

    def _send(self, stream: _Stream, viewer: Viewer, data: bytes) -> None:
        try:
            viewer.frames.put_nowait(data)
            self.frames_sent += 1
        except asyncio.QueueFull:
            viewer.dropped = True
            stream.viewers.discard(viewer)
            stream.watched_at = self.clock()

    def subscribe(self, session_id: str, last_event_id: str | None) -> tuple[Viewer, list[bytes]]:
        """A new viewer and the frames it needs first: the missed updates, or a snapshot."""
        stream = self._stream(session_id)
        viewer = Viewer(session_id, asyncio.Queue(self.queue_size))
        missed = self._missed(stream, last_event_id)
        if missed is None:
            missed = [self._snapshot(session_id, stream)]
        stream.viewers.add(viewer)
        return viewer, missed

    def _snapshot(self, session_id: str, stream: _Stream) -> bytes:
        """The session's snapshot, built once per flush however many pages (re)connect.

        Reusing one built earlier in the same flush interval is safe: whatever changed since is
        still marked on the board, and the next update, which every viewer receives, carries it.
        """
        cached = self._snapshots.get(session_id)
        if cached is not None and cached[0] == stream.seq:
            return cached[1]
        board = self.projection.boards[session_id]
        data = frame("snapshot", self.event_id(stream.seq), views.snapshot(self.projection, board))
        self._snapshots[session_id] = (stream.seq, data)
        return data

    def _missed(self, stream: _Stream, last_event_id: str | None) -> list[bytes] | None:
        if not last_event_id:
            return None
        seq = self._seq_of(last_event_id)
        if seq is None:
            return None
        if seq > stream.seq:
            return None  # not an id we gave
        if seq == stream.seq:
            return []
        if not stream.kept or stream.kept[0][0] > seq + 1:
            return None  # some of what it missed is no longer kept
        return [data for s, data in stream.kept if s > seq]

    def _seq_of(self, event_id: str) -> int | None:
        """The number in one of our ids, ``<epoch>-<ASCII digits>``; None for anything else.
        ``str.isdigit`` alone would admit '²' or '٣', which ``int`` refuses or reads as a
        digit we never sent: a client's header must never become a 500."""
        epoch, _, seq_text = event_id.rpartition("-")
        if epoch != self.epoch or not _SEQ.fullmatch(seq_text):
            return None
        return int(seq_text)

    def unsubscribe(self, viewer: Viewer) -> None:
        stream = self._streams.get(viewer.session_id)
        if stream is not None:
            stream.viewers.discard(viewer)
            stream.watched_at = self.clock()

    async def run(self, interval_s: float) -> None:
        """Flush forever, every ``interval_s`` seconds."""
        while True:
            await asyncio.sleep(interval_s)
            self.flush()
