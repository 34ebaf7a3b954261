"""Small things people read: units with their diacritics, articles, honest log levels."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from schemas.reference.units import unit_name
from services.common import logfilters
from services.gateway.problems import indefinite
from services.monitor.projection import MatchInfo, Projection
from services.monitor.views import match_row


@pytest.mark.parametrize(
    ("code", "shown"), [("ta", "tạ"), ("tan", "tấn"), ("yen", "yến"), ("kg", "kg"), ("hop", "hộp")]
)
def test_units_are_shown_with_their_diacritics(code, shown):
    assert unit_name(code) == shown


def test_an_unknown_unit_code_is_shown_as_it_is():
    assert unit_name("bao") == "bao"


def test_the_monitor_shows_the_price_unit_as_written():
    row = match_row(Projection(), MatchInfo("m1", unit_price_vnd=4_500_000, price_unit="ta"))
    assert row["price_unit"] == "tạ"


@pytest.mark.parametrize(
    ("noun", "phrase"),
    [("organizer", "an organizer"), ("admin", "an admin"), ("enterprise", "an enterprise"),
     ("exporter", "an exporter"), ("retailer", "a retailer"), ("supplier", "a supplier"),
     ("province", "a province"), ("cooperative", "a cooperative")],
)  # fmt: skip
def test_problem_sentences_use_the_right_article(noun, phrase):
    assert indefinite(noun) == phrase


@pytest.fixture
def fetcher_records() -> Iterator[list[logging.LogRecord]]:
    """What aiokafka's fetcher logger emits, with the filter installed as the services do."""
    logfilters.install()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("aiokafka.consumer.fetcher")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def test_a_new_topic_without_a_leader_yet_is_not_an_error(fetcher_records):
    log = logging.getLogger("aiokafka.consumer.fetcher")
    log.error("Failed fetch offsets from %s: %s", 1, "[Error 6] NotLeaderForPartitionError: "
              "TopicPartition(topic='demo-1.matcher-book-changelog', partition=0)")  # fmt: skip
    log.error("Failed fetch messages from %s: %s", 1, "KafkaConnectionError: closed")
    transient, real = fetcher_records
    assert transient.levelname == "INFO" and transient.levelno == logging.INFO
    assert transient.getMessage().endswith(logfilters.NOTE)
    assert "matcher-book-changelog" in transient.getMessage()
    assert real.levelname == "ERROR"  # anything else keeps its level


def test_installing_twice_filters_once():
    logfilters.install()
    logfilters.install()
    for name in logfilters.LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, logfilters.TransientKafkaErrors) for f in filters) == 1
