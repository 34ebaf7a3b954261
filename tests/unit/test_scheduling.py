"""The meeting scheduler (services/programme/scheduling.py): what a schedule must never do,
that it places every wish when the slots allow, that it matches a brute-force optimum on tiny
sessions and never places fewer than greedy, its reasons, rescheduling, and bad input."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.meetings import session as generated_session
from services.programme import scheduling
from services.programme.scheduling import (
    MeetingWish,
    Placement,
    Schedule,
    greedy_schedule,
    reschedule,
    schedule,
)

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUYERS = [f"b{i}" for i in range(4)]
SUPPLIERS = [f"s{i}" for i in range(5)]


# -- an independent checker and a brute-force optimum ----------------------------------------


def assert_valid(
    result: Schedule,
    wishes: Sequence[MeetingWish],
    slots: int,
    tables: int,
    unavailable: Mapping[str, frozenset[int]],
    fixed: Sequence[Placement] = (),
) -> None:
    """Everything a schedule promises, checked from the input alone."""
    by_key = {w.key: w for w in wishes}
    seats, places, pairs = set(), set(), set()
    for p in result.placements:
        w = by_key[p.key]
        assert 0 <= p.slot < slots and 1 <= p.table <= tables, p
        assert (p.slot, p.table) not in places, f"two meetings at table {p.table}, slot {p.slot}"
        places.add((p.slot, p.table))
        for org in (w.buyer_id, w.supplier_id):
            assert (org, p.slot) not in seats, f"{org} in two meetings in slot {p.slot}"
            seats.add((org, p.slot))
        assert (w.buyer_id, w.supplier_id) not in pairs, f"{w.buyer_id}/{w.supplier_id} twice"
        pairs.add((w.buyer_id, w.supplier_id))
        assert w.buyer_id != w.supplier_id
        if p not in fixed:
            for org in (w.buyer_id, w.supplier_id):
                assert p.slot not in unavailable.get(org, ()), f"{org} unavailable in {p.slot}"
    assert set(fixed) <= set(result.placements), "a fixed meeting was moved or dropped"
    placed = [p.key for p in result.placements]
    unplaced = [key for key, _ in result.unplaced]
    assert len(placed) == len(set(placed))
    assert sorted(placed + unplaced) == sorted(by_key), "each wish is placed or explained once"
    assert all(reason.strip() for _, reason in result.unplaced)
    assert len(result.placements) <= result.upper_bound


def brute_force(
    wishes: Sequence[MeetingWish],
    slots: int,
    tables: int,
    unavailable: Mapping[str, frozenset[int]],
) -> tuple[int, int]:
    """The best (count, weight) over every assignment of each distinct pair to a slot or none."""
    best: dict[tuple[str, str], int] = {}
    for w in wishes:
        if w.buyer_id != w.supplier_id:
            pair = (w.buyer_id, w.supplier_id)
            best[pair] = max(best.get(pair, 0), w.weight)
    pairs = sorted(best)
    options = [
        [None]
        + [
            s
            for s in range(slots)
            if s not in unavailable.get(b, ()) and s not in unavailable.get(sup, ())
        ]
        for b, sup in pairs
    ]
    top = (0, 0)
    for choice in itertools.product(*options):
        used: dict[int, int] = {}
        seats: set[tuple[str, int]] = set()
        ok = True
        for (b, sup), slot in zip(pairs, choice, strict=True):
            if slot is None:
                continue
            used[slot] = used.get(slot, 0) + 1
            if used[slot] > tables or (b, slot) in seats or (sup, slot) in seats:
                ok = False
                break
            seats.update({(b, slot), (sup, slot)})
        if ok:
            chosen = [pair for pair, slot in zip(pairs, choice, strict=True) if slot is not None]
            top = max(top, (len(chosen), sum(best[p] for p in chosen)))
    return top


def value(result: Schedule, wishes: Sequence[MeetingWish]) -> tuple[int, int]:
    weight = {w.key: w.weight for w in wishes}
    return len(result.placements), sum(weight[p.key] for p in result.placements)


# -- strategies ------------------------------------------------------------------------------


@st.composite
def sessions(draw, max_pairs: int = 12, max_slots: int = 5, max_tables: int = 4) -> dict:
    """A small session: wishes (some for the same pair under another key, a few of an org with
    itself), availability, and fixed meetings that are valid among themselves."""
    slots = draw(st.integers(1, max_slots))
    tables = draw(st.integers(1, max_tables))
    orgs = BUYERS + SUPPLIERS
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(BUYERS), st.sampled_from(SUPPLIERS + BUYERS[:1])),
            max_size=max_pairs,
        )
    )
    wishes = [
        MeetingWish(f"w{n}", b, s, draw(st.integers(0, 20))) for n, (b, s) in enumerate(pairs)
    ]
    unavailable = {
        org: frozenset(draw(st.sets(st.integers(0, slots - 1), max_size=slots)))
        for org in draw(st.sets(st.sampled_from(orgs), max_size=4))
    }
    fixed: list[Placement] = []
    seats: set[tuple[str, int]] = set()
    places: set[tuple[int, int]] = set()
    met: set[tuple[str, str]] = set()
    for w in draw(st.lists(st.sampled_from(wishes), max_size=3, unique=True)) if wishes else []:
        slot, table = draw(st.integers(0, slots - 1)), draw(st.integers(1, tables))
        orgs_there = {(w.buyer_id, slot), (w.supplier_id, slot)}
        if (
            w.buyer_id == w.supplier_id
            or (slot, table) in places
            or orgs_there & seats
            or (w.buyer_id, w.supplier_id) in met
        ):
            continue
        fixed.append(Placement(w.key, slot, table))
        seats |= orgs_there
        places.add((slot, table))
        met.add((w.buyer_id, w.supplier_id))
    return {"wishes": wishes, "slots": slots, "tables": tables, "unavailable": unavailable,
            "fixed": fixed}  # fmt: skip


# -- properties ------------------------------------------------------------------------------


@PROPERTY
@given(sessions())
def test_a_schedule_never_double_books_and_keeps_what_was_fixed(case):
    result = schedule(**case)
    assert_valid(result, **case)
    assert len(result.placements) >= len(greedy_schedule(**case).placements)


@PROPERTY
@given(sessions(max_pairs=7, max_slots=3, max_tables=3))
def test_tiny_sessions_get_the_brute_force_optimum(case):
    case["fixed"] = []
    result = schedule(**case)
    assert_valid(result, **case)
    best = brute_force(case["wishes"], case["slots"], case["tables"], case["unavailable"])
    assert value(result, case["wishes"]) == best  # most meetings, then the most weight
    assert result.upper_bound >= best[0]


@st.composite
def roomy_sessions(draw) -> dict:
    """Distinct pairs, everyone available, slots >= the most pairs of any one organization and
    tables >= pairs / slots: a bipartite graph then has an equitable edge colouring with that
    many colours (de Werra), so every pair can be placed."""
    buyers = [f"b{i}" for i in range(draw(st.integers(1, 8)))]
    suppliers = [f"s{i}" for i in range(draw(st.integers(1, 12)))]
    every = list(itertools.product(buyers, suppliers))
    pairs = draw(st.lists(st.sampled_from(every), unique=True, min_size=1, max_size=40))
    degree = max(
        max(sum(1 for b, _ in pairs if b == x) for x in buyers),
        max(sum(1 for _, s in pairs if s == x) for x in suppliers),
    )
    slots = draw(st.integers(degree, degree + 2))
    tables = draw(st.integers(-(-len(pairs) // slots), len(pairs)))
    wishes = [MeetingWish(f"{b}|{s}", b, s, draw(st.integers(1, 50))) for b, s in pairs]
    return {"wishes": wishes, "slots": slots, "tables": tables, "unavailable": {}}


@PROPERTY
@given(roomy_sessions())
def test_every_wish_is_placed_when_the_slots_allow(case):
    result = schedule(**case)
    assert_valid(result, **case)
    assert result.unplaced == ()
    assert len(result.placements) == len(case["wishes"]) == result.upper_bound
    assert "proved" in result.method or result.method == "cp-sat optimal"


@PROPERTY
@given(sessions(), st.randoms(use_true_random=False))
def test_the_same_session_gives_the_same_schedule_whatever_the_wishes_order(case, rng):
    first = schedule(**case)
    shuffled = list(case["wishes"])
    rng.shuffle(shuffled)
    assert schedule(**{**case, "wishes": shuffled}) == first


@PROPERTY
@given(sessions(), st.data())
def test_rescheduling_after_a_cancellation_moves_only_the_cancelled_meeting(case, data):
    before = schedule(**case)
    movable = [p for p in before.placements if p not in case["fixed"]]
    if not movable:
        return
    cancelled = data.draw(st.sampled_from(movable))
    wish = next(w for w in case["wishes"] if w.key == cancelled.key)
    by = data.draw(st.sampled_from([wish.buyer_id, wish.supplier_id]))
    after = reschedule(
        case["wishes"], case["slots"], case["tables"], case["unavailable"], before.placements,
        {cancelled.key: by},
    )  # fmt: skip
    others = [p for p in before.placements if p.key != cancelled.key]
    blocked = dict(case["unavailable"])
    blocked[by] = blocked.get(by, frozenset()) | {cancelled.slot}
    assert_valid(after, case["wishes"], case["slots"], case["tables"], blocked, others)
    again = [p for p in after.placements if p.key == cancelled.key]
    assert all(p.slot != cancelled.slot for p in again), "placed again where it was cancelled"
    # With only the cancelled pair to place (the others kept), it is placed again exactly when
    # some slot has a table and both parties free and available.
    keys = {p.key for p in before.placements}
    only = [w for w in case["wishes"] if w.key in keys]
    alone = reschedule(
        only, case["slots"], case["tables"], case["unavailable"], before.placements,
        {cancelled.key: by},
    )  # fmt: skip
    assert_valid(alone, only, case["slots"], case["tables"], blocked, others)
    by_key = {w.key: w for w in only}
    possible = [
        slot
        for slot in range(case["slots"])
        if sum(p.slot == slot for p in others) < case["tables"]
        and all(
            slot not in blocked.get(org, ())
            and all(
                p.slot != slot or org not in (by_key[p.key].buyer_id, by_key[p.key].supplier_id)
                for p in others
            )
            for org in (wish.buyer_id, wish.supplier_id)
        )
    ]
    placed_again = [p.slot for p in alone.placements if p.key == cancelled.key]
    assert bool(placed_again) == bool(possible), (possible, alone)
    assert set(placed_again) <= set(possible)


# -- hand-made cases with known optima -------------------------------------------------------


def test_the_optimum_beats_greedy_where_the_heaviest_wish_takes_the_only_common_slot():
    # Greedy puts the heavy b-s2 in slot 0, the only slot s1 has: 1 meeting. Best: 2.
    wishes = [MeetingWish("heavy", "b", "s2", 10), MeetingWish("light", "b", "s1", 1)]
    unavailable = {"s1": frozenset({1})}
    greedy = greedy_schedule(wishes, 2, 1, unavailable)
    best = schedule(wishes, 2, 1, unavailable)
    assert len(greedy.placements) == 1
    assert greedy.unplaced == (("light", "buyer b has no free slot left (1 possible, all in "
                                "other meetings)"),)  # fmt: skip
    assert best.placements == (Placement("light", 0, 1), Placement("heavy", 1, 1))
    assert best.upper_bound == 2 and best.method == "cp-sat optimal"


def test_more_meetings_beat_fewer_heavier_ones():
    # One slot, two tables: b1-s1 alone (100) or b1-s2 and b2-s1 together (1 + 1).
    wishes = [
        MeetingWish("big", "b1", "s1", 100),
        MeetingWish("x", "b1", "s2", 1),
        MeetingWish("y", "b2", "s1", 1),
    ]
    result = schedule(wishes, 1, 2, {})
    assert {p.key for p in result.placements} == {"x", "y"}
    assert result.unplaced == (("big", "buyer b1 has no free slot left (1 possible, all in "
                                "other meetings)"),)  # fmt: skip


def test_among_as_many_meetings_the_heavier_wins_and_sits_at_table_one():
    wishes = [MeetingWish("a", "b1", "s1", 5), MeetingWish("b", "b2", "s2", 9)]
    one_table = schedule(wishes, 1, 1, {})
    assert one_table.placements == (Placement("b", 0, 1),)
    assert one_table.unplaced == (("a", "every table is taken in the 1 slot(s) both can do"),)
    two_tables = schedule(wishes, 1, 2, {})
    assert two_tables.placements == (Placement("b", 0, 1), Placement("a", 0, 2))


def test_tables_count_per_slot_and_the_bound_is_the_seats():
    wishes = [MeetingWish(f"w{i}", f"b{i}", f"s{i}", 1) for i in range(5)]
    result = schedule(wishes, 2, 2, {})
    assert len(result.placements) == 4 and result.upper_bound == 4
    assert [p.slot for p in result.placements].count(0) == 2


def test_fixed_meetings_keep_their_table_and_new_ones_take_the_lowest_free():
    wishes = [MeetingWish("f", "b1", "s1"), MeetingWish("n", "b2", "s2")]
    result = schedule(wishes, 1, 3, {}, fixed=[Placement("f", 0, 1)])
    assert result.placements == (Placement("f", 0, 1), Placement("n", 0, 2))
    assert result.upper_bound == 2


@pytest.mark.parametrize(
    ("wishes", "slots", "unavailable", "fixed", "reason"),
    [
        ([MeetingWish("w", "b", "s")], 2, {"b": frozenset({0, 1})}, [],
         "buyer b is unavailable in every slot"),
        ([MeetingWish("w", "b", "s")], 2, {"s": frozenset({0, 1})}, [],
         "supplier s is unavailable in every slot"),
        ([MeetingWish("w", "b", "s")], 2, {"b": frozenset({0}), "s": frozenset({1})}, [],
         "no common free slot for buyer b and supplier s"),
        ([MeetingWish("w", "b", "s"), MeetingWish("f", "b", "t")], 1, {}, [Placement("f", 0, 1)],
         "buyer b has no free slot left"),
        ([MeetingWish("w", "b", "s"), MeetingWish("f", "c", "t")], 1, {}, [Placement("f", 0, 1)],
         "every table is taken in the 1 slot(s) both can do"),
        ([MeetingWish("w", "b", "b")], 1, {}, [],
         "buyer and supplier are the same organization (b)"),
        ([MeetingWish("w", "b", "s", 1), MeetingWish("v", "b", "s", 3)], 1, {}, [],
         "same buyer and supplier as wish v (one meeting per pair)"),
    ],
)  # fmt: skip
def test_an_unplaced_wish_says_why(wishes, slots, unavailable, fixed, reason):
    result = schedule(wishes, slots, 1, unavailable, fixed)
    assert dict(result.unplaced)["w"] == reason


def test_a_duplicate_of_a_fixed_meeting_is_not_placed_again():
    wishes = [MeetingWish("old", "b", "s", 1), MeetingWish("new", "b", "s", 50)]
    result = schedule(wishes, 3, 1, {}, fixed=[Placement("old", 2, 1)])
    assert result.placements == (Placement("old", 2, 1),)
    assert result.unplaced == (("new", "same buyer and supplier as wish old (one meeting per "
                                "pair)"),)  # fmt: skip


def test_a_cancelled_meeting_moves_to_another_slot_and_the_others_stay():
    wishes = [MeetingWish("m1", "b", "s1", 5), MeetingWish("m2", "b", "s2", 3)]
    first = (Placement("m1", 0, 1), Placement("m2", 1, 1))
    after = reschedule(wishes, 3, 1, {}, first, {"m1": "s1"})
    assert after.placements == (Placement("m2", 1, 1), Placement("m1", 2, 1))
    # s1 cannot do slot 0 and cancels slot 2; slot 1 is b's meeting with s2: no slot is left.
    stuck = reschedule(wishes, 3, 1, {"s1": frozenset({0})}, after.placements, {"m1": "s1"})
    assert stuck.placements == (Placement("m2", 1, 1),)
    assert dict(stuck.unplaced) == {"m1": "no common free slot for buyer b and supplier s1"}


def test_without_ortools_greedy_still_gives_a_valid_schedule(monkeypatch):
    monkeypatch.setattr(scheduling, "_cp_model", lambda: None)
    monkeypatch.setattr(scheduling, "_max_flow_class", lambda: None)
    wishes = [MeetingWish("heavy", "b", "s2", 10), MeetingWish("light", "b", "s1", 1)]
    result = schedule(wishes, 2, 1, {"s1": frozenset({1})})
    assert result.method == "greedy (ortools is not installed)"
    assert result.placements == (Placement("heavy", 0, 1),)
    assert result.upper_bound == 2  # per buyer: 2 pairs, 2 free slots


def test_a_solver_failure_falls_back_to_greedy(monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(scheduling, "_run", broken)
    wishes = [MeetingWish("w", "b", "s")]
    result = schedule(wishes, 1, 1, {})
    assert result.placements == (Placement("w", 0, 1),)
    assert result.method.startswith("greedy (cp-sat failed: boom)")


def test_nothing_to_place():
    result = schedule([], 4, 2, {})
    assert result == Schedule((), (), 0, "nothing to place")


@pytest.mark.parametrize(
    ("wishes", "fixed", "message"),
    [
        ([MeetingWish("k", "b", "s"), MeetingWish("k", "b", "t")], [], "names two different"),
        ([MeetingWish("k", "b", "s", -1)], [], "must not be negative"),
        ([MeetingWish("k", "b", "s")], [Placement("x", 0, 1)], "not among the wishes"),
        ([MeetingWish("k", "b", "s")], [Placement("k", 5, 1)], "outside"),
        ([MeetingWish("k", "b", "s")], [Placement("k", 0, 0)], "outside"),
        ([MeetingWish("k", "b", "s"), MeetingWish("j", "c", "t")],
         [Placement("k", 0, 1), Placement("j", 0, 1)], "clashes"),
        ([MeetingWish("k", "b", "s"), MeetingWish("j", "b", "t")],
         [Placement("k", 0, 1), Placement("j", 0, 2)], "two places"),
        ([MeetingWish("k", "b", "s"), MeetingWish("j", "b", "s")],
         [Placement("k", 0, 1), Placement("j", 1, 1)], "already meets"),
    ],
)  # fmt: skip
def test_inconsistent_input_is_refused(wishes, fixed, message):
    with pytest.raises(ValueError, match=message):
        schedule(wishes, 2, 2, {}, fixed)


def test_a_generated_session_beats_greedy_and_reaches_its_bound():
    # 10 buyers, 40 suppliers, 6 slots x 8 tables (48 seats) from the benchmark's generator.
    wishes, unavailable = generated_session(7, 10, 40, 6)
    greedy = greedy_schedule(wishes, 6, 8, unavailable)
    result = schedule(wishes, 6, 8, unavailable, time_limit_s=1.0)
    assert_valid(result, wishes, 6, 8, unavailable)
    assert len(result.placements) >= len(greedy.placements)
    assert len(result.placements) == result.upper_bound
    assert schedule(wishes, 6, 8, unavailable, time_limit_s=1.0) == result


def test_random_order_of_many_wishes_gives_the_same_schedule():
    wishes, unavailable = generated_session(3, 8, 30, 5)
    shuffled = list(wishes)
    random.Random(1).shuffle(shuffled)
    assert schedule(shuffled, 5, 6, unavailable, time_limit_s=0.5) == schedule(
        wishes, 5, 6, unavailable, time_limit_s=0.5
    )


def test_the_window_search_alone_reaches_the_bound_greedy_misses(monkeypatch):
    # The whole model skipped (as for a large session): the slot windows must find the 47th
    # meeting themselves.
    monkeypatch.setattr(scheduling, "FULL_MODEL_MAX_VARS", 0)
    wishes, unavailable = generated_session(4, 10, 40, 6)
    greedy = greedy_schedule(wishes, 6, 8, unavailable)
    result = schedule(wishes, 6, 8, unavailable, time_limit_s=1.0)
    assert_valid(result, wishes, 6, 8, unavailable)
    assert len(greedy.placements) == 46
    assert len(result.placements) == result.upper_bound == 47
    assert result.method == "cp-sat + slot windows, 1 s limit: most meetings (proved)"
