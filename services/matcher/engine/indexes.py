"""Indexes that let one event find its counterparts without scanning the book.

- ``OfferIndex``: offers with quantity available, sorted by price per kg, filed by delivery
  region ("anywhere" or each province shipped to) and by 30-day bucket of the days they can
  arrive. A demand merges the lists of its own province and "anywhere" for the buckets its
  delivery window touches, cheapest first, and stops at its ceiling: farm produce is seasonal,
  so dates are what most near misses fail on, and the buckets skip them without looking.
- ``WaitingDemands``: demands with open quantity in arrival order, searchable by ceiling, so an
  offer visits only the oldest demands that admit its price; each demand's delivery window
  rides along in the tree, so those it cannot reach in time are passed over without a look.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
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


def _slots(t: OfferTerms) -> tuple[Slot, ...]:
    first, last = t.ready_start // BUCKET_DAYS, t.ready_end // BUCKET_DAYS
    buckets = range(first, last + 1) if last - first < MAX_BUCKETS else (LONG,)
    regions = (ANYWHERE,) if t.ships_to is None else t.ships_to
    return tuple((b, r) for b in buckets for r in regions)


def high_key(ceiling_milli: int | None) -> OfferKey:
    """The largest key an offer within the ceiling can have."""
    return TOP if ceiling_milli is None else ((ceiling_milli + 1) << SEQ_BITS) - 1


class OfferIndex:
    __slots__ = ("all", "by_seq", "lists", "serving_count")

    def __init__(self) -> None:
        self.all = SortedKeys()  # every indexed offer: counts for the unmatched reason
        self.lists: dict[Slot, SortedKeys] = {}
        self.serving_count: dict[str, int] = {}  # ANYWHERE or province -> offers indexed
        self.by_seq: dict[int, OfferState] = {}  # key & SEQ_MASK -> offer

    def __len__(self) -> int:
        return len(self.all)

    @staticmethod
    def placement(o: OfferState) -> tuple[OfferKey, tuple[Slot, ...], tuple[str, ...]] | None:
        """Where ``o`` belongs now: None unless it is active with quantity available."""
        if not o.active or o.available_kg <= 0:
            return None
        t = o.terms
        regions = (ANYWHERE,) if t.ships_to is None else t.ships_to
        return (t.price_milli << SEQ_BITS) | o.seq, _slots(t), regions

    @classmethod
    def filing(cls, o: OfferState) -> Filing:
        """(terms, key, lists, regions) of ``o``'s current terms, kept on the offer while its
        terms stay the same object: an offer leaves and re-enters the index as proposals
        reserve and release it, and its lists need not be worked out again each time."""
        filing = o.filing
        if filing is None or filing[0] is not o.terms:
            t = o.terms
            regions = (ANYWHERE,) if t.ships_to is None else t.ships_to
            filing = o.filing = (t, (t.price_milli << SEQ_BITS) | o.seq, _slots(t), regions)
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
            _, key, slots, regions = indexed
            self.all.remove(key)
            del self.by_seq[o.seq]
            for slot in slots:
                if not lists[slot].remove(key):
                    del lists[slot]
            for region in regions:
                counts[region] -= 1
        if want is not None:
            _, key, slots, regions = want
            self.all.add(key)
            self.by_seq[o.seq] = o
            for slot in slots:
                lst = lists.get(slot)
                if lst is None:
                    lst = lists[slot] = SortedKeys()
                lst.add(key)
            for region in regions:
                counts[region] = counts.get(region, 0) + 1
        o.indexed = want

    def serving(
        self, province: str, high: OfferKey, start: int, end: int, chunk: int = 128
    ) -> Iterator[list[OfferKey]]:
        """Offers that deliver to ``province``, keyed <= ``high`` and ready in a bucket
        the window [start, end] (ordinals) touches: cheapest, then oldest, first, in batches.
        A superset of the offers that pass "region" and "dates": the caller checks every rule.
        Batches are merged from sorted slices (C speed) rather than key by key."""
        first, last = start // BUCKET_DAYS, end // BUCKET_DAYS
        lists, regions = self.lists, (ANYWHERE, province)
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

    def count_above(self, high: OfferKey) -> int:
        return self.all.count_above(high)

    def count_serving(self, province: str) -> int:
        counts = self.serving_count
        return counts.get(ANYWHERE, 0) + counts.get(province, 0)


class WaitingDemands:
    """Active demands in arrival order; those with open quantity are findable by ceiling.
    The tree holds the demand states themselves (hashed by identity), so an offer visiting
    hundreds of demands reads each one's window without a lookup by id."""

    __slots__ = ("_open", "_tree")

    def __init__(self) -> None:
        self._tree = FifoMaxTree()
        self._open = 0  # demands with open quantity (value above -inf)

    def __len__(self) -> int:
        """Demands waiting with open quantity."""
        return self._open

    def add(self, d: DemandState) -> None:
        """Queue a new demand (it must be the newest by arrival seq)."""
        value, t = self._value(d), d.terms
        self._tree.append(d, value, t.window_start, t.window_end)
        self._open += value != NEG

    def sync(self, d: DemandState) -> None:
        tree = self._tree
        before = tree.value(d) if d in tree else None
        if not d.active:
            if before is not None:
                tree.remove(d)
                self._open -= before != NEG
            return
        value, t = self._value(d), d.terms
        if before is None:
            raise KeyError(f"demand {d.demand_id!r} was never queued")
        tree.set(d, value, t.window_start, t.window_end)  # an update may move the window
        self._open += (value != NEG) - (before != NEG)

    def admitting(self, price: float, start: int, end: int, limit: int) -> Iterator[DemandState]:
        """Waiting demands whose ceiling is >= price and whose delivery window overlaps the
        days [start, end], oldest first, among the oldest ``limit`` demands admitting the
        price (whatever their window: a date miss costs a scan step like any other)."""
        return self._tree.at_least(price, start, end, limit)

    def queued(self) -> Iterator[str]:
        """Every active demand id, oldest first."""
        return map(_demand_id, self._tree.keys())

    def value(self, d: DemandState) -> float | None:
        tree = self._tree
        return tree.value(d) if d in tree else None

    def window(self, d: DemandState) -> tuple[int, int] | None:
        tree = self._tree
        return tree.span(d) if d in tree else None

    @staticmethod
    def _value(d: DemandState) -> float:
        return d.terms.ceiling_f if d.active and d.open_kg > 0 else NEG


_demand_id = attrgetter("demand_id")
