"""Indexes that let one event find its counterparts without scanning the book.

- ``OfferIndex``: offers with quantity available, sorted by price per kg, filed by delivery
  region ("anywhere" or each province shipped to) and by 30-day bucket of the days they can
  arrive. A demand merges the lists of its own province and "anywhere" for the buckets its
  delivery window touches, cheapest first, and stops at its ceiling: farm produce is seasonal,
  so dates are what most near misses fail on, and the buckets skip them without looking.
- ``WaitingDemands``: demands with open quantity in arrival order, searchable by ceiling, so an
  offer visits only the oldest demands that admit its price; each demand's delivery window
  rides along in the tree, so those it cannot reach in time are passed over without a look.

Orders of a session-scoped session form a closed pool (``terms.pool``): they are filed apart
(their regions qualified by the pool, their demands in a tree of their own), so a search never
spends its limits on orders it may not pair with, and the public market (pool None) keeps the
very structures it had before pools existed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from heapq import merge
from operator import attrgetter

from .fifo import NEG, FifoMaxTree
from .records import DemandState, OfferState
from .sortedkeys import SortedKeys
from .terms import OfferTerms

OfferKey = int  # price per kg in thousandths << SEQ_BITS | arrival seq: one int compares fast
SEQ_BITS = 40
SEQ_MASK = (1 << SEQ_BITS) - 1
TOP = 1 << 256  # above every key: no ceiling
Slot = tuple[int, str]  # (day bucket or LONG, province code or ANYWHERE)
BUCKET_DAYS = 30
MAX_BUCKETS = 8  # an offer ready over more buckets is filed once, as LONG, and always read
LONG = -1
ANYWHERE = "*"
Filing = tuple[OfferTerms, OfferKey, tuple[Slot, ...], tuple[str, ...]]


def pooled(region: str, pool: str | None) -> str:
    """A region as filed for ``pool``: unchanged in the market, qualified in a closed pool
    (ids never contain "/", so a qualified region never equals a market one)."""
    return region if pool is None else f"{pool}/{region}"


def _regions(t: OfferTerms) -> tuple[str, ...]:
    regions = (ANYWHERE,) if t.ships_to is None else t.ships_to
    pool = t.pool
    return regions if pool is None else tuple(pooled(r, pool) for r in regions)


def _slots(t: OfferTerms) -> tuple[Slot, ...]:
    first, last = t.ready_start // BUCKET_DAYS, t.ready_end // BUCKET_DAYS
    buckets = range(first, last + 1) if last - first < MAX_BUCKETS else (LONG,)
    regions = _regions(t)
    return tuple((b, r) for b in buckets for r in regions)


def high_key(ceiling_milli: int | None) -> OfferKey:
    """The largest key an offer within the ceiling can have."""
    return TOP if ceiling_milli is None else ((ceiling_milli + 1) << SEQ_BITS) - 1


class OfferIndex:
    __slots__ = ("all", "by_seq", "lists", "pools", "serving_count")

    def __init__(self) -> None:
        self.all = SortedKeys()  # every indexed offer: counts for the unmatched reason
        self.pools: dict[str, SortedKeys] = {}  # closed pool -> its indexed offers (not None)
        self.lists: dict[Slot, SortedKeys] = {}
        self.serving_count: dict[str, int] = {}  # (pooled) ANYWHERE or province -> offers
        self.by_seq: dict[int, OfferState] = {}  # key & SEQ_MASK -> offer

    def __len__(self) -> int:
        return len(self.all)

    @staticmethod
    def placement(o: OfferState) -> tuple[OfferKey, tuple[Slot, ...], tuple[str, ...]] | None:
        """Where ``o`` belongs now: None unless it is active with quantity available."""
        if not o.active or o.available_kg <= 0:
            return None
        t = o.terms
        return (t.price_milli << SEQ_BITS) | o.seq, _slots(t), _regions(t)

    @classmethod
    def filing(cls, o: OfferState) -> Filing:
        """(terms, key, lists, regions) of ``o``'s current terms, kept on the offer while its
        terms stay the same object: an offer leaves and re-enters the index as proposals
        reserve and release it, and its lists need not be worked out again each time."""
        filing = o.filing
        if filing is None or filing[0] is not o.terms:
            t = o.terms
            filing = o.filing = (t, (t.price_milli << SEQ_BITS) | o.seq, _slots(t), _regions(t))
        return filing

    def sync(self, o: OfferState) -> None:
        """Put ``o`` where its current terms and quantity say (or take it out)."""
        indexed = o.indexed
        if o.active and o.available_kg > 0:
            want: Filing | None = self.filing(o)
            if want is indexed:
                return
        elif indexed is None:
            return
        else:
            want = None
        lists, counts = self.lists, self.serving_count
        if indexed is not None:
            terms, key, slots, regions = indexed
            self.all.remove(key)
            if terms.pool is not None:
                self._unpool(terms.pool, key)
            del self.by_seq[o.seq]
            for slot in slots:
                if not lists[slot].remove(key):
                    del lists[slot]
            for region in regions:
                counts[region] -= 1
                if terms.pool is not None and not counts[region]:
                    del counts[region]  # a closed session's pool empties for good
        if want is not None:
            terms, key, slots, regions = want
            self.all.add(key)
            if terms.pool is not None:
                keys = self.pools.get(terms.pool)
                if keys is None:
                    keys = self.pools[terms.pool] = SortedKeys()
                keys.add(key)
            self.by_seq[o.seq] = o
            for slot in slots:
                lst = lists.get(slot)
                if lst is None:
                    lst = lists[slot] = SortedKeys()
                lst.add(key)
            for region in regions:
                counts[region] = counts.get(region, 0) + 1
        o.indexed = want

    def _unpool(self, pool: str, key: OfferKey) -> None:
        keys = self.pools[pool]
        keys.remove(key)
        if not len(keys):
            del self.pools[pool]  # a closed session's pool empties for good

    def serving(
        self,
        province: str,
        high: OfferKey,
        start: int,
        end: int,
        chunk: int = 128,
        pool: str | None = None,
    ) -> Iterator[list[OfferKey]]:
        """Offers of ``pool`` that deliver to ``province``, keyed <= ``high`` and ready in a
        bucket the window [start, end] (ordinals) touches: cheapest, then oldest, first, in
        batches. A superset of the offers that pass "region" and "dates": the caller checks
        every rule. Batches are merged from sorted slices (C speed) rather than key by key."""
        first, last = start // BUCKET_DAYS, end // BUCKET_DAYS
        lists = self.lists
        regions = (pooled(ANYWHERE, pool), pooled(province, pool))
        if last - first < 4 * MAX_BUCKETS:
            found = [lists.get((b, r)) for b in range(first, last + 1) for r in regions]
        else:  # a very long window: read every bucket there is (few, as empty ones go)
            found = [lst for (b, r), lst in lists.items() if r in regions and first <= b <= last]
        found += [lists.get((LONG, r)) for r in regions]
        repeats = last > first or found[-2] is not None or found[-1] is not None
        # a list whose cheapest key is above the ceiling would never add a key: leave it out
        streams = [lst for lst in found if lst is not None and lst.first() <= high]
        after = None
        while streams:
            bound, batch, full = high, [], False
            for lst in streams:
                keys = lst.take(after, high, chunk)
                if len(keys) == chunk:
                    full = True
                    bound = min(bound, keys[-1])
                batch += keys
            if len(streams) > 1:
                batch.sort()
                if full:
                    del batch[bisect_right(batch, bound) :]
                if repeats:  # an offer is filed in every bucket it spans
                    batch = list(dict.fromkeys(batch))
            if batch:
                yield batch
            if not full:
                return
            after = bound

    def in_pool(self, pool: str | None) -> list[OfferState]:
        """Every indexed offer of a closed pool (or lane), cheapest first."""
        keys = self.pools.get(pool) if pool is not None else None
        if keys is None:
            return []
        by_seq = self.by_seq
        return [by_seq[key & SEQ_MASK] for key in keys]

    def count_above(self, high: OfferKey, pool: str | None = None) -> int:
        """Offers of ``pool`` keyed above ``high`` (priced above a ceiling)."""
        if pool is not None:
            keys = self.pools.get(pool)
            return 0 if keys is None else keys.count_above(high)
        above = self.all.count_above(high)
        for keys in self.pools.values():  # few: the sessions of this market with open offers
            above -= keys.count_above(high)
        return above

    def count_serving(self, province: str, pool: str | None = None) -> int:
        counts = self.serving_count
        return counts.get(pooled(ANYWHERE, pool), 0) + counts.get(pooled(province, pool), 0)

    def pool_size(self, pool: str | None) -> int:
        """Offers indexed in ``pool`` (None: the public market)."""
        if pool is not None:
            keys = self.pools.get(pool)
            return 0 if keys is None else len(keys)
        return len(self.all) - sum(len(keys) for keys in self.pools.values())

    def cheapest(self, high: OfferKey, pool: str | None, limit: int) -> Iterator[OfferState]:
        """Offers of ``pool`` keyed <= ``high``, cheapest first, among the first ``limit``
        keys walked: in the market the walk passes other pools' keys, and they count."""
        by_seq = self.by_seq
        if pool is not None:
            keys = self.pools.get(pool)
            if keys is None:
                return
            for key in keys.up_to(high):
                if limit <= 0:
                    return
                limit -= 1
                yield by_seq[key & SEQ_MASK]
            return
        for key in self.all.up_to(high):
            if limit <= 0:
                return
            limit -= 1
            o = by_seq[key & SEQ_MASK]
            if o.terms.pool is None:
                yield o


