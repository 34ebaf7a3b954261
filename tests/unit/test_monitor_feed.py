"""The monitor feed takes back the events its own process published (by their exact bytes)
instead of parsing them again, and parses everything else as before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from ketnoi.settings import Settings
from schemas.events import OfferPublished
from services.gateway.publisher import OwnEvents, encode
from services.monitor import feed as feed_module
from services.monitor.feed import KafkaFeed
from services.monitor.projection import Projection
from tests import factories


def _published(offer_id: str) -> tuple[str, bytes, bytes, OfferPublished]:
    settings = Settings()
    event = OfferPublished(event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), source="test",
                           offer=factories.offer(offer_id))  # fmt: skip
    [(topic, key, value)] = encode([(settings.topics.named(event.TOPIC), event)], 1 << 20)
    return topic, key, value, event


def _record(topic: str, key: bytes, value: bytes) -> SimpleNamespace:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    return SimpleNamespace(topic=topic, key=key, value=value, timestamp=now_ms)


def test_an_own_event_is_taken_not_parsed_and_a_foreign_one_is_parsed(monkeypatch):
    own = OwnEvents()
    feed = KafkaFeed(Settings(), Projection(), own)
    topic, key, value, event = _published("o-own")
    own.remember(topic, value, event)
    parsed = []
    real_parse = feed_module.parse_event
    monkeypatch.setattr(
        feed_module, "parse_event", lambda raw: parsed.append(raw) or real_parse(raw)
    )
    feed._apply(_record(topic, key, value))
    assert parsed == [] and len(own) == 0  # taken once, then forgotten
    assert feed.projection.offers["o-own"].supplier_id == event.offer.supplier_id
    other_topic, other_key, other_value, _ = _published("o-foreign")
    feed._apply(_record(other_topic, other_key, other_value))
    assert parsed == [other_value] and "o-foreign" in feed.projection.offers
    feed._apply(_record(topic, key, value))  # read again (a replay): parsed like any other
    assert parsed == [other_value, value] and feed.skipped == 0


@pytest.mark.parametrize("capacity", [1, 3])
def test_own_events_are_bounded_oldest_first(capacity):
    own = OwnEvents(capacity)
    unwatched = _published("o-x")
    own.remember(unwatched[0], unwatched[2], unwatched[3])
    assert len(own) == 0  # no feed reads them back: nothing is kept
    own.watched = True
    published = [_published(f"o-{i}") for i in range(capacity + 2)]
    for topic, _, value, event in published:
        own.remember(topic, value, event)
    assert len(own) == capacity
    assert own.take(published[0][0], published[0][2]) is None
    assert own.take(published[-1][0], published[-1][2]) is published[-1][3]
