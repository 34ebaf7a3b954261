"""B2B meeting scheduling: pairs (buyer, supplier) into a session's slots x tables.

Why this shape: buyer attention is the scarce resource of a trade-connection session (a few
dozen buyers, hundreds of suppliers), so the schedule should hold as many meetings as the slots,
tables and people's availability allow, the most valuable ones first, and say why a pair could
not be placed.

Model (OR-Tools CP-SAT): one boolean x[pair, slot] for every slot the pair could use (neither
party unavailable, neither already in a fixed meeting then, a table left in the slot). Each
organization is in at most one meeting per slot, each slot holds at most its free tables, each
pair meets at most once. Objective: maximise ``sum x * (BIG + w)`` where ``w`` is the wish's
weight scaled to 0..1000 of the heaviest wish and ``BIG`` exceeds the sum of all scaled weights:
one more meeting always beats any heavier set of fewer meetings (lexicographic: count first,
then weight; weights are compared at a resolution of 1/1000 of the heaviest).

Search, within ``time_limit_s`` of CP-SAT deterministic time:
1. Greedy (heaviest wish first, earliest slot where both are free and a table is left): the
   baseline, the solver's hint (warm start), and the fallback when OR-Tools is missing, fails,
   or finds nothing.
2. CP-SAT on the whole model with 30% of the budget, when it has at most 3,000 (pair, slot)
   variables: it proves the optimum outright on a small session, else its bound is kept.
   A larger model only spends that share in presolve and the LP, so it is skipped.
3. Window search (large-neighbourhood search) with the rest: free the meetings of 4 slots drawn
   at random (seeded), place them and every unplaced pair in those slots again, optimally, by
   CP-SAT; keep the result when it is better. A window is independent of the other slots, so
   it can only improve the whole. On the 300-participant benchmark a single CP-SAT worker
   stayed at greedy's 95% of the seats for the whole budget; the windows reach the bound
   (bench/meetings.py, docs/benchmarks.md).
The better of the search and greedy by (count, weight) is returned, so the count is never below
greedy's. Any pair that still fits is added at the end (heaviest first). Tables are numbered
after the slots are chosen: per slot, heaviest meeting first, the lowest free table number.

``upper_bound`` (meetings, fixed ones included) is the smallest of: CP-SAT's proved objective
bound // BIG (every meeting adds at least BIG), the placeable pairs, the free seats, per slot the
fewer of its free tables and the largest matching of the pairs open then, and the max flow in
which no organization has more meetings than free slots. ``method`` says "most meetings
(proved)" when the schedule reaches it.

Determinism: one worker, a fixed random seed, a seeded window order, and a *deterministic* time
limit (``max_deterministic_time``, CP-SAT's machine-independent measure of work) as the stop,
so the same input gives the same schedule on any machine and under any load; the wishes' order
does not matter either. A wall-clock guard of ten times ``time_limit_s`` stops a pathological
run; only then can two runs differ (``method`` says so).
A deterministic second is not a second of this machine: on the 2-core build machine (AMD EPYC)
a 2 s budget on the 300-participant benchmark took 2.3-6.0 s of wall-clock time when the
machine was quiet, and 6-20 s while other test suites shared its cores (load average 3-5).
Small sessions finish in milliseconds (proved optimal by step 2).

Slots are indexes into the session's ``meeting_plan.slots`` (0-based); tables are numbered from
1, as in the ``meetings`` documents.

Rescheduling (``reschedule``): when a party cancels a meeting, every other placement becomes
``fixed``, the cancelled slot becomes unavailable to the party who cancelled, and the pair (and
any wish still unplaced) is placed again where possible. To drop a pair for good, leave its
wish out instead.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

RESOLUTION = 1000
"""Weights are scaled to 0..RESOLUTION of the heaviest wish (see the module doc)."""
SEED = 20240701
WALL_CLOCK_FACTOR = 10.0
"""A wall-clock guard: the search stops at 10x ``time_limit_s`` even with deterministic time
left (a pathological case; a busy machine takes 2-4x); only then may two runs differ."""
FULL_SHARE = 0.3
"""Share of the budget (deterministic seconds) for the whole model: its bound, and the optimum
outright on a small session..."""
FULL_MODEL_MAX_VARS = 3000
"""...of at most this many (pair, slot) variables. A larger one spends that share in presolve
and the LP without improving on greedy (the 300-participant benchmark has 13,000): the window
search gets the whole budget instead."""
WINDOW = 4
"""Slots re-solved together by the window search. On six generated 300-participant sessions
(2 s budget) windows of 4 slots reached the proved bound on all six, of 5 on five, of 3 on
four, of 2 (tried on three) on none (docs/benchmarks.md)."""
WINDOW_LIMIT_S = 0.2
STALE_WINDOWS = 30
"""The window search stops after this many windows in a row without a gain..."""
POLISH_WINDOWS = 8
"""...or this many once the count has reached the proved bound (only weight is left to gain)."""


@dataclass(frozen=True, slots=True)
class MeetingWish:
    """One pair that should meet."""

    key: str
    """Stable id of the pair, e.g. derived from (buyer, supplier)."""
    buyer_id: str
    supplier_id: str
    weight: int = 1
    """Priority (e.g. confirmed value, >= 0); more weight is placed first."""


@dataclass(frozen=True, slots=True)
class Placement:
    key: str
    slot: int
    """Index into the session's slots, from 0."""
    table: int
    """Table number, from 1."""


