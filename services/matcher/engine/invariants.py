"""The ledger's invariants, checked on demand (tests, and after a restore in production).

No kilogram is promised twice: for every order reserved + confirmed <= its quantity, and every
pending match is counted exactly once on both sides. The indexes must agree with the ledger,
or candidates would be missed or found twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from .fifo import NEG

if TYPE_CHECKING:
    from .book import MarketBook


def _ensure(ok: bool, message: str) -> None:
    if not ok:
        raise AssertionError(message)


def check_book(book: MarketBook) -> None:
    matches = book.matches
    for mid, m in matches.items():
        where = f"match {mid} ({m.offer_id} -> {m.demand_id})"
        _ensure(m.quantity_kg > 0, f"{where}: quantity {m.quantity_kg} is not positive")
        o, d = book.offers.get(m.offer_id), book.demands.get(m.demand_id)
        _ensure(o is not None and mid in o.pending, f"{where}: not pending on its offer")
        _ensure(d is not None and mid in d.pending, f"{where}: not pending on its demand")
        pair = book.pairs.get((m.offer_id, m.demand_id))
        _ensure(pair is not None and pair.proposals >= 1, f"{where}: no pair history")
    queued = {mid for _, _, mid in book._expiry}
    missing = [mid for mid in matches if mid not in queued]
    _ensure(not missing, f"pending matches without expiry: {sorted(missing)[:5]}")

    active, indexed = 0, 0
    for oid, o in book.offers.items():
        where = f"offer {oid}"
        reserved = sum((matches[mid].quantity_kg for mid in o.pending), Decimal(0))
        _ensure(reserved == o.reserved_kg, f"{where}: reserved {o.reserved_kg} != {reserved}")
        _ensure(o.reserved_kg >= 0 and o.confirmed_kg >= 0, f"{where}: negative quantity")
        _ensure(
            o.reserved_kg + o.confirmed_kg <= o.offered_kg,
            f"{where}: reserved {o.reserved_kg} + confirmed {o.confirmed_kg} "
            f"> offered {o.offered_kg}",
        )
        _ensure(o.active or not o.pending, f"{where}: withdrawn but has pending matches")
        for mid in o.pending:
            _ensure(matches[mid].offer_id == oid, f"{where}: holds {mid} of another offer")
        should = o.active and o.available_kg > 0
        _ensure(
            (o.indexed is not None) == should,
            f"{where}: {'missing from' if should else 'stale in'} the offer index",
        )
        if o.indexed is not None:
            terms, key, slots, regions = o.indexed
            placed = (key, slots, regions) == book.offer_index.placement(o)
            _ensure(placed and terms is o.terms, f"{where}: filed by old terms")
            _ensure(key in book.offer_index.all, f"{where}: key not in the offer index")
            lists = book.offer_index.lists
            _ensure(all(key in lists[s] for s in slots), f"{where}: missing from a list")
            _ensure(book.offer_index.by_seq.get(o.seq) is o, f"{where}: not found by its seq")
        active += o.active
        indexed += o.indexed is not None
    _ensure(active == book.active_offers, f"active offers {book.active_offers} != {active}")
    index = book.offer_index
    _ensure(indexed == len(index), f"offer index holds {len(index)} keys, not {indexed}")
    _ensure(indexed == len(index.by_seq), f"offer index maps {len(index.by_seq)} seqs")
    filed = sum(len(lst) for lst in index.lists.values())
    expected = sum(len(o.indexed[2]) for o in book.offers.values() if o.indexed is not None)
    _ensure(filed == expected, f"offer lists hold {filed} keys, expected {expected}")

    waiting = 0
    for did, d in book.demands.items():
        where = f"demand {did}"
        reserved = sum((matches[mid].quantity_kg for mid in d.pending), Decimal(0))
        _ensure(reserved == d.reserved_kg, f"{where}: reserved {d.reserved_kg} != {reserved}")
        _ensure(d.reserved_kg >= 0 and d.confirmed_kg >= 0, f"{where}: negative quantity")
        _ensure(
            d.reserved_kg + d.confirmed_kg <= d.wanted_kg,
            f"{where}: reserved {d.reserved_kg} + confirmed {d.confirmed_kg} "
            f"> wanted {d.wanted_kg}",
        )
        _ensure(d.active or not d.pending, f"{where}: cancelled but has pending matches")
        for mid in d.pending:
            _ensure(matches[mid].demand_id == did, f"{where}: holds {mid} of another demand")
        value = book.waiting.value(d)
        if not d.active:
            _ensure(value is None, f"{where}: cancelled but still queued")
            continue
        ceiling = d.terms.ceiling_f if d.open_kg > 0 else NEG
        _ensure(value == ceiling, f"{where}: queued with {value}, expected {ceiling}")
        window = (d.terms.window_start, d.terms.window_end)
        _ensure(book.waiting.window(d) == window, f"{where}: queued with another window")
        waiting += d.open_kg > 0
    _ensure(waiting == len(book.waiting), f"waiting count {len(book.waiting)} != {waiting}")
    order = [book.demands[did].seq for did in book.waiting.queued()]
    _ensure(order == sorted(order), "waiting demands are not in arrival order")
    _check_pools(book)
    _check_reasons(book)


def _check_pools(book: MarketBook) -> None:
    """Offers are filed in their pool, and pairs never cross pools."""
    index = book.offer_index
    for oid, o in book.offers.items():
        if o.indexed is not None and o.terms.pool is not None:
            keys = index.pools.get(o.terms.pool)
            _ensure(keys is not None and o.indexed[1] in keys, f"offer {oid}: not in its pool")
    pooled = sum(len(keys) for keys in index.pools.values())
    expected = sum(1 for o in book.offers.values() if o.indexed is not None and o.terms.pool)
    _ensure(pooled == expected, f"pools hold {pooled} offers, expected {expected}")
    for mid, m in book.matches.items():
        o, d = book.offers[m.offer_id], book.demands[m.demand_id]
        _ensure(o.terms.pool == d.terms.pool, f"match {mid}: pairs two pools")


def _check_reasons(book: MarketBook) -> None:
    """Every demand still waiting for a reason is queued with its stamp, none from the future."""
    queued = {(stamp, did) for stamp, _, did in book._reasons}
    for did, d in book.demands.items():
        _ensure(d.reason_at <= book._offer_changes, f"demand {did}: reason judged in the future")
        if d.active and not d.filled:
            _ensure((d.reason_at, did) in queued, f"demand {did}: not queued for its reason")
