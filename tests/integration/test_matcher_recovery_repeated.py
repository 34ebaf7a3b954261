"""Kill -9 the matcher again and again on the real broker: the outcome must equal one
uninterrupted run. The longest test of the suite, in a file of its own so that a test worker
runs it beside the others (see FIRST in tests/conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from ketnoi.settings import Settings
from tests.integration import matcher_harness as harness
from tests.integration import recovery_support as recovery

pytestmark = pytest.mark.infra


@pytest.fixture
def private(infra: Settings) -> Settings:
    return recovery.private_settings(infra)


def test_kill_9_again_and_again_equals_one_uninterrupted_run(private: Settings):
    """Batches make a kill land in the middle of a batch's writes more often than not; kill the
    worker three times, each time after more progress, then let a last one finish."""
    stream = harness.stream_with_decisions(private, 3 * recovery.COUNT, seed=23)
    expected = harness.reference(private, stream)
    asyncio.run(harness.produce(private, stream))

    for n, share in enumerate((0.15, 0.4, 0.65)):
        recovery.kill_when_through(private, expected, share, f"run-{n}")
    recovery.run_to_the_end(private, expected, "last")
