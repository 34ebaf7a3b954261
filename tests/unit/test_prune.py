"""Which runs ``ketnoi infra prune`` may delete: only finished ones, only names of runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ketnoi.infra import prune
from ketnoi.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")


def _ended_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("topic", "run"),
    [
        ("test-9f5c8be041.orders", "test-9f5c8be041"),
        ("test-9f5c8be041.matcher-book-changelog", "test-9f5c8be041"),
        ("demo-20261204034610.matches", "demo-20261204034610"),
        ("bench-gwo-421a0e55.orders", "bench-gwo-421a0e55"),
        ("recovery-0ce5eb8f.matcher-__assignor-__leader", "recovery-0ce5eb8f"),
        ("ketnoi.orders", None),  # the default deployment prefix: never
        ("__consumer_offsets", None),
        ("testing.orders", None),
        ("orders", None),
    ],
)
def test_only_the_topics_of_runs_are_considered(topic, run):
    assert prune.run_of_topic(topic) == run


@pytest.mark.parametrize(
    ("database", "run"),
    [
        ("ketnoi_test_9f5c8be041", "test-9f5c8be041"),
        ("ketnoi_demo_20261204034610", "demo-20261204034610"),
        ("ketnoi_bench_gwo_421a0e55", "bench-gwo-421a0e55"),
        ("persist_0a1b2c3d4e", "persist-0a1b2c3d4e"),
        ("ketnoi", None),
        ("admin", None),
        ("ketnoi_unit_unused", None),
    ],
)
def test_only_the_databases_of_runs_are_considered(database, run):
    assert prune.run_of_database(database) == run


def test_topics_and_database_of_one_run_are_grouped():
    runs = prune.group_runs(
        ["test-a1.orders", "test-a1.matches", "ketnoi.orders", "demo-20260101000000.orders"],
        ["ketnoi_test_a1", "ketnoi"],
        only="a1",
    )
    assert [(r.name, r.topics, r.databases) for r in runs] == [
        ("test-a1", ["test-a1.orders", "test-a1.matches"], ["ketnoi_test_a1"])
    ]


def test_a_lease_keeps_its_run_while_its_process_lives(settings):
    prune.write_lease(settings, "test-alive")  # this process
    prune.write_lease(settings, "test-ended", pid=_ended_pid())
    assert prune.lease_holder(settings, "test-alive") == os.getpid()
    assert prune.lease_holder(settings, "test-ended") is False
    assert prune.lease_holder(settings, "test-none") is None

    now = time.time()
    alive, ended = prune.Run("test-alive", ["test-alive.orders"]), prune.Run("test-ended")
    alive.seen(now - 86_400, "test-alive.orders")  # untouched for a day: the lease still wins
    for run in (alive, ended):
        prune.decide(settings, run, older_than_s=3600, now=now)
    assert not alive.finished and alive.why == f"in use (process {os.getpid()} is running)"
    assert ended.finished and ended.why == "its process has ended"


def test_a_recycled_pid_does_not_hold_a_lease(settings):
    path = prune.write_lease(settings, "test-recycled")
    path.write_text(path.read_text().replace('"started": "', '"started": "1'))
    assert prune.lease_holder(settings, "test-recycled") is False


def test_without_a_lease_the_age_decides_and_unknown_age_keeps(settings):
    now = time.time()
    recent, idle, unknown = prune.Run("bench-a"), prune.Run("bench-b"), prune.Run("bench-c")
    recent.seen(now - 300, "bench-a.orders")
    idle.seen(now - 7200, "bench-b.orders")
    unknown.seen(None, "bench-c.orders")
    for run in (recent, idle, unknown):
        prune.decide(settings, run, older_than_s=3600, now=now)
    assert not recent.finished and recent.why.startswith("changed 5 min ago")
    assert idle.finished and idle.why == "no lease, unchanged for 2.0 h"
    assert not unknown.finished and unknown.why.startswith("age unknown (bench-c.orders)")


def test_leases_are_shared_by_every_checkout_of_the_user(settings):
    """Two checkouts using one broker see each other's leases: they live in the cache."""
    other_checkout = settings.model_copy(update={"home": settings.home.parent / "other"})
    prune.write_lease(settings, "test-mine")
    assert prune.lease_holder(other_checkout, "test-mine") == os.getpid()


def test_the_report_says_what_and_why(settings):
    gone = prune.Run("test-a", ["test-a.orders"], ["ketnoi_test_a"], finished=True,
                     why="its process has ended")  # fmt: skip
    kept = prune.Run("test-b", ["test-b.orders"], why="in use (process 7 is running)")
    lines = prune.report(prune.PruneResult([gone, kept]), dry_run=True)
    assert lines == [
        "would delete test-a: 1 topic, database ketnoi_test_a (its process has ended)",
        "kept test-b: 1 topic; in use (process 7 is running)",
        "would delete 1 finished run(s): 1 topics, 1 databases; kept 1. "
        "Nothing was deleted (--dry-run).",
    ]