@dataclass(frozen=True, slots=True)
class Schedule:
    placements: tuple[Placement, ...]
    """Every meeting of the plan: the fixed ones (unchanged) and the new ones, by (slot, table)."""
    unplaced: tuple[tuple[str, str], ...]
    """(key, reason in words) for every wish without a placement, by key."""
    upper_bound: int
    """Proved: no valid schedule holds more meetings (fixed included) than this."""
    method: str
    """How the new placements were found: "cp-sat optimal"; "cp-sat + slot windows, 2 s limit"
    (with ": most meetings (proved)" when the count reaches ``upper_bound``); "greedy (why the
    solver was not used)"; "nothing to place"."""


@dataclass
class _Pair:
    key: str
    buyer: str
    supplier: str
    weight: int
    slots: tuple[int, ...] = ()
    """Slots the pair could use before any new meeting is placed."""


@dataclass
class _Problem:
    """The wishes after collapsing duplicates, with what the fixed meetings already hold."""

    slots: int
    tables: int
    pairs: list[_Pair]
    fixed: tuple[Placement, ...]
    free_tables: list[int]
    busy: dict[str, set[int]]
    """Org -> slots taken by its fixed meetings."""
    blocked: dict[str, frozenset[int]]
    """Org -> slots it cannot do (unavailability)."""
    unplaced: dict[str, str] = field(default_factory=dict)
    """Wishes settled before any search: duplicates, self-meetings, no possible slot."""


def schedule(
    wishes: Iterable[MeetingWish],
    slots: int,
    tables: int,
    unavailable: Mapping[str, frozenset[int]],
    fixed: Sequence[Placement] = (),
    time_limit_s: float = 2.0,
) -> Schedule:
    """Place as many wishes as possible (then the heaviest), keeping ``fixed`` unchanged.

    Every fixed placement's key must be one of ``wishes`` (that is how its buyer and supplier
    are known); fixed placements are kept even where a party is now unavailable. Raises
    ValueError for an inconsistent input (a key naming two pairs, a negative weight, a fixed
    placement outside the plan or clashing with another)."""
    problem = _prepare(wishes, slots, tables, unavailable, fixed)
    greedy = _greedy(problem)
    chosen, method = greedy, "greedy"
    bound = _simple_bound(problem)
    if problem.pairs:
        solved = _solve(problem, greedy, time_limit_s, bound)
        if solved.chosen is not None and _value(problem, solved.chosen) >= _value(problem, greedy):
            chosen, method = solved.chosen, solved.method
        else:
            method = f"greedy ({solved.method})"
        if solved.bound is not None:
            bound = min(bound, solved.bound)
        if len(chosen) >= bound and method != "cp-sat optimal":
            method += ": most meetings (proved)"
    elif not problem.unplaced:
        method = "nothing to place"
    bound = max(bound, len(chosen))  # the schedule itself proves that many are possible
    return _result(problem, chosen, len(problem.fixed) + bound, method)


