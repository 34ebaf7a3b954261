"""What the kill -9 tests share: a run's own topics, and workers started, killed and finished
(test_matcher_recovery.py and test_matcher_recovery_repeated.py: two files, so that two test
workers can run them at once)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from collections.abc import Callable

from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from services.common.topics import ensure_topics
from tests.integration import matcher_harness as harness
from tests.support import eventually

COUNT = 3000


def private_settings(infra: Settings) -> Settings:
    """Topics of the test's own, four partitions, and no ticker (the stream brings its ticks)."""
    run = uuid.uuid4().hex[:8]
    settings = infra.model_copy(update={
        "topic_prefix": f"recovery-{run}.", "topic_partitions": 4, "match_tick_seconds": 3600.0,
    })  # fmt: skip
    asyncio.run(ensure_topics(settings))
    return settings


def worker(settings: Settings, name: str) -> ServiceGroup:
    """A matcher of its own run directory (its log), not started yet."""
    return ServiceGroup(settings, settings.home / "test-logs" / settings.topic_prefix / name)


def kill_when_through(
    settings: Settings, expected: dict[str, bytes], share: float, name: str
) -> None:
    """Start a worker and kill -9 it once ``share`` of the outputs are out."""
    kill_when(settings, expected, name, lambda: eventually(
        lambda: harness.output_count(settings) >= len(expected) * share,
        timeout=120, what=f"the matcher to be {share:.0%} through",
    ))  # fmt: skip


def kill_when(
    settings: Settings, expected: dict[str, bytes], name: str, wait: Callable[[], object]
) -> None:
    """Start a worker, ``wait``, and kill -9 it; it must not have finished by then."""
    group = worker(settings, name)
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


def run_to_the_end(settings: Settings, expected: dict[str, bytes], name: str) -> Counter:
    """Start a worker and let it finish; the outputs must equal the uninterrupted run's."""
    group = worker(settings, name)
    group.start("matcher")
    try:
        eventually(lambda: harness.all_emitted(settings, expected), timeout=180,
                   what=f"the {name} matcher to finish")  # fmt: skip
        seen = harness.compare(expected, asyncio.run(harness.read_outputs(settings)))
        group.raise_if_exited()
    finally:
        group.stop()
    return seen