class WaitingDemands:
    """Active demands in arrival order; those with open quantity are findable by ceiling.
    The tree holds the demand states themselves (hashed by identity), so an offer visiting
    hundreds of demands reads each one's window without a lookup by id. Each closed pool has
    a tree of its own (a demand's pool never changes: the book keeps the first one)."""

    __slots__ = ("_open", "_pools", "_tree")

    def __init__(self) -> None:
        self._tree = FifoMaxTree()  # the public market's
        self._pools: dict[str, FifoMaxTree] = {}
        self._open = 0  # demands with open quantity (value above -inf)

    def __len__(self) -> int:
        """Demands waiting with open quantity."""
        return self._open

    def _of(self, pool: str | None) -> FifoMaxTree | None:
        return self._tree if pool is None else self._pools.get(pool)

    def add(self, d: DemandState) -> None:
        """Queue a new demand (it must be the newest by arrival seq)."""
        value, t = self._value(d), d.terms
        pool = t.pool
        tree = self._of(pool)
        if tree is None:
            assert pool is not None
            tree = self._pools[pool] = FifoMaxTree(capacity=16)  # sessions are small
        tree.append(d, value, t.window_start, t.window_end)
        self._open += value != NEG

    def sync(self, d: DemandState) -> None:
        pool = d.terms.pool
        tree = self._of(pool)
        before = tree.value(d) if tree is not None and d in tree else None
        if not d.active:
            if tree is not None and before is not None:
                tree.remove(d)
                self._open -= before != NEG
                if pool is not None and not len(tree):
                    del self._pools[pool]
            return
        value, t = self._value(d), d.terms
        if tree is None or before is None:
            raise KeyError(f"demand {d.demand_id!r} was never queued")
        tree.set(d, value, t.window_start, t.window_end)  # an update may move the window
        self._open += (value != NEG) - (before != NEG)

    def admitting(
        self, price: float, start: int, end: int, limit: int, pool: str | None = None
    ) -> Iterator[DemandState]:
        """Waiting demands of ``pool`` whose ceiling is >= price and whose delivery window
        overlaps the days [start, end], oldest first, among the oldest ``limit`` demands
        admitting the price (whatever their window: a date miss costs a scan step like any
        other)."""
        tree = self._of(pool)
        return iter(()) if tree is None else tree.at_least(price, start, end, limit)

    def queued(self) -> Iterator[str]:
        """Every active demand id, oldest first (all pools)."""
        if not self._pools:
            return map(_demand_id, self._tree.keys())
        trees = [self._tree.keys()] + [tree.keys() for tree in self._pools.values()]
        return map(_demand_id, merge(*trees, key=_seq))

    def value(self, d: DemandState) -> float | None:
        tree = self._of(d.terms.pool)
        return tree.value(d) if tree is not None and d in tree else None

    def window(self, d: DemandState) -> tuple[int, int] | None:
        tree = self._of(d.terms.pool)
        return tree.span(d) if tree is not None and d in tree else None

    def hide(self, d: DemandState) -> None:
        """Take ``d`` out of searches until ``sync(d)`` puts it back (a round building its
        arcs hides demands already claimed over)."""
        tree = self._of(d.terms.pool)
        if tree is not None and d in tree and tree.value(d) != NEG:
            t = d.terms
            tree.set(d, NEG, t.window_start, t.window_end)
            self._open -= 1

    def active_in(self, pool: str | None) -> int:
        """Active demands of ``pool`` (open or not): a lane's size, without walking it."""
        tree = self._of(pool)
        return 0 if tree is None else len(tree)

    def lanes(self) -> list[str]:
        """The closed pools (and lanes) holding active demands, sorted."""
        return sorted(self._pools)

    def open_in(self, pool: str | None) -> list[DemandState]:
        """Active demands of ``pool`` with open quantity, oldest first."""
        tree = self._of(pool)
        if tree is None:
            return []
        return [d for d in tree.keys() if d.open_kg > 0 and not d.filled]  # noqa: SIM118

    @staticmethod
    def _value(d: DemandState) -> float:
        return d.terms.ceiling_f if d.active and d.open_kg > 0 else NEG


_demand_id = attrgetter("demand_id")
_seq = attrgetter("seq")