def greedy_schedule(
    wishes: Iterable[MeetingWish],
    slots: int,
    tables: int,
    unavailable: Mapping[str, frozenset[int]],
    fixed: Sequence[Placement] = (),
) -> Schedule:
    """The greedy pass alone (heaviest first, earliest free slot): the baseline to compare."""
    problem = _prepare(wishes, slots, tables, unavailable, fixed)
    chosen = _greedy(problem)
    bound = max(_simple_bound(problem), len(chosen))
    return _result(problem, chosen, len(problem.fixed) + bound, "greedy")


def reschedule(
    wishes: Iterable[MeetingWish],
    slots: int,
    tables: int,
    unavailable: Mapping[str, frozenset[int]],
    current: Sequence[Placement],
    cancelled: Mapping[str, str],
    time_limit_s: float = 2.0,
) -> Schedule:
    """After cancellations (meeting key -> org id of the party who cancelled): the other
    placements stay as they are, each cancelled slot becomes unavailable to the party who
    cancelled it, and the pairs (with every wish still unplaced) are placed again if possible."""
    was = {p.key: p for p in current}
    blocked: dict[str, frozenset[int]] = dict(unavailable)
    for key, org in cancelled.items():
        if key in was:
            blocked[org] = blocked.get(org, frozenset()) | {was[key].slot}
    kept = [p for p in current if p.key not in cancelled]
    return schedule(wishes, slots, tables, blocked, kept, time_limit_s)


# -- preparation ----------------------------------------------------------------------------


def _prepare(
    wishes: Iterable[MeetingWish],
    slots: int,
    tables: int,
    unavailable: Mapping[str, frozenset[int]],
    fixed: Sequence[Placement],
) -> _Problem:
    if slots < 0 or tables < 0:
        raise ValueError("slots and tables must not be negative")
    by_key: dict[str, MeetingWish] = {}
    for wish in wishes:
        if wish.weight < 0:
            raise ValueError(f"wish {wish.key}: weight must not be negative")
        seen = by_key.get(wish.key)
        if seen is not None and (seen.buyer_id, seen.supplier_id) != (
            wish.buyer_id,
            wish.supplier_id,
        ):
            raise ValueError(f"wish key {wish.key} names two different pairs")
        if seen is None or wish.weight > seen.weight:
            by_key[wish.key] = wish
    fixed_t = tuple(fixed)
    fixed_keys = _check_fixed(fixed_t, by_key, slots, tables)
    blocked = {org: frozenset(s for s in out if 0 <= s < slots) for org, out in unavailable.items()}
    busy: dict[str, set[int]] = defaultdict(set)
    free_tables = [tables] * slots
    for p in fixed_t:
        w = by_key[p.key]
        busy[w.buyer_id].add(p.slot)
        busy[w.supplier_id].add(p.slot)
        free_tables[p.slot] -= 1
    problem = _Problem(slots, tables, [], fixed_t, free_tables, busy, blocked)
    # One meeting per pair: the pair's fixed key, else its heaviest wish (then smallest key).
    groups: dict[tuple[str, str], list[MeetingWish]] = defaultdict(list)
    for wish in by_key.values():
        groups[(wish.buyer_id, wish.supplier_id)].append(wish)
    for (buyer, supplier), group in groups.items():
        group.sort(key=lambda w: (w.key not in fixed_keys, -w.weight, w.key))
        head = group[0]
        for other in group[1:]:
            problem.unplaced[other.key] = (
                f"same buyer and supplier as wish {head.key} (one meeting per pair)"
            )
        if head.key in fixed_keys:
            continue
        if buyer == supplier:
            problem.unplaced[head.key] = f"buyer and supplier are the same organization ({buyer})"
            continue
        pair = _Pair(head.key, buyer, supplier, max(w.weight for w in group))
        pair.slots = tuple(s for s in range(slots) if _open(problem, pair, s))
        if pair.slots:
            problem.pairs.append(pair)
        else:
            problem.unplaced[head.key] = _why_no_slot(problem, pair)
    problem.pairs.sort(key=lambda p: p.key)  # the same problem whatever the wishes' order
    return problem


