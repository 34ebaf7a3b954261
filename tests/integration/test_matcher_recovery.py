"""Kill -9 the matcher mid-stream, and add a second worker mid-stream: on the real broker the
outcome must equal one uninterrupted run (no kilogram twice, no match id twice, nothing lost)."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from schemas import events as ev
from services.common.topics import ensure_topics
from tests.integration import matcher_harness as harness
from tests.support import eventually

pytestmark = pytest.mark.infra
COUNT = 3000


@pytest.fixture
def private(infra: Settings) -> Settings:
    run = uuid.uuid4().hex[:8]
    settings = infra.model_copy(update={
        "topic_prefix": f"recovery-{run}.", "topic_partitions": 4, "match_tick_seconds": 3600.0,
    })  # fmt: skip
    asyncio.run(ensure_topics(settings))
    return settings


def _group(settings: Settings, name: str) -> ServiceGroup:
    return ServiceGroup(settings, settings.home / "test-logs" / settings.topic_prefix / name)


def _kill_when_through(
    settings: Settings, expected: dict[str, bytes], share: float, name: str
) -> None:
    """Start a worker and kill -9 it once ``share`` of the outputs are out."""
    _kill_when(settings, expected, name, lambda: eventually(
        lambda: harness.output_count(settings) >= len(expected) * share,
        timeout=120, what=f"the matcher to be {share:.0%} through",
    ))  # fmt: skip


def _kill_when(
    settings: Settings, expected: dict[str, bytes], name: str, wait: Callable[[], object]
) -> None:
    """Start a worker, ``wait``, and kill -9 it; it must not have finished by then."""
    group = _group(settings, name)
    group.start("matcher")
    try:
        wait()
        os.killpg(group.procs["matcher"].pid, signal.SIGKILL)
        group.procs["matcher"].wait(10)
        assert not harness.all_emitted(settings, expected), (
            "the worker finished before the kill; raise COUNT"
        )
    finally:
        group.stop()


def _run_to_the_end(settings: Settings, expected: dict[str, bytes], name: str) -> Counter:
    """Start a worker and let it finish; the outputs must equal the uninterrupted run's."""
    group = _group(settings, name)
    group.start("matcher")
    try:
        eventually(lambda: harness.all_emitted(settings, expected), timeout=180,
                   what=f"the {name} matcher to finish")  # fmt: skip
        seen = harness.compare(expected, asyncio.run(harness.read_outputs(settings)))
        group.raise_if_exited()
    finally:
        group.stop()
    return seen


def test_kill_9_mid_stream_then_restart_equals_one_uninterrupted_run(private: Settings):
    stream = harness.stream_with_decisions(private, COUNT)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    _kill_when_through(private, expected, 0.25, "first")
    seen = _run_to_the_end(private, expected, "second")
    assert sum(seen.values()) >= len(expected)


def test_kill_9_again_and_again_equals_one_uninterrupted_run(private: Settings):
    """Batches make a kill land in the middle of a batch's writes more often than not; kill the
    worker three times, each time after more progress, then let a last one finish."""
    stream = harness.stream_with_decisions(private, 3 * COUNT, seed=23)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    for n, share in enumerate((0.15, 0.4, 0.65)):
        _kill_when_through(private, expected, share, f"run-{n}")
    _run_to_the_end(private, expected, "last")


def test_second_worker_joining_mid_stream_equals_one_uninterrupted_run(private: Settings):
    stream = harness.stream_with_decisions(private, COUNT, seed=11)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    workers = [_group(private, "a"), _group(private, "b")]
    workers[0].start("matcher")
    try:
        eventually(lambda: harness.output_count(private) >= len(expected) // 4, timeout=120,
                   what="the first worker to be a quarter through")  # fmt: skip
        assert harness.output_count(private) < len(expected), "finished too early; raise COUNT"
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
    stream = harness.stream_with_decisions(private, 2 * COUNT // 3, seed=5, rounds=True)
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
        _kill_when(private, expected, f"run-{n}", wait)
    _run_to_the_end(private, expected, "last")
