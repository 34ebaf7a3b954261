"""Kill -9 the matcher mid-stream, and add a second worker mid-stream: on the real broker the
outcome must equal one uninterrupted run (no kilogram twice, no match id twice, nothing lost)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter

import pytest

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
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
    """Start a worker and kill -9 it once ``share`` of the outputs are out; it must not have
    finished by then."""
    group = _group(settings, name)
    group.start("matcher")
    try:
        eventually(lambda: harness.output_count(settings) >= len(expected) * share,
                   timeout=120, what=f"the matcher to be {share:.0%} through")  # fmt: skip
        os.killpg(group.procs["matcher"].pid, signal.SIGKILL)
        group.procs["matcher"].wait(10)
        assert harness.output_count(settings) < len(expected), (
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
