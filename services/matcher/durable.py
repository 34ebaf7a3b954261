"""Crash-consistent books on top of a key-value table (a Faust table in production).

Faust's at-least-once mode can leave a table *ahead* of the committed offsets after a crash,
and its exactly-once mode emitted duplicates and diverged from its table in our kill -9 test
(docs/decisions.md). So consistency is ours, built on one property: every write for an event of
partition p goes to changelog partition p, in order, so what survives a crash is a *prefix* of
the writes. Events come in batches (one partition's events in offset order); for a batch whose
fresh events end at offset L we write, in this order:

1. each book record the batch changed, once, with ``by = L`` and the value before the batch
   (undo);
2. the batch's output events, with the offset that caused each, into a ring slot
   ``__batch__|p|seq % RING`` (in chunks under Kafka's message limit);
3. the marker ``__applied__|p = {offset: L, seq}``, last.

On restart: a record written by an offset after the marker belongs to a half-written batch and
is read as its previous value, so a batch is applied wholly or not at all; an event at or below
the marker is not applied again, but its stored outputs are sent again (consumers dedupe by
event id), found by walking the ring back from the marker's slot. Everything else is replayed
from the committed offset and, the engine being deterministic, decides the same, whatever the
batch boundaries were before the crash. Writing per batch rather than per event is what makes
the worker fast: each table write is a changelog message.

An event the engine raises on is poison, not an outage: the engine is pure and deterministic,
so it would raise on every replay and halt its market for good. Its market's book is rebuilt
as if the event had never come (from the table, which holds the state before the batch, plus
the batch's earlier events of that market), and the event's only output is a dead-letter
record, stored in the ring like any output: a replay dead-letters the same event and decides
everything else the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.events import ORDERS, AnyEvent
from schemas.problems import describe
from services.common.dead_letter import dead_letter_key, dead_letter_record
from services.matcher.engine import MarketBook, MatchConfig
from services.matcher.outputs import output_events

RING = 1 << 16
"""Ring slots per partition; must exceed the batches processed between two offset commits."""
CHUNK_BYTES = 256 * 1024
"""A batch's outputs are stored in chunks of at most this many bytes: one table value is one
Kafka message, and a tick that expires thousands of proposals must not exceed the broker's
1 MB message limit (it did, and the worker crashed on that event again after every restart)."""

Table = MutableMapping[str, Any]
Write = Callable[[int, str, Any], None]
"""Stores ``table[key] = value`` for an event of partition p (the changelog partition)."""


log = logging.getLogger("ketnoi.matcher")


@dataclass(frozen=True)
class Output:
    key: bytes
    value: bytes
    dead_letter: bool = False  # for the dead-letter topic, not the matches topic


Poisoned = Callable[[int, int, AnyEvent, Exception], Output]
"""The dead-letter output for an event the engine raised on: (partition, offset, event, error)."""


def dead_letter_output(
    partition: int,
    offset: int,
    event: AnyEvent,
    error: Exception,
    *,
    topic: str = ORDERS,
    key: bytes | None = None,
    raw: bytes | None = None,
) -> Output:
    """The event's engine-stage dead-letter record. The worker passes the record's topic, key
    and raw bytes; without them (an in-process run) the parsed event stands for the bytes."""
    if key is None and raw is None:
        key, raw = event.kafka_key.encode(), event.model_dump_json().encode()
    record = dead_letter_record(
        service="matcher", stage="engine", topic=topic, partition=partition, offset=offset,
        key=key, raw=raw, reason=describe(error), error=error,
    )  # fmt: skip
    return Output(dead_letter_key(key) or b"", record, dead_letter=True)


def continuing(offsets: Iterable[int], expected: int) -> tuple[int, int]:
    """How many of one partition's offsets (a batch, ascending) continue its stream, and the
    offset that follows them.

    ``expected`` is the next offset the partition owes: a lower one is a redelivery (an applied
    event sends its stored outputs again, anything else is processed again), a higher one
    means the events in between never arrived. Those must be applied first, so that one and
    all after it wait: applied now, they would move the marker past events no book has seen,
    and the events would then pass as applied. The orders topic has no gaps of its own (no
    transactions, no compaction): each offset is an event.
    """
    count = 0
    for offset in offsets:
        if offset > expected:
            break
        expected = max(expected, offset + 1)
        count += 1
    return count, expected


def _marker_key(partition: int) -> str:
    return f"__applied__|{partition}"


def _slot_key(partition: int, seq: int) -> str:
    return f"__batch__|{partition}|{seq % RING}"


def _legacy_ring_key(partition: int, offset: int) -> str:
    """Where the per-event format (before batches) kept an event's outputs."""
    return f"__out__|{partition}|{offset % RING}"


