"""Fairness under overload (issue 12): heavy clients hold at most a slice of the in-flight limit,
a catalogue is validated on the event loop in short slices, and the gateway process tunes its
garbage collector once started. Fake clocks, no sleeps: every step is awaited or counted."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from services.gateway import bulk
from services.gateway.main import GC_YOUNG_THRESHOLD, _tune_gc
from services.gateway.middleware import heavy_units
from services.gateway.ratelimit import HEAVY_DUTY, HEAVY_STRETCH_S, RATE_WINDOW_S, InFlight
from tests.factories import offer_body


class Clock:
    def __init__(self, now: float = 100.0, step: float = 0.0) -> None:
        self.now = now
        self.step = step  # advanced on every reading (a clock that CPU work moves on)

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _contended(limit: InFlight, clock: Clock, heavy: int = 50, quiet: int = 5) -> None:
    """6 s of history: ``heavy`` keys pushing 4-unit catalogues 1.5 times a second, ``quiet``
    keys one offer a second; every admitted request answered at once."""
    senders: dict[str, tuple[float, int]] = {f"bulk-{i}": (0.67, 4) for i in range(heavy)}
    senders.update({f"one-{i}": (1.0, 1) for i in range(quiet)})
    for step in range(600):
        clock.now += 0.01
        for name, (period, units) in senders.items():
            if step % round(period * 100) == 0 and limit.enter(name, units):
                limit.leave(name, units)
    clock.now += 0.3  # the threshold is recomputed at the next request
    # Overload fills the gateway: requests reach into the reserve (then all are answered).
    held = [f"bulk-{i}" for i in range(4) if limit.enter(f"bulk-{i}", 4)]
    for name in held:
        limit.leave(name, 4)
    assert limit.held == 0 and limit.held_heavy == 0


def test_heavy_clients_hold_at_most_their_slice_of_the_limit():
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)  # reserve 4, shared 12, heavy at most 4
    _contended(limit, clock)
    assert limit.enter("bulk-0", 4) and limit.held_heavy == 4
    assert not limit.enter("bulk-1", 4), "the heavy slice is full, though the shared part is not"
    assert not limit.enter("bulk-2", 1)
    assert limit.held == 4
    assert all(limit.enter(f"one-{i}") for i in range(5)), "light clients are not capped"
    assert limit.held == 9 and limit.held_heavy == 4
    limit.leave("bulk-0", 4)
    assert limit.held_heavy == 0 and limit.enter("bulk-1", 4)


def test_one_heavy_request_larger_than_the_slice_is_admitted_when_no_other_heavy_one_is():
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=2)
    _contended(limit, clock)
    assert limit.enter("bulk-0", 4), "a catalogue must not wait for a slice it can never fit"
    assert not limit.enter("bulk-1", 1)
    limit.leave("bulk-0", 4)
    assert limit.held == 0 and limit.held_heavy == 0


def test_a_burst_on_an_idle_gateway_is_not_capped_though_it_reads_as_contention():
    """Six concurrent retries of one client: more asked than completed lately, but the gateway
    was never full, so no slice binds (they were answered 503 once)."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    for _ in range(20):  # a little history: a few requests answered
        clock.now += 0.5
        assert limit.enter("admin", 1)
        limit.leave("admin", 1)
    clock.now += 0.3
    assert all(limit.enter("admin", 2) for _ in range(6)) and limit.held == 12


def test_without_contention_nobody_is_capped():
    limit = InFlight(16, clock=Clock(), heavy=4)  # nothing completed yet: all light
    assert all(limit.enter(f"bulk-{i}", 4) for i in range(3))
    assert limit.held == 12 and limit.held_heavy == 0


def test_without_a_heavy_slice_the_shared_part_is_open_to_heavy_clients():
    clock = Clock()
    limit = InFlight(16, clock=clock)
    _contended(limit, clock)
    assert all(limit.enter(f"bulk-{i}", 4) for i in range(3)) and limit.held == 12


