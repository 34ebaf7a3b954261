"""An event the engine raises on is dead-lettered and its market goes on, replay-safely.

The engine is made to raise on one chosen event *after* it has changed the book (the worst
case: a half-applied event). The run with that event must decide exactly what a run without
it decides, in any batch cut, after a crash at any write, and every replay must dead-letter
the same event again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import pytest

from schemas import events as ev
from services.matcher.durable import DurableBooks, Output
from services.matcher.engine import MarketBook, MatchConfig
from tests.unit.test_durable_books import CONFIG, RecordingTable, _stream

POISON_AT = 3  # the fourth event of the stream (an offer arriving after the big demand)


class RaisingBook:
    """A real book that raises after applying the poison event (so it is left half-changed)."""

    def __init__(self, book: MarketBook, poison: str) -> None:
        self.book, self.poison = book, poison

    def apply(self, event: Any) -> list:
        outcomes = self.book.apply(event)
        if str(event.event_id) == self.poison:
            raise ZeroDivisionError("a bug the event triggers")
        return outcomes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.book, name)


def _books(table: dict, poison: str) -> DurableBooks:
    def restore(market: str, records: Iterable[tuple[str, dict]], config: MatchConfig) -> Any:
        return RaisingBook(MarketBook.restore(market, records, config), poison)

    return DurableBooks(table, CONFIG, restore=restore)


def _run(books: DurableBooks, items: list[tuple[int, ev.AnyEvent]], cut: int) -> list[Output]:
    return [
        out
        for start in range(0, len(items), cut)
        for outs in books.process_batch(0, items[start : start + cut])
        for out in outs
    ]


def _matches(outputs: list[Output]) -> list[bytes]:
    return [o.value for o in outputs if not o.dead_letter]


def _final_records(books: DurableBooks) -> dict[str, list]:
    return {m: sorted(books.book(m).records()) for m in books.markets()}


@pytest.fixture(scope="module")
def stream() -> list[ev.AnyEvent]:
    return _stream()


@pytest.mark.parametrize("cut", [1, 2, 4, 100])
def test_the_poison_event_is_dead_lettered_and_the_rest_decides_as_without_it(stream, cut):
    poison = stream[POISON_AT]
    items = list(enumerate(stream))
    without = DurableBooks({}, CONFIG)
    expected = _run(without, [(o, e) for o, e in items if o != POISON_AT], cut)

    books = _books({}, str(poison.event_id))
    outputs = _run(books, items, cut)

    assert _matches(outputs) == _matches(expected)
    dead = [o for o in outputs if o.dead_letter]
    assert len(dead) == 1
    record = json.loads(dead[0].value)
    assert (record["stage"], record["offset"], record["error_type"]) == (
        "engine",
        POISON_AT,
        "ZeroDivisionError",
    )
    assert "a bug the event triggers" in record["reason"] and record["where"]
    assert ev.parse_event(base64.b64decode(record["raw_base64"])) == poison
    assert _final_records(books) == _final_records(without)
    for market in books.markets():
        books.book(market).check_invariants()


@pytest.mark.parametrize("cut", [1, 3])
def test_after_a_crash_at_any_write_a_replay_dead_letters_the_same_event(stream, cut):
    poison = str(stream[POISON_AT].event_id)
    items = list(enumerate(stream))
    reference = _run(_books({}, poison), items, cut)
    full = RecordingTable()
    _run(_books(full, poison), items, cut)
    for kept in range(len(full.log) + 1):
        table = dict(full.log[:kept])
        books = _books(table, poison)
        replayed = _run(books, items, cut)  # from the first offset: nothing was committed
        assert _matches(replayed) == _matches(reference)
        assert [o.value for o in replayed if o.dead_letter] != [], f"crash after write {kept}"