def _chunks(entries: list[list[Any]]) -> list[list[list[Any]]]:
    """Split [offset, key, value] entries into lists whose JSON stays under CHUNK_BYTES (at
    least one list)."""
    chunks: list[list[list[Any]]] = [[]]
    size = 0
    for entry in entries:
        entry_size = len(entry[1]) + len(entry[2].encode()) + 32
        if chunks[-1] and size + entry_size > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return chunks


def _record_key(market: str, key: str) -> str:
    return f"{market}|{key}"


def _as_applied(entry: dict | None, applied: int) -> dict | None:
    """A record's value as of the partition's last fully applied batch (marker ``applied``):
    one written by a later, half-applied batch is rolled back to its value before it."""
    if entry is None:
        return None
    return entry["prev"] if entry["by"] > applied else entry["v"]


class DurableBooks:
    """The matcher's state: one MarketBook per market, persisted record by record."""

    def __init__(
        self,
        table: Table,
        config: MatchConfig | None = None,
        restore: Callable[[str, Iterable[tuple[str, dict]], MatchConfig], MarketBook] | None = None,
        write: Write | None = None,
        poisoned: Poisoned = dead_letter_output,
    ) -> None:
        self.table = table
        self.config = config or MatchConfig()
        self._restore = restore or MarketBook.restore
        self._write: Write = write or (lambda _partition, key, value: table.__setitem__(key, value))
        self._poisoned = poisoned
        self._books: dict[str, MarketBook] = {}
        self._partition_of: dict[str, int] = {}
        self._last_marker: dict[int, dict] = {}
        self._replay: dict[int, tuple[dict, int, dict[int, list[Output]]]] = {}

    def invalidate(self) -> None:
        """Forget cached books (after a rebalance the table is the truth)."""
        self._books.clear()
        self._partition_of.clear()
        self._last_marker.clear()
        self._replay.clear()

    def _check_fresh(self, partition: int) -> None:
        """Rebuild a partition's books if its table changed behind our back.

        Table recovery after a rebalance rewinds the table to what the changelog holds, which
        can be older than our cached books; the consumer then redelivers the events in between.
        The marker is the witness: if it is not the last one we wrote, the cache is stale.
        Every write of a batch happens synchronously in ``process_batch``, so an equal marker
        means an identical partition state.
        """
        expected = self._last_marker.get(partition)
        if expected is None or expected == self.table.get(_marker_key(partition)):
            return
        for market in [m for m, p in self._partition_of.items() if p == partition]:
            del self._books[market]
            del self._partition_of[market]
        del self._last_marker[partition]
        self._replay.pop(partition, None)

    def applied_offset(self, partition: int) -> int:
        marker = self.table.get(_marker_key(partition))
        return -1 if marker is None else int(marker["offset"])

    def process(self, partition: int, offset: int, event: AnyEvent) -> list[Output]:
        """Apply one orders event; returns the output events to send (again, on redelivery)."""
        return self.process_batch(partition, [(offset, event)])[0]

    def process_batch(
        self, partition: int, items: Sequence[tuple[int, AnyEvent]]
    ) -> list[list[Output]]:
        """Apply one partition's events, (offset, event) in offset order, as one batch; returns
        each event's output events to send (again, for an event already applied)."""
        self._check_fresh(partition)
        applied = self.applied_offset(partition)
        done = [offset for offset, _ in items if offset <= applied]
        stored = self._stored_outputs(partition, done) if done else {}
        results: list[list[Output]] = []
        fresh: list[tuple[int, list[Output]]] = []
        touched: dict[str, MarketBook] = {}
        taken: dict[str, list[AnyEvent]] = {}  # each market's events applied in this batch
        for offset, event in items:
            if offset <= applied:
                results.append(stored.get(offset, []))
                continue
            market = event.market_key
            book = touched.get(market)
            if book is None:
                book = touched[market] = self._book(market, partition)
            try:
                outputs = [
                    Output(out.kafka_key.encode(), out.model_dump_json().encode())
                    for out in output_events(book.apply(event), event)
                ]
            except Exception as exc:  # the engine is pure: the event's own fault
                log.warning("engine refused %s@%s (%s): %r; dead-lettered, market %s goes on",
                            event.type, offset, event.event_id, exc, market)  # fmt: skip
                touched[market] = self._rebuilt(market, partition, taken.get(market, []))
                outputs = [self._poisoned(partition, offset, event, exc)]
            else:
                taken.setdefault(market, []).append(event)
            results.append(outputs)
            fresh.append((offset, outputs))
        if fresh:
            self._persist(partition, fresh, touched)
        return results

    def _rebuilt(self, market: str, partition: int, taken: list[AnyEvent]) -> MarketBook:
        """The market's book as if the poison event had not come: restored from the table
        (its state before this batch) with the batch's earlier events applied again. The
        engine is deterministic, so their outcomes are the ones already returned."""
        self._books.pop(market, None)
        self._partition_of.pop(market, None)
        book = self._book(market, partition)
        for event in taken:
            book.apply(event)
        return book

    def _persist(
        self, partition: int, fresh: list[tuple[int, list[Output]]], touched: dict[str, MarketBook]
    ) -> None:
        last = fresh[-1][0]
        write, get = self._write, self.table.get
        marker = get(_marker_key(partition)) or {}
        applied = marker.get("offset", -1)
        for market, book in touched.items():
            for key, record in book.drain_changes().items():
                full_key = _record_key(market, key)
                prev = _as_applied(get(full_key), applied)  # its value before this batch
                write(partition, full_key, {"v": record, "p": partition, "by": last, "prev": prev})
        seq = marker.get("seq", 0) + 1
        entries = [
            [o, out.key.decode(), out.value.decode(), *([1] if out.dead_letter else [])]
            for o, outs in fresh
            for out in outs
        ]
        chunks = _chunks(entries)
        slot = _slot_key(partition, seq)
        for index, chunk in enumerate(chunks[1:], start=1):
            write(partition, f"{slot}|{index}", {"seq": seq, "out": chunk})
        write(partition, slot, {"seq": seq, "first": fresh[0][0], "last": last,
                                "out": chunks[0], "chunks": len(chunks)})  # fmt: skip
        marker = {"offset": last, "seq": seq}
        write(partition, _marker_key(partition), marker)
        self._last_marker[partition] = marker
        self._replay.pop(partition, None)

    def _stored_outputs(self, partition: int, offsets: list[int]) -> dict[int, list[Output]]:
        """Outputs of already applied events, by offset: the ring slots from the marker's back
        to the one holding the lowest offset asked for (cached while the marker stays)."""
        marker = self.table.get(_marker_key(partition)) or {}
        lowest = min(offsets)
        cached = self._replay.get(partition)
        if cached is not None and cached[0] == marker and cached[1] <= lowest:
            found = cached[2]
        else:
            found = {}
            seq, covered = marker.get("seq", 0), marker.get("offset", -1) + 1
            while seq > 0 and covered > lowest:
                key = _slot_key(partition, seq)
                slot = self.table.get(key)
                if slot is None or slot["seq"] != seq:
                    break  # older than the ring: its outputs were committed long ago
                for offset, k, v, *dead_letter in self._slot_entries(key, slot):
                    output = Output(k.encode(), v.encode(), bool(dead_letter))
                    found.setdefault(offset, []).append(output)
                covered, seq = slot["first"], seq - 1
            self._replay[partition] = (marker, covered, found)
        for offset in offsets:
            if offset not in found and (legacy := self._legacy_outputs(partition, offset)):
                found[offset] = legacy
        return found

    def _legacy_outputs(self, partition: int, offset: int) -> list[Output]:
        """Outputs stored per event by the format before batches (an upgrade after a crash)."""
        key = _legacy_ring_key(partition, offset)
        slot = self.table.get(key)
        if slot is None or slot.get("offset") != offset:
            return []
        return [Output(k.encode(), v.encode()) for k, v in self._slot_entries(key, slot)]

    def _slot_entries(self, key: str, slot: dict) -> list[list[Any]]:
        """A stored slot's entries, its further chunks (``key|1``, ``key|2`` ...) appended."""
        entries = list(slot["out"])
        for index in range(1, slot.get("chunks", 1)):
            entries += self.table[f"{key}|{index}"]["out"]
        return entries

    def book(self, market: str) -> MarketBook | None:
        return self._books.get(market)

    def markets(self) -> list[str]:
        return sorted(self._books)

    def _book(self, market: str, partition: int) -> MarketBook:
        book = self._books.get(market)
        if book is None:
            # A market's records are all written by events of its partition (the market is
            # the Kafka key), so one marker decides for all of them.
            prefix, applied = _record_key(market, ""), self.applied_offset(partition)
            records = [
                (key[len(prefix):], value)
                for key, entry in list(self.table.items())
                if isinstance(key, str) and key.startswith(prefix)
                and (value := _as_applied(entry, applied)) is not None
            ]  # fmt: skip
            book = self._restore(market, records, self.config)
            self._books[market] = book
            self._partition_of[market] = partition
        return book
