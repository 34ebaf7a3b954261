"""A sorted list of unique keys in buckets: O(log n) search and O(sqrt n) insert/remove.

A plain list with ``insort`` moves every later pointer on each insert (costly at 100k offers);
buckets of a few hundred keys keep inserts and removals local. Standard library only.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Any

LOAD = 256  # a bucket splits at twice this size


class SortedKeys:
    """Unique, mutually comparable keys (tuples here) kept in ascending order."""

    __slots__ = ("_buckets", "_len", "_maxes")

    def __init__(self) -> None:
        self._buckets: list[list[Any]] = []
        self._maxes: list[Any] = []  # last key of each bucket
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, key: Any) -> None:
        buckets, maxes = self._buckets, self._maxes
        self._len += 1
        if not buckets:
            buckets.append([key])
            maxes.append(key)
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
            bucket = buckets[i]
            bucket.append(key)
            maxes[i] = key
        else:
            bucket = buckets[i]
            insort(bucket, key)
        if len(bucket) > 2 * LOAD:
            buckets[i : i + 1] = [bucket[:LOAD], bucket[LOAD:]]
            maxes[i : i + 1] = [bucket[LOAD - 1], bucket[-1]]

    def remove(self, key: Any) -> int:
        """Remove ``key`` and return how many keys are left; raises KeyError when absent (an
        index out of step is a bug)."""
        buckets, maxes = self._buckets, self._maxes
        i = bisect_left(maxes, key)
        if i < len(maxes):
            bucket = buckets[i]
            j = bisect_left(bucket, key)
            if j < len(bucket) and bucket[j] == key:
                del bucket[j]
                self._len -= 1
                if not bucket:
                    del buckets[i]
                    del maxes[i]
                elif j == len(bucket):
                    maxes[i] = bucket[-1]
                return self._len
        raise KeyError(key)

    def first(self) -> Any:
        """The smallest key (the container must not be empty)."""
        return self._buckets[0][0]

    def __contains__(self, key: Any) -> bool:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return False
        bucket = self._buckets[i]
        j = bisect_left(bucket, key)
        return j < len(bucket) and bucket[j] == key

    def __iter__(self) -> Iterator[Any]:
        for bucket in self._buckets:
            yield from bucket

    def up_to(self, high: Any) -> Iterator[Any]:
        """Keys <= ``high`` in ascending order (lazily: callers stop early)."""
        for bucket in self._buckets:
            if bucket[-1] <= high:
                yield from bucket
            else:
                yield from bucket[: bisect_right(bucket, high)]
                return

    def take(self, after: Any, high: Any, n: int) -> list[Any]:
        """Up to ``n`` keys with after < key <= high, ascending (``after`` None: from the
        start). Slices whole buckets, so a caller walks a range in a few C-speed steps."""
        buckets = self._buckets
        if after is None:
            i = j = 0
        else:
            i = bisect_right(self._maxes, after)
            if i == len(buckets):
                return []
            j = bisect_right(buckets[i], after)
        out: list[Any] = []
        while i < len(buckets) and len(out) < n:
            bucket = buckets[i]
            stop = j + n - len(out)
            if bucket[-1] > high:
                out += bucket[j : min(stop, bisect_right(bucket, high))]
                break
            out += bucket[j:stop]
            i, j = i + 1, 0
        return out

    def count_above(self, high: Any) -> int:
        """How many keys are > ``high`` (sums bucket sizes from the nearer end)."""
        maxes, buckets = self._maxes, self._buckets
        i = bisect_right(maxes, high)
        if i == len(maxes):
            return 0
        bucket = buckets[i]
        within = bisect_right(bucket, high)
        if i < len(buckets) // 2:
            below = sum(map(len, buckets[:i])) + within
            return self._len - below
        return len(bucket) - within + sum(map(len, buckets[i + 1 :]))
