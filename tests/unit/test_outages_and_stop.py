"""The parts behind "one line per retry interval" and "stopped within 10 s, exit 0"."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import time

import pytest

from services.common import outages
from services.common.outages import ClientNoise, Dependency
from services.common.shutdown import StopRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(outages.time, "monotonic", clock)
    return clock


def _record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, (1,), None)


def test_an_outage_is_one_line_per_interval_and_one_when_back(clock, caplog):
    log = logging.getLogger("test.outages")
    kafka = Dependency("Kafka", "127.0.0.1:9092", log, interval=5.0)
    with caplog.at_level(logging.INFO, logger="test.outages"):
        for _ in range(50):  # fifty failed attempts within the first second
            kafka.failed(ConnectionRefusedError(111, "Connect call failed"))
            clock.now += 0.02
        assert [r.getMessage() for r in caplog.records] == [
            "Kafka at 127.0.0.1:9092 is unreachable (ConnectionRefusedError: [Errno 111] "
            "Connect call failed); retrying every 5 s"
        ]
        clock.now += 5
        kafka.hide()
        kafka.failed(OSError("refused"), "holding orders[1]@7, not committed")
        assert caplog.records[-1].getMessage() == (
            "Kafka at 127.0.0.1:9092 still unreachable after 6 s (OSError: refused); holding "
            "orders[1]@7, not committed; 1 client retry lines hidden; retrying every 5 s"
        )
        clock.now += 3
        kafka.ok()
        kafka.ok()
    assert [r.getMessage() for r in caplog.records][2:] == [
        "Kafka at 127.0.0.1:9092 is reachable again after 9 s"
    ]
    assert not kafka.down


def test_client_noise_is_throttled_and_hidden_while_the_watcher_reports(clock):
    kafka = Dependency("Kafka", "x:1", logging.getLogger("test.noise"), interval=5.0)
    noise = ClientNoise(kafka, interval=5.0)
    template = "Unable connect to node with id %s"
    assert noise.filter(_record("aiokafka", template))
    assert not noise.filter(_record("aiokafka", template))  # same template, same interval
    assert noise.filter(_record("aiokafka.consumer.fetcher", "Failed fetch messages from %s"))
    assert noise.filter(_record("ketnoi.matcher", template))  # ours: never filtered
    assert noise.filter(_record("aiokafka", template, logging.INFO))  # below WARNING: untouched
    clock.now += 6
    record = _record("aiokafka", template)
    assert noise.filter(record)
    assert (
        record.getMessage()
        == "Unable connect to node with id 1 [and 1 more like it in the last 6 s]"
    )
    kafka.failed(OSError("refused"))  # the watcher now reports the outage itself
    clock.now += 60
    assert not noise.filter(_record("aiokafka", template))
    assert kafka.hidden == 1


def test_brief_keeps_pymongo_errors_to_one_short_line():
    from pymongo.errors import ServerSelectionTimeoutError

    error = ServerSelectionTimeoutError(
        "127.0.0.1:27017: [Errno 111] Connect call failed ('127.0.0.1', 27017) (configured "
        "timeouts: socketTimeoutMS: 20000.0ms, connectTimeoutMS: 20000.0ms), Timeout: 5.0s, "
        "Topology Description: <TopologyDescription id: 1, topology_type: Unknown, ...>"
    )
    assert outages.brief(error) == (
        "ServerSelectionTimeoutError: 127.0.0.1:27017: [Errno 111] Connect call failed "
        "('127.0.0.1', 27017)"
    )


def test_unless_stopped_finishes_work_or_gives_it_up_at_a_stop():
    stop = StopRequest()

    async def scenario() -> None:
        assert await stop.unless_stopped(asyncio.sleep(0, "done")) == (True, "done")
        slow = asyncio.Event()

        async def forever() -> None:
            await slow.wait()

        waiting = asyncio.ensure_future(stop.unless_stopped(forever()))
        await asyncio.sleep(0)
        stop.since = time.monotonic()  # as request() does, without arming its deadline here
        assert stop._event is not None
        stop._event.set()
        assert await asyncio.wait_for(waiting, 5) == (False, None)
        await stop.sleep(3600)  # returns at once once a stop is requested

    asyncio.run(scenario())


def _run(code: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    return result, time.monotonic() - started


def test_a_stop_that_hangs_exits_0_at_its_deadline():
    result, elapsed = _run("""
        import logging, signal, threading
        from services.common.shutdown import STOP
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        STOP.request("probe", signal.SIGTERM, logging.getLogger("probe"), 0.5)
        threading.Event().wait(20)  # a shutdown stuck on a broker that is gone
    """)
    assert result.returncode == 0, result.stderr
    assert elapsed < 10
    assert "probe: SIGTERM received: finishing the work in hand, exiting within" in result.stderr
    assert "probe: still stopping after" in result.stderr


def test_a_second_signal_exits_at_once_and_abandon_says_what_is_redelivered():
    result, _ = _run("""
        import logging, signal
        from services.common.shutdown import STOP
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        log = logging.getLogger("probe")
        STOP.request("probe", signal.SIGINT, log, 60)
        STOP.request("probe", signal.SIGINT, log, 60)
        raise SystemExit(3)  # not reached
    """)
    assert result.returncode == 0, result.stderr
    assert "probe: SIGINT again: exiting now" in result.stderr
    result, _ = _run("""
        import logging
        from services.common.shutdown import STOP
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        STOP.abandon(logging.getLogger("probe"), "matcher", "a batch of 12 events")
    """)
    assert result.returncode == 0
    assert "matcher: stopping with a batch of 12 events unfinished and not committed" in (
        result.stderr
    )


def test_a_signal_landing_inside_the_stop_handler_does_not_deadlock():
    """Seen in CI: two SIGTERMs a moment apart left the gateway stuck for good, the second
    handler waiting on the lock the first one held (handlers run in the main thread)."""
    result, _ = _run("""
        import logging, os, signal
        from services.common.shutdown import STOP
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        log = logging.getLogger("probe")
        signal.signal(signal.SIGUSR1,
                      lambda s, f: STOP.request("probe", signal.SIGTERM, log, 60))
        with STOP._lock:  # as if the first handler were interrupted while holding it
            os.kill(os.getpid(), signal.SIGUSR1)
            total = sum(range(1000))  # the handler runs between these bytecodes
        STOP.request("probe", signal.SIGTERM, log, 60)
        raise SystemExit(3)  # not reached
    """)
    assert result.returncode == 0, result.stderr
    assert "probe: SIGTERM received: finishing the work in hand" in result.stderr
    assert "probe: SIGTERM again: exiting now" in result.stderr
