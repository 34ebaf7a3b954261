"""Why a demand stays open, in words an organizer understands.

Price and region failures are counted exactly from the indexes (O(log n)); the other rules are
counted on a bounded sample: the cheapest open offers that pass price and region (looking at no
more than ``scan_limit`` offers). The reason names the rule that failed most often.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.reference import province_by_code

from .constraints import RULES, failures
from .indexes import SEQ_MASK, high_key
from .records import DemandState

if TYPE_CHECKING:
    from .book import MarketBook

_FAILING = {rule.name: rule.failing for rule in RULES}
_FAILING["history"] = "were already declined or expired for this demand"
_SAMPLED = (*[rule.name for rule in RULES if rule.name not in ("price", "region")], "history")


def unmatched_reason(book: MarketBook, d: DemandState) -> str:
    index, dt = book.offer_index, d.terms
    total = len(index)
    if total == 0:
        if book.active_offers == 0:
            return "no open offer in this market"
        return "quantity: every offer in this market is already reserved or confirmed"
    high = high_key(dt.ceiling_milli)
    price = index.count_above(high)
    region = total - index.count_serving(dt.province)
    counts = dict.fromkeys(_SAMPLED, 0)
    sampled, open_kg, did = 0, d.open_kg, d.demand_id
    sample, looked = book.config.candidate_limit, 0
    for key in index.all.up_to(high):
        if sampled >= sample or looked >= book.config.scan_limit:
            break
        looked += 1
        o = index.by_seq[key & SEQ_MASK]
        ships = o.terms.ships_set
        if ships is not None and dt.province not in ships:
            continue  # counted exactly above
        sampled += 1
        pair = book.pairs.get((o.offer_id, did))
        if pair is not None and pair.blocked:
            counts["history"] += 1
            continue
        for name in failures(o.terms, dt, min(o.available_kg, open_kg), open_kg):
            if name in counts:
                counts[name] += 1
    best_name, best = "", 0
    for name, count in (("price", price), ("region", region), *counts.items()):
        if count > best:
            best_name, best = name, count
    if best == 0:
        return "limit: offers that fit were left to a later event by the per-event limits"
    if best_name == "price":
        return f"price: {best} of {total} open offers {_FAILING['price']}"
    if best_name == "region":
        where = province_by_code(dt.province).name
        return f"region: {best} of {total} open offers do not deliver to {where}"
    return (
        f"{best_name}: {best} of the {sampled} cheapest open offers within price and region "
        f"{_FAILING[best_name]}"
    )