def test_a_client_entering_when_the_share_is_recomputed_keeps_its_units():
    """The recomputation forgets idle clients; it ran after the entering client was added, so a
    new client (rate 0 until counted) was forgotten while holding units and its heavy units were
    never given back: the heavy slice stayed full and every heavy request was refused."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    _contended(limit, clock)
    assert limit.enter("newcomer", 4)  # new, heavy by its own request, at a recomputation
    limit.leave("newcomer", 4)
    assert limit.held == 0 and limit.held_heavy == 0
    assert limit.enter("bulk-0", 4)


def test_a_flood_starting_on_a_calm_gateway_leaves_the_reserve_to_quiet_clients():
    """The threshold, last computed while calm, said "uncontended" (everybody light): the
    flood's first requests took the reserve too, and the quiet keys got 503 at that moment
    (about 1% of their requests in the overload bench). Reaching into the reserve now
    recomputes it first."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)  # reserve 4
    for step in range(2000):  # 20 s of calm: a closed loop for 5 s (as the bench's measure of
        clock.now += 0.01  # the sustainable rate), 5 quiet keys one offer a second, all answered
        if step < 500:
            assert limit.enter("probe")
            limit.leave("probe")
        for i in range(5):
            if step % 100 == 20 * i:  # spread over the second, as independent clients are
                assert limit.enter(f"one-{i}")
                limit.leave(f"one-{i}")
    clock.now += 0.3
    assert limit.enter("one-0") and limit.share == float("inf")
    limit.leave("one-0")
    admitted = [f"bulk-{i}" for i in range(8) if limit.enter(f"bulk-{i}", 4)]
    assert admitted == ["bulk-0", "bulk-1", "bulk-2"], "the flood stops at the reserve"
    assert limit.held == 12 and limit.share < float("inf")
    assert all(limit.enter(f"one-{i}") for i in range(4)), "the reserve is the quiet keys'"
    assert limit.held == 16


def test_heavy_work_pauses_after_holding_the_gateway_while_quiet_clients_are_served():
    """Back to back, the heavy slice kept the gateway busy all the time (one catalogue after
    another) and the quiet keys' p99 doubled; it now pauses, so that it holds the gateway at
    most HEAVY_DUTY of the time."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    _contended(limit, clock)
    assert limit.enter("one-0")  # a quiet client served: its requests need the CPU too
    limit.leave("one-0")
    assert limit.enter("bulk-0", 4)
    clock.now += 0.008  # a catalogue held the slice for 8 ms
    limit.leave("bulk-0", 4)
    pause = 0.008 * (1 - HEAVY_DUTY) / HEAVY_DUTY
    clock.now += pause * 0.9
    assert not limit.enter("bulk-1", 4), "heavy work pauses after the 8 ms it was busy"
    assert limit.enter("one-1"), "a light client is not held back by the pause"
    limit.leave("one-1")
    clock.now += pause * 0.11
    assert limit.enter("bulk-1", 4) and limit.held_heavy == 4


def test_a_heavy_pause_is_bounded_however_long_the_heavy_work_waited():
    """A catalogue waiting 5 s for Kafka paused heavy work for 10 s, and with little completing
    meanwhile the fair share sank below the quiet keys' rate (found in review); and heavy
    requests overlapping back to back never let the slice empty, so never paused."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    _contended(limit, clock)
    assert limit.enter("one-0")
    limit.leave("one-0")
    assert limit.enter("bulk-0", 1) and limit.held_heavy == 1
    assert limit.enter("bulk-1", 1) and limit.held_heavy == 2, "within the stretch: it joins"
    limit.leave("bulk-1", 1)
    clock.now += HEAVY_STRETCH_S * 1.01
    assert not limit.enter("bulk-1", 1), "the stretch is over: no new heavy request joins it"
    clock.now += 5.0  # bulk-0 waits for Kafka
    assert limit.enter("one-1")
    limit.leave("one-1")
    limit.leave("bulk-0", 1)
    clock.now += HEAVY_STRETCH_S * (1 - HEAVY_DUTY) / HEAVY_DUTY * 1.01
    assert limit.enter("bulk-1", 1), "paused for the longest stretch's share, not 10 s"


