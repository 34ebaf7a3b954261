"""Run a seeded stream through the engine and print a digest of everything it decided and
stored: ``python -m tests.unit.engine_digest`` under each KETNOI_ENGINE gives the same line."""

from __future__ import annotations

import hashlib
import json
import random
import sysconfig
from datetime import timedelta
from typing import Any

from bench.core_throughput import MARKET, Stream, outcome_text
from schemas import events as ev
from services.matcher import engine
from services.matcher.engine import (
    MarketBook,
    MatchConfig,
    allocation,
    book,
    clearing,
    fifo,
    indexes,
    terms,
)

ROUND_EVERY = 50
"""Events between two ticks closing a round; each third closes only the session's pool."""
SESSION = "phien-digest"


def digest(book_size: int = 400, events: int = 4_000, seed: int = 11) -> str:
    """Short proposal lives and a small scan limit, so expiry and the limits take part; a
    quarter of the new orders clear in rounds (a third of those in a session's pool), which
    ticks close (``round:`` counts what they decided)."""
    config = MatchConfig(proposal_ttl=timedelta(hours=2), scan_limit=64)
    stream = Stream(MarketBook(MARKET, config), seed, cross=0.4)
    stream.seed_book(book_size)
    rounds = random.Random(seed)
    h = hashlib.sha256()
    kinds: dict[str, int] = {}
    for i in range(1, events + 1):
        if i % ROUND_EVERY:
            event = _perhaps_in_rounds(stream.next_event(), rounds)
        else:
            pool = SESSION if i % (3 * ROUND_EVERY) == 0 else None
            event = stream.event(ev.MarketTick, 1.0, category=MARKET, closes_round=True,
                                 round_pool=pool)  # fmt: skip
        outcomes = stream.feed(event)
        for o in outcomes:
            kind = type(o).__name__
            if isinstance(event, ev.MarketTick) and event.closes_round:
                kind = f"round:{kind}"
            kinds[kind] = kinds.get(kind, 0) + 1
            h.update(outcome_text(o).encode())
        h.update(json.dumps(stream.changes, sort_keys=True, default=str).encode())
    stream.book.check_invariants()
    return f"{h.hexdigest()} {json.dumps(kinds, sort_keys=True)}"


def _perhaps_in_rounds(event: Any, rng: random.Random) -> Any:
    """A new offer or demand cleared in rounds one time in four (in the session's pool one
    time in three of those); anything else as it is (an update keeps the order's lane)."""
    if not isinstance(event, ev.OfferPublished | ev.DemandPosted) or rng.random() >= 0.25:
        return event
    field = "offer" if isinstance(event, ev.OfferPublished) else "demand"
    pool = SESSION if rng.random() < 1 / 3 else None
    order = getattr(event, field).model_copy(update={"clearing": "rounds", "pool": pool})
    return event.model_copy(update={field: order})


def loaded_from() -> str:
    """ "compiled" when the engine's modules really are the build's extension modules."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    modules = [book, allocation, clearing, fifo, indexes, terms]
    return "compiled" if all(m.__file__.endswith(suffix) for m in modules) else "python"


if __name__ == "__main__":
    assert loaded_from() == engine.IMPLEMENTATION, (loaded_from(), engine.IMPLEMENTATION)
    print(engine.IMPLEMENTATION, digest())
