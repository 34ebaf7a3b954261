"""The matcher applies each partition's events without holes, whatever Faust loses around a
rebalance (tests/integration/test_matcher_scale_out.py runs the real thing).

Two pure parts: which partitions the consumer rewinds to their beginning when it seeks to
the committed offsets (services/common/faust_app.py), and how much of a batch continues a
partition's stream (services/matcher/durable.py).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from services.common.faust_app import uncommitted
from services.matcher.durable import continuing


class TP(NamedTuple):
    topic: str
    partition: int


def test_partitions_without_a_committed_offset_are_rewound():
    committed = {
        TP("orders", 0): None,  # no commit yet: aiokafka's seek_to_committed leaves it
        TP("orders", 1): 0,  # committed 0: aiokafka skips it too
        TP("orders", 2): 57,  # aiokafka seeks this one itself
        TP("matcher-book-changelog", 0): None,  # Faust's recovery places changelogs
    }
    assert uncommitted(committed, {"orders"}) == [TP("orders", 0), TP("orders", 1)]
    assert uncommitted(committed, set()) == []


@pytest.mark.parametrize(
    ("offsets", "expected", "result"),
    [
        ([5, 6, 7], 5, (3, 8)),  # continues
        ([], 5, (0, 5)),  # nothing taken
        ([2, 3, 4, 5, 6], 5, (5, 7)),  # redeliveries up to the marker, then new ones
        ([0, 1], 5, (2, 5)),  # redeliveries only (a rewind to the committed offset)
        ([8, 9], 5, (0, 5)),  # 5..7 never arrived: all wait, read again from 5
        ([5, 6, 9, 10], 5, (2, 7)),  # a hole inside the batch: 7 and 8 missing
        ([0, 1, 2], 0, (3, 3)),  # a partition's first events, no marker yet
        ([242], 0, (0, 0)),  # no marker, the first events skipped (the scale-out bug)
    ],
)
def test_a_batch_is_applied_up_to_its_first_hole(offsets, expected, result):
    assert continuing(offsets, expected) == result
