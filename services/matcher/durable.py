"""Crash-consistent books on top of a key-value table (a Faust table in production).

Faust's at-least-once mode can leave a table *ahead* of the committed offsets after a crash,
and its exactly-once mode emitted duplicates and diverged from its table in our kill -9 test
(docs/decisions.md). So consistency is ours, built on one property: every write for an event of
partition p goes to changelog partition p, in order, so what survives a crash is a *prefix* of
the writes. For each event we write, in this order:

1. each changed book record, with the offset that wrote it and the value before it (undo);
2. the event's output events into a ring slot ``__out__|p|offset % RING``;
3. the marker ``__applied__|p = offset``, last.

On restart: a record written by an offset after the marker belongs to a half-written event and
is read as its previous value; an event at or below the marker is not applied again, but its
stored outputs are sent again (consumers dedupe by event id). Everything else is replayed from
the committed offset and, the engine being deterministic, decides the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.events import AnyEvent
from services.matcher.engine import MarketBook, MatchConfig
from services.matcher.outputs import output_events

RING = 1 << 16
"""Ring slots per partition; must exceed the events processed between two offset commits."""
CHUNK_BYTES = 256 * 1024
"""An event's outputs are stored in chunks of at most this many bytes: one table value is one
Kafka message, and a tick that expires thousands of proposals must not exceed the broker's
1 MB message limit (it did, and the worker crashed on that event again after every restart)."""

Table = MutableMapping[str, Any]


@dataclass(frozen=True)
class Output:
    key: bytes
    value: bytes


def _marker_key(partition: int) -> str:
    return f"__applied__|{partition}"


def _ring_key(partition: int, offset: int) -> str:
    return f"__out__|{partition}|{offset % RING}"


def _chunks(pairs: list[list[str]]) -> list[list[list[str]]]:
    """Split (key, value) pairs into lists whose JSON stays under CHUNK_BYTES (at least one)."""
    chunks: list[list[list[str]]] = [[]]
    size = 0
    for pair in pairs:
        pair_size = len(pair[0]) + len(pair[1].encode()) + 16
        if chunks[-1] and size + pair_size > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(pair)
        size += pair_size
    return chunks


def _record_key(market: str, key: str) -> str:
    return f"{market}|{key}"


class DurableBooks:
    """The matcher's state: one MarketBook per market, persisted record by record."""

    def __init__(
        self,
        table: Table,
        config: MatchConfig | None = None,
        restore: Callable[[str, Iterable[tuple[str, dict]], MatchConfig], MarketBook] | None = None,
    ) -> None:
        self.table = table
        self.config = config or MatchConfig()
        self._restore = restore or MarketBook.restore
        self._books: dict[str, MarketBook] = {}
        self._partition_of: dict[str, int] = {}
        self._last_marker: dict[int, int] = {}

    def invalidate(self) -> None:
        """Forget cached books (after a rebalance the table is the truth)."""
        self._books.clear()
        self._partition_of.clear()
        self._last_marker.clear()

    def _check_fresh(self, partition: int) -> None:
        """Rebuild a partition's books if its table changed behind our back.

        Table recovery after a rebalance rewinds the table to what the changelog holds, which
        can be older than our cached books; the consumer then redelivers the events in between.
        The marker is the witness: if it is not the last one we wrote, the cache is stale.
        Every write of an event happens synchronously in ``process``, so an equal marker means
        an identical partition state.
        """
        expected = self._last_marker.get(partition)
        if expected is None or expected == self.applied_offset(partition):
            return
        for market in [m for m, p in self._partition_of.items() if p == partition]:
            del self._books[market]
            del self._partition_of[market]
        del self._last_marker[partition]

    def applied_offset(self, partition: int) -> int:
        marker = self.table.get(_marker_key(partition))
        return -1 if marker is None else int(marker["offset"])

    def process(self, partition: int, offset: int, event: AnyEvent) -> list[Output]:
        """Apply one orders event; returns the output events to send (again, on redelivery)."""
        self._check_fresh(partition)
        if offset <= self.applied_offset(partition):
            return self._stored_outputs(partition, offset)
        market = event.market_key
        book = self._book(market, partition)
        outcomes = book.apply(event)
        changes = book.drain_changes()
        outputs = [
            Output(out.kafka_key.encode(), out.model_dump_json().encode())
            for out in output_events(outcomes, event)
        ]
        for key, record in changes.items():
            full_key = _record_key(market, key)
            self.table[full_key] = {
                "v": record,
                "p": partition,
                "by": offset,
                "prev": self._effective(self.table.get(full_key), partition),
            }
        chunks = _chunks([[o.key.decode(), o.value.decode()] for o in outputs])
        for index, chunk in enumerate(chunks[1:], start=1):
            self.table[f"{_ring_key(partition, offset)}|{index}"] = {"offset": offset, "out": chunk}
        self.table[_ring_key(partition, offset)] = {
            "offset": offset,
            "out": chunks[0],
            "chunks": len(chunks),
        }
        self.table[_marker_key(partition)] = {"offset": offset}
        self._last_marker[partition] = offset
        return outputs

    def _stored_outputs(self, partition: int, offset: int) -> list[Output]:
        key = _ring_key(partition, offset)
        slot = self.table.get(key)
        if slot is None or slot["offset"] != offset:
            return []  # older than the ring: its outputs were committed long ago
        pairs = list(slot["out"])
        for index in range(1, slot.get("chunks", 1)):
            pairs += self.table[f"{key}|{index}"]["out"]
        return [Output(k.encode(), v.encode()) for k, v in pairs]

    def book(self, market: str) -> MarketBook | None:
        return self._books.get(market)

    def markets(self) -> list[str]:
        return sorted(self._books)

    def _effective(self, entry: dict | None, partition: int) -> dict | None:
        """A record's value as of the last fully applied event of its partition."""
        if entry is None:
            return None
        if entry["by"] > self.applied_offset(entry.get("p", partition)):
            return entry["prev"]  # written by a half-applied event: roll back
        return entry["v"]

    def _book(self, market: str, partition: int) -> MarketBook:
        book = self._books.get(market)
        if book is None:
            prefix = _record_key(market, "")
            records = [
                (key[len(prefix):], value)
                for key, entry in list(self.table.items())
                if isinstance(key, str) and key.startswith(prefix)
                and (value := self._effective(entry, partition)) is not None
            ]  # fmt: skip
            book = self._restore(market, records, self.config)
            self._books[market] = book
            self._partition_of[market] = partition
        return book
