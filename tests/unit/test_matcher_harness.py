"""The kill -9 tests' reference run is computed once, while their stream is made: it must be
exactly what a run over the finished stream emits, or those tests would check nothing."""

from __future__ import annotations

from ketnoi.settings import Settings
from tests.integration import matcher_harness as harness


def test_the_outputs_kept_with_a_stream_are_a_fresh_reference_runs():
    settings = Settings(topic_prefix="harness.", mongo_db="harness")
    for rounds in (False, True):
        stream = harness.stream_with_decisions(settings, 400, seed=3, rounds=rounds)
        kept = harness.outputs_per_event(settings, stream)
        fresh = harness.outputs_per_event(settings, list(stream))  # a plain list: run again
        assert kept == fresh and sum(map(len, kept)) > 100
        assert any(b'"match.accepted"' in v or b'"match.confirmed"' in v
                   for values in kept for v in values), "the decisions were applied"  # fmt: skip


def test_an_edited_stream_or_edited_outputs_never_reach_the_kept_ones():
    settings = Settings(topic_prefix="harness.", mongo_db="harness")
    stream = harness.stream_with_decisions(settings, 200, seed=4)
    harness.outputs_per_event(settings, stream)[0].append(b"edited")
    assert b"edited" not in harness.outputs_per_event(settings, stream)[0]
    tick = stream.pop()  # the last market's expiry tick: the kept outputs no longer apply
    assert len(harness.outputs_per_event(settings, stream)) == len(stream)
    stream.append(tick)
    assert harness.outputs_per_event(settings, stream) == harness.outputs_per_event(
        settings, list(stream)
    )
