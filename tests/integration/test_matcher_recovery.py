"""Kill -9 the matcher mid-stream, and add a second worker mid-stream: on the real broker the
outcome must equal one uninterrupted run (no kilogram twice, no match id twice, nothing lost).
Killing it again and again is in test_matcher_recovery_repeated.py."""

from __future__ import annotations

import asyncio
import functools

import pytest

from ketnoi.settings import Settings
from schemas import events as ev
from tests.integration import matcher_harness as harness
from tests.integration import recovery_support as recovery
from tests.support import eventually

pytestmark = pytest.mark.infra


@pytest.fixture
def private(infra: Settings) -> Settings:
    return recovery.private_settings(infra)


def test_kill_9_mid_stream_then_restart_equals_one_uninterrupted_run(private: Settings):
    stream = harness.stream_with_decisions(private, recovery.COUNT)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    recovery.kill_when_through(private, expected, 0.25, "first")
    seen = recovery.run_to_the_end(private, expected, "second")
    assert sum(seen.values()) >= len(expected)


def test_second_worker_joining_mid_stream_equals_one_uninterrupted_run(private: Settings):
    stream = harness.stream_with_decisions(private, recovery.COUNT, seed=11)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    workers = [recovery.worker(private, "a"), recovery.worker(private, "b")]
    workers[0].start("matcher")
    try:
        eventually(lambda: harness.output_count(private) >= len(expected) // 4, timeout=120,
                   what="the first worker to be a quarter through")  # fmt: skip
        assert harness.output_count(private) < len(expected), (
            "finished too early; raise COUNT (recovery_support.py)"
        )
        workers[1].start("matcher")  # joins the group: partitions move between workers
        eventually(lambda: harness.all_emitted(private, expected), timeout=180,
                   what="both workers to finish")  # fmt: skip
        harness.compare(expected, asyncio.run(harness.read_outputs(private)))
        for group in workers:
            group.raise_if_exited()
    finally:
        for group in workers:
            group.stop()


def test_kill_9_around_clearing_rounds_equals_one_uninterrupted_run(private: Settings):
    """Most orders cleared in rounds, in the market's lane or a session's pool, and a tick
    closing a round every few dozen orders of a market (harness.in_rounds). Kill -9 the worker
    three times, a round further on each time: the moment a round's first output reaches the
    topic (the rest of the round's outputs or the next batch in hand), then the moment the
    last output of its market before a round does (the round's batch in hand, or just done),
    then at a round's first output again; a last worker finishes. Rounds must really
    allocate, no offer may ever be promised beyond its quantity, and the outputs must equal
    one uninterrupted run's."""
    stream = harness.stream_with_decisions(private, 2 * recovery.COUNT // 3, seed=5, rounds=True)
    per_event = harness.outputs_per_event(private, stream)
    made = harness.round_proposals(stream, per_event)
    assert made["market"] >= 300 and made["session"] >= 30, made  # not vacuous
    harness.assert_never_over_promised(stream, per_event)
    expected = harness.by_id(per_event)
    values = [value for outputs in per_event for value in outputs]
    asyncio.run(harness.produce(private, stream))

    markets = [ev.parse_event(value).market_key for value in values]
    bursts = [  # (the market's last output before the round, the round's outputs)
        (max(i for i in range(b.start) if markets[i] == markets[b.start]), b)
        for b in harness.round_bursts(stream, per_event)
        if markets[b.start] in markets[: b.start] and b.stop < len(values) * 0.8  # work after
    ]
    for n in range(3):
        emitted = set(asyncio.run(harness.read_outputs(private)))
        ahead = [(i, b) for i, b in bursts if values[i] not in emitted]
        nearest = ahead[: max(1, len(ahead) * (n + 1) // 3)]  # one further on each time
        before, burst = max(nearest, key=lambda ib: len(ib[1]))
        at = before if n == 1 else burst.start
        what = f"output {at} (round {burst} of {len(values)})"
        wait = functools.partial(harness.await_output, private, values[at], what)
        recovery.kill_when(private, expected, f"run-{n}", wait)
    recovery.run_to_the_end(private, expected, "last")
