"""Run a seeded stream through the engine and print a digest of everything it decided and
stored: ``python -m tests.unit.engine_digest`` under each KETNOI_ENGINE gives the same line."""

from __future__ import annotations

import hashlib
import json
import sysconfig
from datetime import timedelta

from bench.core_throughput import MARKET, Stream, outcome_text
from services.matcher import engine
from services.matcher.engine import MarketBook, MatchConfig, allocation, book, fifo, indexes, terms


def digest(book_size: int = 400, events: int = 4_000, seed: int = 11) -> str:
    """Short proposal lives and a small scan limit, so expiry and the limits take part."""
    config = MatchConfig(proposal_ttl=timedelta(hours=2), scan_limit=64)
    stream = Stream(MarketBook(MARKET, config), seed, cross=0.4)
    stream.seed_book(book_size)
    h = hashlib.sha256()
    kinds: dict[str, int] = {}
    for _ in range(events):
        event = stream.next_event()
        outcomes = stream.feed(event)
        for o in outcomes:
            kinds[type(o).__name__] = kinds.get(type(o).__name__, 0) + 1
            h.update(outcome_text(o).encode())
        h.update(json.dumps(stream.changes, sort_keys=True, default=str).encode())
    stream.book.check_invariants()
    return f"{h.hexdigest()} {json.dumps(kinds, sort_keys=True)}"


def loaded_from() -> str:
    """ "compiled" when the engine's modules really are the build's extension modules."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    modules = [book, allocation, fifo, indexes, terms]
    return "compiled" if all(m.__file__.endswith(suffix) for m in modules) else "python"


if __name__ == "__main__":
    assert loaded_from() == engine.IMPLEMENTATION, (loaded_from(), engine.IMPLEMENTATION)
    print(engine.IMPLEMENTATION, digest())
