"""The monitor's hub: one batched update per flush, exact catch-up on Last-Event-ID, a snapshot
when catching up is impossible, and slow viewers dropped rather than waited for."""

from __future__ import annotations

import json

from schemas import events as ev
from services.monitor.hub import Hub
from services.monitor.projection import Projection
from tests.unit.test_monitor_projection import SESSION, Stream, demand_of, offer_of, scenario


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def parse(frame: bytes) -> tuple[str, str, dict]:
    fields = dict(line.split(": ", 1) for line in frame.decode().strip().split("\n"))
    return fields["event"], fields["id"], json.loads(fields["data"])


def hub_with_session(**kw) -> tuple[Hub, Projection, Stream]:
    s = scenario()
    projection = Projection()
    for event in s.events + s.outputs:
        projection.apply(event)
    hub = Hub(projection, epoch="e1", **kw)
    hub.flush()
    return hub, projection, s


def post_match(projection: Projection, s: Stream, n: int) -> set[str]:
    """A new offer and demand in the session, and whatever the engine made of them; returns
    the ids of the matches proposed."""
    offer = offer_of(f"s-{n}", f"o-new-{n}", "1")
    made = s.add(ev.OfferPublished, offer=offer)
    made += s.add(ev.DemandPosted, demand=demand_of("b-hp", f"d-new-{n}", "1"))
    for event in [*s.events[-2:], *made]:
        projection.apply(event)
    return {e.match.match_id for e in made if isinstance(e, ev.MatchProposed)}


def test_a_new_viewer_gets_a_snapshot_then_one_update_per_flush():
    hub, projection, s = hub_with_session()
    viewer, first = hub.subscribe(SESSION, None)
    [(kind, event_id, data)] = [parse(f) for f in first]
    assert kind == "snapshot" and event_id == "e1-1" and data["figures"]["proposals"] > 0
    made: set[str] = set()
    for n in range(5):
        made |= post_match(projection, s, n)
    assert hub.flush() == 1
    kind, event_id, data = parse(viewer.frames.get_nowait())
    assert (kind, event_id) == ("update", "e1-2")
    assert len(made) >= 3 and {r["id"] for r in data["matches"]} == made  # one message
    assert viewer.frames.empty() and hub.flush() == 0


def test_pages_connecting_in_one_flush_interval_share_one_snapshot_and_miss_nothing():
    hub, projection, s = hub_with_session()
    first, [snap1] = hub.subscribe(SESSION, None)
    made = post_match(projection, s, 1)  # after the snapshot was built, before the next flush
    assert made
    second, [snap2] = hub.subscribe(SESSION, None)
    assert snap2 is snap1  # built once
    assert not made & {r["id"] for r in parse(snap2)[2]["matches"]}
    hub.flush()
    for viewer in (first, second):  # the next update carries what the snapshot lacked
        kind, _, data = parse(viewer.frames.get_nowait())
        assert kind == "update" and made <= {r["id"] for r in data["matches"]}
    _, [snap3] = hub.subscribe(SESSION, None)
    assert snap3 is not snap1 and made <= {r["id"] for r in parse(snap3)[2]["matches"]}


def test_resuming_gets_exactly_the_missed_updates():
    hub, projection, s = hub_with_session()
    viewer, _ = hub.subscribe(SESSION, None)
    post_match(projection, s, 1)
    hub.flush()
    last_seen = parse(viewer.frames.get_nowait())[1]
    hub.unsubscribe(viewer)
    for n in (2, 3):
        post_match(projection, s, n)
        hub.flush()
    _, frames = hub.subscribe(SESSION, last_seen)
    parsed = [parse(f) for f in frames]
    assert [(k, i) for k, i, _ in parsed] == [("update", "e1-3"), ("update", "e1-4")]
    new_demands = [r["id"] for _, _, d in parsed for r in d["demands"] if "new" in r["id"]]
    assert new_demands == ["d-new-2", "d-new-3"]
    assert hub.subscribe(SESSION, "e1-4")[1] == []  # up to date: nothing to resend


def test_an_id_that_cannot_be_resumed_gets_a_snapshot():
    clock = Clock()
    hub, projection, s = hub_with_session(keep=2, keep_unwatched_s=60, clock=clock)
    for bad in ("other-1", "e1-99", "e1-x", "nonsense"):
        assert parse(hub.subscribe(SESSION, bad)[1][0])[0] == "snapshot"
    viewer, _ = hub.subscribe(SESSION, None)
    for n in range(4):
        post_match(projection, s, n)
        hub.flush()
    # Only the last two updates are kept: an id before them cannot be caught up exactly.
    assert parse(hub.subscribe(SESSION, "e1-2")[1][0])[0] == "snapshot"
    assert [parse(f)[1] for f in hub.subscribe(SESSION, "e1-4")[1]] == ["e1-5"]
    hub.unsubscribe(viewer)
    for other in list(hub._streams[SESSION].viewers):
        hub.unsubscribe(other)
    clock.now += 61  # nobody watched for longer than kept while away
    post_match(projection, s, 9)
    hub.flush()
    assert parse(hub.subscribe(SESSION, "e1-5")[1][0])[0] == "snapshot"


def test_a_viewer_that_cannot_keep_up_is_dropped_not_waited_for():
    hub, projection, s = hub_with_session(queue_size=2)
    slow, _ = hub.subscribe(SESSION, None)
    for n in range(3):
        post_match(projection, s, n)
        hub.flush()
    assert slow.dropped and hub.viewers() == 0
    frames = [parse(slow.frames.get_nowait())[1] for _ in range(2)]
    # It reconnects with the last id it read and catches up from there.
    _, missed = hub.subscribe(SESSION, frames[-1])
    assert [parse(f)[1] for f in missed] == ["e1-4"]
