"""Why a demand stays open, in words an organizer understands.

Only offers of the demand's own pool (the public market, or its session-scoped session) could
fill it: the reason is about those. When none is open there but other pools hold offers, the
reason says so ("session: ..."); when some are, a note counts the others, so a buyer who sees
offers elsewhere in the market knows why they are not proposed.

Price and region failures are counted exactly from the indexes (O(log n)); the other rules are
counted on a bounded sample: the cheapest open offers that pass price and region (looking at no
more than ``scan_limit`` offers). The reason names the rule that failed most often.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.reference import province_by_code

from .constraints import RULES, failures
from .indexes import high_key
from .records import DemandState

if TYPE_CHECKING:
    from .book import MarketBook

_FAILING = {rule.name: rule.failing for rule in RULES}
_FAILING["history"] = "were already declined or expired for this demand"
_EXACT = ("session", "price", "region")  # counted from the indexes, not on the sample
_SAMPLED = (*[rule.name for rule in RULES if rule.name not in _EXACT], "history")


def unmatched_reason(book: MarketBook, d: DemandState) -> str:
    index, dt = book.offer_index, d.terms
    pool = dt.pool
    total = len(index)
    mine = index.pool_size(pool)  # the offers that could ever fill it
    others = total - mine
    if mine == 0:
        if others:
            return _outside(dt.record.get("pool"), others, total, dt.rounds)
        if book.active_offers == 0:
            return "no open offer in this market"
        return "quantity: every offer in this market is already reserved or confirmed"
    high = high_key(dt.ceiling_milli)
    price = index.count_above(high, pool)
    region = mine - index.count_serving(dt.province, pool)
    counts = dict.fromkeys(_SAMPLED, 0)
    sampled, fitting, open_kg, did = 0, 0, d.open_kg, d.demand_id
    sample = book.config.candidate_limit
    for o in index.cheapest(high, pool, book.config.scan_limit):
        if sampled >= sample:
            break
        ships = o.terms.ships_set
        if ships is not None and dt.province not in ships:
            continue  # counted exactly above
        sampled += 1
        pair = book.pairs.get((o.offer_id, did))
        if pair is not None and pair.blocked:
            counts["history"] += 1
            continue
        failed = failures(o.terms, dt, min(o.available_kg, open_kg), open_kg)
        fitting += not failed
        for name in failed:
            if name in counts:
                counts[name] += 1
    if dt.rounds and fitting:  # it waits for its round, not for a better offer
        return (
            f"round: {fitting} of the {sampled} cheapest open offers cleared in rounds fit; "
            "they are allocated at the market's next clearing round"
        )
    best_name, best = "", 0
    for name, count in (("price", price), ("region", region), *counts.items()):
        if count > best:
            best_name, best = name, count
    if best == 0:
        if dt.rounds:
            return "round: offers that fit are allocated at the market's next clearing round"
        return "limit: offers that fit were left to a later event by the per-event limits"
    session = dt.record.get("pool")  # the lane's session (pool is the lane, see terms.lane)
    among = "open offers" if session is None else "open offers of this session"
    if dt.rounds:
        among = f"{among} cleared in rounds"
    if best_name == "price":
        text = f"price: {best} of {mine} {among} {_FAILING['price']}"
    elif best_name == "region":
        where = province_by_code(dt.province).name
        text = f"region: {best} of {mine} {among} do not deliver to {where}"
    else:
        text = (
            f"{best_name}: {best} of the {sampled} cheapest {among} within price and region "
            f"{_FAILING[best_name]}"
        )
    if others:
        if dt.rounds:
            elsewhere = "matched on arrival or in other pools"
        else:
            elsewhere = "in session-scoped sessions" if pool is None else "outside this session"
        text += f" ({others} more open offers are {elsewhere} and never match it)"
    return text


def _outside(pool: str | None, others: int, total: int, rounds: bool) -> str:
    """Every open offer of the market is in another pool: scope (or the clearing mode) is
    what keeps it open."""
    if rounds:
        return (
            f"session: none of the {total} open offers in this market is cleared in rounds "
            "with it; offers matched on arrival never meet orders cleared in rounds"
        )
    if pool is None:
        return (
            f"session: {others} of {total} open offers in this market belong to a "
            "session-scoped session's closed pool; none is open in the public market"
        )
    return (
        f"session: {others} of {total} open offers in this market are outside this session; "
        "its orders match only each other (session scope)"
    )
