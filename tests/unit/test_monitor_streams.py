"""Open monitor streams: the caps per key and in total, the re-check that ends the streams of
a revoked key, and a Last-Event-ID that is not one of ours (never a 500)."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.problems import ApiProblem
from services.monitor.hub import Viewer
from services.monitor.streams import Streams
from tests.unit.test_monitor_hub import hub_with_session, parse
from tests.unit.test_monitor_projection import SESSION


async def _valid() -> bool:
    return True


def test_a_key_beyond_its_share_gets_429_and_the_process_beyond_its_total_503():
    streams = Streams(per_key=2, total=3, recheck_s=5.0)
    first = streams.open("key-a", "key:a", _valid)
    streams.open("key-a", "key:a", _valid)
    with pytest.raises(ApiProblem) as per_key:
        streams.open("key-a", "key:a", _valid)
    assert per_key.value.status == 429 and per_key.value.headers["Retry-After"] == "5"
    assert "2 monitor streams" in per_key.value.detail
    streams.open("key-b", "key:b", _valid)
    with pytest.raises(ApiProblem) as total:
        streams.open("key-c", "key:c", _valid)
    assert total.value.status == 503 and int(total.value.headers["Retry-After"]) >= 1
    assert streams.refused == 2 and len(streams) == 3
    # A stream that ends frees its place, once however often it is released.
    streams.release(first)
    streams.release(first)
    assert len(streams) == 2
    streams.open("key-c", "key:c", _valid)
    with pytest.raises(ApiProblem):
        streams.open("key-d", "key:d", _valid)


async def test_the_recheck_ends_every_stream_of_a_revoked_credential_with_one_read():
    streams = Streams(per_key=10, total=10, recheck_s=5.0)
    revoked = {"key:a": False}
    reads: list[str] = []

    def check_of(credential: str):
        async def check() -> bool:
            reads.append(credential)
            return not revoked.get(credential, False)

        return check

    viewers = []
    for key_id, credential in [("a", "key:a"), ("a", "key:a"), ("a", "login:a"), ("b", "key:b")]:
        viewer = Viewer(SESSION, asyncio.Queue(2))
        opened = streams.open(key_id, credential, check_of(credential))
        opened.close = viewer.close
        viewers.append(viewer)
    assert await streams.recheck() == 0
    assert sorted(reads) == ["key:a", "key:b", "login:a"]  # one read per credential

    revoked["key:a"] = True
    assert await streams.recheck() == 2
    assert [v.closed for v in viewers] == [True, True, False, False]
    assert viewers[0].frames.get_nowait() is None  # a waiting stream is woken up
    assert len(streams) == 2 and streams.revoked == 2


async def test_a_failing_check_keeps_the_streams_until_the_store_answers():
    streams = Streams(per_key=10, total=10, recheck_s=5.0)

    async def down() -> bool:
        raise ConnectionError("store down")

    viewer = Viewer(SESSION, asyncio.Queue(2))
    streams.open("a", "key:a", down).close = viewer.close
    assert await streams.recheck() == 0
    assert not viewer.closed and len(streams) == 1


def test_closing_a_viewer_whose_queue_is_full_still_marks_it_closed():
    viewer = Viewer(SESSION, asyncio.Queue(1))
    viewer.frames.put_nowait(b"frame")
    viewer.close()
    assert viewer.closed and viewer.frames.get_nowait() == b"frame"


@pytest.mark.parametrize(
    "bad",
    [
        "e1-²",  # '²'.isdigit() is True and int('²') raises
        "e1-١",  # Arabic-Indic one: int() would read it as 1
        "e1-1²",
        "e1-+1",
        "e1- 1",
        "e1-1\n",
        "e1-",
        "e1--1",
        "e1-" + "9" * 5000,  # int() refuses more than 4300 digits
        "e1-99999999999999999999",
        "e1",
        "-",
        "²",
    ],
)
def test_a_last_event_id_that_is_not_ours_gets_a_snapshot(bad):
    hub, _, _ = hub_with_session()
    viewer, first = hub.subscribe(SESSION, bad)
    assert [parse(f)[0] for f in first] == ["snapshot"]
    hub.unsubscribe(viewer)