def _check_fixed(
    fixed: tuple[Placement, ...], by_key: Mapping[str, MeetingWish], slots: int, tables: int
) -> set[str]:
    keys: set[str] = set()
    places: set[tuple[int, int]] = set()
    orgs: set[tuple[str, int]] = set()
    pairs: set[tuple[str, str]] = set()
    for p in fixed:
        if p.key not in by_key:
            raise ValueError(f"fixed meeting {p.key} is not among the wishes (who meets?)")
        if not (0 <= p.slot < slots and 1 <= p.table <= tables):
            raise ValueError(f"fixed meeting {p.key} is outside {slots} slots x {tables} tables")
        if p.key in keys or (p.slot, p.table) in places:
            raise ValueError(f"fixed meeting {p.key} clashes with another fixed meeting")
        w = by_key[p.key]
        if (w.buyer_id, w.supplier_id) in pairs:
            raise ValueError(f"fixed meeting {p.key}: that pair already meets in another one")
        pairs.add((w.buyer_id, w.supplier_id))
        if (w.buyer_id, p.slot) in orgs or (w.supplier_id, p.slot) in orgs:
            raise ValueError(f"fixed meeting {p.key} puts an organization in two places")
        keys.add(p.key)
        places.add((p.slot, p.table))
        orgs.update({(w.buyer_id, p.slot), (w.supplier_id, p.slot)})
    return keys


def _open(problem: _Problem, pair: _Pair, slot: int) -> bool:
    """Could the pair meet in this slot, given availability and the fixed meetings alone?"""
    return problem.free_tables[slot] > 0 and all(
        slot not in problem.blocked.get(org, ()) and slot not in problem.busy.get(org, ())
        for org in (pair.buyer, pair.supplier)
    )


def _free_slots(problem: _Problem, org: str) -> set[int]:
    gone = problem.blocked.get(org, frozenset()) | problem.busy.get(org, set())
    return set(range(problem.slots)) - gone


def _why_no_slot(problem: _Problem, pair: _Pair) -> str:
    if problem.slots == 0 or problem.tables == 0:
        return "the session has no meeting slots or tables"
    for role, org in (("buyer", pair.buyer), ("supplier", pair.supplier)):
        if not _free_slots(problem, org):
            if len(problem.blocked.get(org, ())) == problem.slots:
                return f"{role} {org} is unavailable in every slot"
            return f"{role} {org} has no free slot left"
    common = _free_slots(problem, pair.buyer) & _free_slots(problem, pair.supplier)
    if not common:
        return f"no common free slot for buyer {pair.buyer} and supplier {pair.supplier}"
    return f"every table is taken in the {len(common)} slot(s) both can do"


# -- greedy ---------------------------------------------------------------------------------


def _greedy(problem: _Problem) -> dict[str, int]:
    """Heaviest wish first (then key), each into the earliest slot still open for both."""
    chosen: dict[str, int] = {}
    _fill(problem, chosen)
    return chosen


def _fill(problem: _Problem, chosen: dict[str, int]) -> None:
    """Add to ``chosen``, heaviest first, every pair that still fits in its earliest slot."""
    pairs = {p.key: p for p in problem.pairs}
    busy: dict[str, set[int]] = defaultdict(set)
    for org, slots in problem.busy.items():
        busy[org].update(slots)
    free = list(problem.free_tables)
    for key, slot in chosen.items():
        busy[pairs[key].buyer].add(slot)
        busy[pairs[key].supplier].add(slot)
        free[slot] -= 1
    for pair in sorted(problem.pairs, key=lambda p: (-p.weight, p.key)):
        if pair.key in chosen:
            continue
        b, s = busy[pair.buyer], busy[pair.supplier]
        for slot in pair.slots:
            if free[slot] > 0 and slot not in b and slot not in s:
                chosen[pair.key] = slot
                free[slot] -= 1
                b.add(slot)
                s.add(slot)
                break