def test_the_reserve_recheck_passes_over_the_clients_only_when_some_joined(monkeypatch):
    """A recomputation is a pass over every active client (up to 10,000): at a full gateway
    that the threshold calls uncontended it runs when clients joined since the last one (a
    flood's first requests), not for every request that reaches into the reserve."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    clock.now += 3.0  # older than the rate window: it has a history to judge by
    passes: list[float] = []
    real = limit._recompute

    def counted(now: float) -> None:
        passes.append(now)
        real(now)

    monkeypatch.setattr(limit, "_recompute", counted)
    assert all(limit.enter(f"c{i}") for i in range(12))  # the shared part, nothing completed
    clock.now += 0.3
    assert limit.enter("c0") and len(passes) == 2, "the periodic pass (every 0.25 s) only"
    assert limit.enter("c1") and len(passes) == 2, "known clients in the reserve: no pass"
    assert limit.enter("newcomer"), "nothing completed yet: uncontended, admitted"
    assert len(passes) == 3, "a client joined since: one pass before judging it"


def test_heavy_work_does_not_pause_when_no_quiet_client_was_served_lately():
    """Pausing when only heavy clients are there would waste the gateway (the overload bench's
    closed loop of catalogues fell from about 130 to 40 a second)."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    _contended(limit, clock, quiet=0)  # heavy clients only: no light one was ever served
    for _ in range(3):
        clock.now += 0.001
        assert limit.enter("bulk-0", 4) and limit.held_heavy == 4, "admitted, as heavy"
        clock.now += 0.008
        limit.leave("bulk-0", 4)


def test_the_heavy_slice_is_a_quarter_of_the_limit():
    assert heavy_units(16) == 4
    assert heavy_units(1) == 1 and heavy_units(100) == 25


async def test_a_catalogue_lets_other_requests_run_between_slices():
    """A clock moving 0.6 ms per reading: the loop gets its turn every two items or so, so a
    request arriving meanwhile is served before the catalogue is done."""
    from schemas.orders import OfferSubmission

    items: list[Any] = [offer_body() for _ in range(20)]
    order: list[str] = []

    async def quiet_request() -> None:
        order.append("quiet")

    async def catalogue() -> None:
        clock = Clock(step=bulk.SLICE_S * 0.6)
        valid, refused = await bulk.validate_items(OfferSubmission, items, clock=clock)
        assert len(valid) == 20 and not refused
        order.append("catalogue")

    await asyncio.gather(catalogue(), quiet_request())
    assert order == ["quiet", "catalogue"]


async def test_a_catalogue_within_one_slice_is_validated_in_one_go():
    from schemas.orders import OfferSubmission

    items: list[Any] = [offer_body(), "not an offer"]
    order: list[str] = []

    async def quiet_request() -> None:
        order.append("quiet")

    async def catalogue() -> None:
        clock = Clock(step=0.0)  # no time passes: no reason to yield
        valid, refused = await bulk.validate_items(OfferSubmission, items, clock=clock)
        assert [i for i, _ in valid] == [0] and refused[1].status == 422
        order.append("catalogue")

    await asyncio.gather(catalogue(), quiet_request())
    assert order == ["catalogue", "quiet"]


def test_tuning_the_collector_freezes_what_start_up_loaded():
    before = gc.get_threshold()
    try:
        _tune_gc()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_clients_uncapped_request_ending_leaves_its_capped_one_holding_the_slice():
    """A client's first request, admitted before the gateway filled, was not capped; its next
    one was. When the first ended it gave back the heavy units of the second, so the slice read
    empty while a catalogue still ran and heavy work paused early (found in review)."""
    clock = Clock()
    limit = InFlight(16, clock=clock, heavy=4)
    _contended(limit, clock, quiet=12)
    clock.now += RATE_WINDOW_S  # not full lately: a heavy client is not capped
    first = limit.enter("bulk-0", 4)
    assert first is not None and not first.heavy and limit.held_heavy == 0
    light = [f"one-{i}" for i in range(9) if limit.enter(f"one-{i}")]
    assert limit.held > limit.limit - limit.reserve, "the gateway reached into its reserve"
    for name in light[:4]:  # room in the shared part again, but it was full lately
        limit.leave(name)
    light = light[4:]
    second = limit.enter("bulk-0", 1)
    assert second is not None and second.heavy and limit.held_heavy == 1
    limit.leave("bulk-0", first)
    assert limit.held_heavy == 1, "the capped request still holds the slice"
    assert limit.enter("bulk-1", 1), "within the stretch, not paused: the slice is not empty"
    limit.leave("bulk-1", 1)
    limit.leave("bulk-0", second)
    for name in light:
        limit.leave(name)
    assert limit.held == 0 and limit.held_heavy == 0
