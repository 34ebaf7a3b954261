"""Waiting demands in arrival order, searchable by price ceiling.

An offer must visit the OLDEST waiting demands whose ceiling admits its price (fair FIFO)
without walking past the ones that do not: a max-tree over arrival slots finds the next
admitting slot in O(log n). Slots of closed demands are compacted away now and then; that
renumbers slots but never changes the arrival order, so decisions do not depend on it.

Each slot also holds a span of days (a demand's delivery window) in flat integer arrays, so
the walk itself skips demands whose window misses the offer's days: the usual near miss,
judged without touching the demand object (in a deep book each touch is a cache miss).
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterator
from typing import Any

NEG = float("-inf")
LOWEST, HIGHEST = -(2**62), 2**62  # a span that overlaps every other


class FifoMaxTree:
    """Keys in insertion order, each with a float value; finds keys with value >= x, oldest
    first. A key whose value is -inf is present but never found (e.g. nothing open). Keys are
    any hashable objects (the book's waiting demands use the demand states)."""

    __slots__ = ("_dead", "_hi", "_keys", "_lo", "_size", "_slot", "_tree", "_used")

    def __init__(self, capacity: int = 1024) -> None:
        self._size = 1
        while self._size < capacity:
            self._size *= 2
        self._tree = array("d", [NEG]) * (2 * self._size)  # contiguous: kind to the cache
        self._keys: list[Hashable | None] = [None] * self._size
        self._lo = array("q", [LOWEST]) * self._size  # each slot's span of days
        self._hi = array("q", [HIGHEST]) * self._size
        self._slot: dict[Hashable, int] = {}
        self._used = 0  # slots handed out so far
        self._dead = 0  # removed slots not yet compacted

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._slot

    def value(self, key: Hashable) -> float:
        return self._tree[self._size + self._slot[key]]

    def span(self, key: Hashable) -> tuple[int, int]:
        slot = self._slot[key]
        return self._lo[slot], self._hi[slot]

    def append(self, key: Hashable, value: float, lo: int = LOWEST, hi: int = HIGHEST) -> None:
        """Add a key after every key present (it is the newest), with its span [lo, hi]."""
        if key in self._slot:
            raise KeyError(f"{key!r} is already queued")
        if self._used == self._size:
            self._rebuild()
        slot = self._used
        self._used += 1
        self._slot[key] = slot
        self._keys[slot] = key
        self._lo[slot], self._hi[slot] = lo, hi
        self._set(slot, value)

    def set(
        self, key: Hashable, value: float, lo: int | None = None, hi: int | None = None
    ) -> None:
        """A new value, and a new span when ``lo`` and ``hi`` are given (else it stays)."""
        slot = self._slot[key]
        if lo is not None and hi is not None:
            self._lo[slot], self._hi[slot] = lo, hi
        if self._tree[self._size + slot] != value:
            self._set(slot, value)

    def remove(self, key: Hashable) -> None:
        slot = self._slot.pop(key)
        self._keys[slot] = None
        self._set(slot, NEG)
        self._dead += 1

    def at_least(
        self, x: float, lo: int = LOWEST, hi: int = HIGHEST, limit: int | None = None
    ) -> Iterator[Any]:
        """Keys whose value is >= x and whose span overlaps [lo, hi], oldest first, among the
        first ``limit`` keys whose value is >= x (those outside the span count too, so the
        span changes the work, never the answer). Values and spans may change while iterating;
        no key may be appended (an append may compact, which renumbers the slots).

        Each step finds the first slot from ``start`` whose value is >= x: up the tree until a
        right sibling holds one, then down to its leftmost such leaf (the walk is inlined:
        an offer may visit hundreds of demands, and a call per step would double the cost).
        Slots outside the span are passed over inside the walk, without a yield."""
        start = 0
        left = len(self._slot) if limit is None else limit
        while left > 0:
            # re-read after each yield: the arrays may have been replaced meanwhile
            tree, size, used, los, his = self._tree, self._size, self._used, self._lo, self._hi
            while True:
                if start >= used:
                    return
                i = size + start
                if tree[i] < x:
                    while True:
                        if i == 1:
                            return
                        if not i & 1 and tree[i + 1] >= x:
                            i += 1
                            break
                        i >>= 1
                    while i < size:
                        i <<= 1
                        if tree[i] < x:
                            i += 1
                start = i - size + 1
                left -= 1
                if los[i - size] <= hi and his[i - size] >= lo:
                    break
                if left <= 0:
                    return
            key = self._keys[start - 1]
            assert key is not None
            yield key

    def keys(self) -> Iterator[Any]:
        """All keys, oldest first."""
        for key in self._keys[: self._used]:
            if key is not None:
                yield key

    # -- internals ---------------------------------------------------------------------------
    def _set(self, slot: int, value: float) -> None:
        tree = self._tree
        i = self._size + slot
        tree[i] = value
        i >>= 1
        while i:
            left, right = tree[2 * i], tree[2 * i + 1]
            best = left if left >= right else right
            if tree[i] == best:
                break
            tree[i] = best
            i >>= 1

    def _rebuild(self) -> None:
        """Compact removed slots; grow when more than half the slots are live."""
        slots = [s for s in range(self._used) if self._keys[s] is not None]  # arrival order
        keys, old_size, old_tree = self._keys, self._size, self._tree
        old_lo, old_hi = self._lo, self._hi
        size = self._size
        while len(slots) * 2 > size:
            size *= 2
        self._size = size
        self._tree = tree = array("d", [NEG]) * (2 * size)
        self._keys = [None] * size
        self._lo = array("q", [LOWEST]) * size
        self._hi = array("q", [HIGHEST]) * size
        self._slot = {}
        for slot, old in enumerate(slots):
            key = keys[old]
            self._slot[key] = slot
            self._keys[slot] = key
            tree[size + slot] = old_tree[old_size + old]
            self._lo[slot], self._hi[slot] = old_lo[old], old_hi[old]
        for i in range(size - 1, 0, -1):
            left, right = tree[2 * i], tree[2 * i + 1]
            tree[i] = left if left >= right else right
        self._used = len(slots)
        self._dead = 0