# -- CP-SAT ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Solved:
    chosen: dict[str, int] | None
    bound: int | None
    """Meetings (new ones) the solver proved impossible to exceed, if it proved anything."""
    method: str


@dataclass(frozen=True)
class _Run:
    optimal: bool
    chosen: dict[str, int] | None
    objective_bound: float | None


class _Budget:
    """The deterministic time left (what stops the search), and a wall-clock guard."""

    def __init__(self, time_limit_s: float) -> None:
        self.limit = time_limit_s
        self.used = 0.0
        self.deadline = time.monotonic() + time_limit_s * WALL_CLOCK_FACTOR

    def left(self) -> float:
        return max(0.0, self.limit - self.used)

    def wall_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def out(self) -> bool:
        return self.left() <= 0.0 or self.wall_left() <= 0.0


def _cp_model() -> ModuleType | None:
    """OR-Tools, imported when first needed (0.4 s); None if it is not installed."""
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        return None
    return cp_model


def _scaled(problem: _Problem) -> tuple[dict[str, int], int]:
    """Weights scaled to 0..RESOLUTION, and BIG: more than all of them together."""
    heaviest = max((p.weight for p in problem.pairs), default=0)
    scaled = {
        p.key: (p.weight * RESOLUTION + heaviest // 2) // heaviest if heaviest else 0
        for p in problem.pairs
    }
    return scaled, sum(scaled.values()) + 1


def _value(problem: _Problem, chosen: Mapping[str, int]) -> tuple[int, int]:
    """(count, weight): the order the objective ranks schedules in."""
    weight = {p.key: p.weight for p in problem.pairs}
    return len(chosen), sum(weight[k] for k in chosen)


def _solve(
    problem: _Problem, hint: Mapping[str, int], time_limit_s: float, known_bound: int
) -> _Solved:
    """The whole model first (the bound; the optimum outright on small sessions), then, while
    the budget lasts, re-solve windows of a few slots at a time (below)."""
    cp_model = _cp_model()
    if cp_model is None:
        return _Solved(None, None, "ortools is not installed")
    scaled, big = _scaled(problem)
    budget = _Budget(time_limit_s)
    everything = [(pair, pair.slots) for pair in problem.pairs]
    bound, current = known_bound, dict(hint)
    try:
        if sum(len(pair.slots) for pair in problem.pairs) <= FULL_MODEL_MAX_VARS:
            limit = time_limit_s * FULL_SHARE
            full = _run(cp_model, problem, everything, hint, scaled, big, limit, budget)
            if full.optimal and full.chosen is not None:
                return _Solved(full.chosen, len(full.chosen), "cp-sat optimal")
            if full.objective_bound is not None:
                bound = min(bound, int(full.objective_bound + 1e-6) // big)
            if full.chosen is not None and _rank(full.chosen, scaled) > _rank(current, scaled):
                current = full.chosen
        current = _window_search(cp_model, problem, current, scaled, big, bound, budget)
    except Exception as error:  # any solver failure falls back to greedy
        return _Solved(None, None, f"cp-sat failed: {error}")
    _fill(problem, current)
    method = f"cp-sat + slot windows, {time_limit_s:g} s limit"
    if budget.wall_left() <= 0.0:
        method += f" (stopped by the {time_limit_s * WALL_CLOCK_FACTOR:g} s wall-clock guard)"
    return _Solved(current, bound, method)


def _rank(chosen: Mapping[str, int], scaled: Mapping[str, int]) -> tuple[int, int]:
    return len(chosen), sum(scaled[k] for k in chosen)


def _window_search(
    cp_model: Any,
    problem: _Problem,
    current: dict[str, int],
    scaled: Mapping[str, int],
    big: int,
    bound: int,
    budget: _Budget,
) -> dict[str, int]:
    """Large-neighbourhood search: free the meetings of WINDOW slots drawn at random (seeded),
    and place them and every unplaced pair there again, optimally. A window is independent of
    the other slots (an organization's slots are separate; pairs met elsewhere stay out), so
    its optimum only improves the whole. Stops when the budget is spent, or after
    STALE_WINDOWS windows in a row without a gain (POLISH_WINDOWS once the count is proved)."""
    if problem.slots <= WINDOW:
        return current  # the whole model was the only window
    rng = random.Random(SEED)
    stale = 0
    while not budget.out() and stale < STALE_WINDOWS:
        if len(current) >= bound and (stale >= POLISH_WINDOWS or not any(scaled.values())):
            break
        window = frozenset(rng.sample(range(problem.slots), WINDOW))
        inside = [
            (pair, tuple(s for s in pair.slots if s in window))
            for pair in problem.pairs
            if pair.key not in current or current[pair.key] in window
        ]
        before = {k: s for k, s in current.items() if s in window}
        run = _run(cp_model, problem, inside, before, scaled, big, WINDOW_LIMIT_S, budget)
        if run.chosen is not None and _rank(run.chosen, scaled) > _rank(before, scaled):
            current = {k: s for k, s in current.items() if s not in window} | run.chosen
            stale = 0
        else:
            stale += 1
    return current


def _run(
    cp_model: Any,
    problem: _Problem,
    pairs: Sequence[tuple[_Pair, tuple[int, ...]]],
    hint: Mapping[str, int],
    scaled: Mapping[str, int],
    big: int,
    limit_s: float,
    budget: _Budget,
) -> _Run:
    """One CP-SAT solve of ``pairs`` over their given slots: one worker, seeded, stopped by
    deterministic time (at most ``limit_s`` and what the budget has left)."""
    model = cp_model.CpModel()
    x: dict[tuple[str, int], Any] = {}
    per_org: dict[tuple[str, int], list[Any]] = defaultdict(list)
    per_slot: dict[int, list[Any]] = defaultdict(list)
    for pair, slots in pairs:
        own = []
        for slot in slots:
            var = model.new_bool_var(f"{pair.key}@{slot}")
            x[(pair.key, slot)] = var
            own.append(var)
            per_org[(pair.buyer, slot)].append(var)
            per_org[(pair.supplier, slot)].append(var)
            per_slot[slot].append(var)
            model.add_hint(var, int(hint.get(pair.key) == slot))
        if len(own) > 1:
            model.add_at_most_one(own)
    for group in per_org.values():
        if len(group) > 1:
            model.add_at_most_one(group)
    for slot, group in per_slot.items():
        if len(group) > problem.free_tables[slot]:
            model.add(cp_model.LinearExpr.sum(group) <= problem.free_tables[slot])
    coefficients = [big + scaled[key] for key, _ in x]
    model.maximize(cp_model.LinearExpr.weighted_sum(list(x.values()), coefficients))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SEED
    solver.parameters.max_deterministic_time = min(limit_s, budget.left())
    solver.parameters.max_time_in_seconds = budget.wall_left()
    status = solver.solve(model)
    budget.used += solver.deterministic_time
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _Run(False, None, None)
    chosen = {key: slot for (key, slot), var in x.items() if solver.boolean_value(var)}
    # Every placed meeting adds at least BIG (scaled weights are >= 0), so no schedule holds
    # more than the objective's proved bound // BIG meetings.
    return _Run(status == cp_model.OPTIMAL, chosen, solver.best_objective_bound)


# -- bounds and result ----------------------------------------------------------------------


def _simple_bound(problem: _Problem) -> int:
    """A bound on the new meetings, proved by relaxations: the placeable pairs; the free tables
    over all slots; per slot, the fewer of its free tables and the most pairs that can meet at
    once then (a bipartite matching); and, slots forgotten, the most pairs such that no
    organization has more meetings than free slots (a max flow), or, without OR-Tools, per
    buyer (and per supplier) the fewer of its pairs and its free slots, summed."""
    bounds = [len(problem.pairs), sum(problem.free_tables)]
    flow = _max_flow_class()
    if flow is None:
        for role in ("buyer", "supplier"):
            pairs_of: dict[str, set[int]] = defaultdict(set)
            count: dict[str, int] = defaultdict(int)
            for p in problem.pairs:
                org = getattr(p, role)
                count[org] += 1
                pairs_of[org].update(p.slots)
            bounds.append(sum(min(count[o], len(pairs_of[o])) for o in count))
        return min(bounds)
    per_slot = 0
    for slot in range(problem.slots):
        edges = [(p.buyer, p.supplier) for p in problem.pairs if slot in p.slots]
        if edges:
            matched = _flow_value(flow, edges, lambda _org: 1)
            per_slot += min(problem.free_tables[slot], matched)
    bounds.append(per_slot)
    open_slots: dict[str, set[int]] = defaultdict(set)
    for p in problem.pairs:
        open_slots[p.buyer].update(p.slots)
        open_slots[p.supplier].update(p.slots)
    edges = [(p.buyer, p.supplier) for p in problem.pairs]
    bounds.append(_flow_value(flow, edges, lambda org: len(open_slots[org])))
    return min(bounds)


def _max_flow_class() -> Any:
    try:
        from ortools.graph.python.max_flow import SimpleMaxFlow
    except ImportError:
        return None
    return SimpleMaxFlow


def _flow_value(flow_class: Any, edges: Sequence[tuple[str, str]], capacity: Any) -> int:
    """Max flow source -> buyer (capacity(buyer)) -> supplier (1 per pair) -> sink
    (capacity(supplier)): the most pairs meeting with no org over its capacity."""
    flow = flow_class()
    nodes: dict[tuple[str, str], int] = {}

    def node(side: str, org: str) -> int:
        key = (side, org)
        if key not in nodes:
            nodes[key] = len(nodes) + 2
            if side == "b":
                flow.add_arc_with_capacity(0, nodes[key], capacity(org))
            else:
                flow.add_arc_with_capacity(nodes[key], 1, capacity(org))
        return nodes[key]

    for buyer, supplier in edges:
        flow.add_arc_with_capacity(node("b", buyer), node("s", supplier), 1)
    if flow.solve(0, 1) != flow.OPTIMAL:
        raise RuntimeError("max flow failed")
    return int(flow.optimal_flow())


def _result(problem: _Problem, chosen: Mapping[str, int], bound: int, method: str) -> Schedule:
    pairs = {p.key: p for p in problem.pairs}
    taken: dict[int, set[int]] = defaultdict(set)
    for p in problem.fixed:
        taken[p.slot].add(p.table)
    placements = list(problem.fixed)
    by_slot = sorted(chosen.items(), key=lambda kv: (kv[1], -pairs[kv[0]].weight, kv[0]))
    for key, slot in by_slot:
        table = next(t for t in range(1, problem.tables + 1) if t not in taken[slot])
        taken[slot].add(table)
        placements.append(Placement(key, slot, table))
    unplaced = dict(problem.unplaced)
    busy: dict[str, set[int]] = defaultdict(set)
    used: dict[int, int] = defaultdict(int)
    for key, slot in chosen.items():
        busy[pairs[key].buyer].add(slot)
        busy[pairs[key].supplier].add(slot)
        used[slot] += 1
    for pair in problem.pairs:
        if pair.key not in chosen:
            unplaced[pair.key] = _why_not_placed(problem, pair, busy, used)
    return Schedule(
        placements=tuple(sorted(placements, key=lambda p: (p.slot, p.table))),
        unplaced=tuple(sorted(unplaced.items())),
        upper_bound=bound,
        method=method,
    )


def _why_not_placed(
    problem: _Problem, pair: _Pair, busy: Mapping[str, set[int]], used: Mapping[int, int]
) -> str:
    """Why a pair that had open slots got none: who, or what, holds each of them."""
    n = len(pair.slots)
    if all(s in busy[pair.buyer] for s in pair.slots):
        return f"buyer {pair.buyer} has no free slot left ({n} possible, all in other meetings)"
    if all(s in busy[pair.supplier] for s in pair.slots):
        return (
            f"supplier {pair.supplier} has no free slot left ({n} possible, all in other meetings)"
        )
    if all(used[s] >= problem.free_tables[s] for s in pair.slots):
        return f"every table is taken in the {n} slot(s) both can do"
    return (
        f"each of the {n} slot(s) both can do is taken by another meeting of one of them or "
        "has no table left"
    )
