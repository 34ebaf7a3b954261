"""Run a seeded stream through the engine and print a digest of everything it decided and
stored: ``python -m tests.unit.engine_digest`` under each KETNOI_ENGINE gives the same line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta

from bench.core_throughput import MARKET, Stream
from services.matcher import engine
from services.matcher.engine import MarketBook, MatchConfig


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
            h.update(f"{type(o).__name__}{sorted(dataclasses.asdict(o).items())}".encode())
        h.update(json.dumps(stream.changes, sort_keys=True, default=str).encode())
    stream.book.check_invariants()
    return f"{h.hexdigest()} {json.dumps(kinds, sort_keys=True)}"


if __name__ == "__main__":
    print(engine.IMPLEMENTATION, digest())
