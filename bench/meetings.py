"""B2B meeting scheduling on a 300-participant session: meetings placed against a proved bound.

    python -m bench.meetings [--seed 42] [--buyers 60] [--suppliers 240] [--slots 16]
                             [--tables 40] [--time-limit 2.0] [--other-seeds 2 3 5 7]

A seeded generator draws a supply-heavy session as organizers describe them (buyer attention is
the scarce resource): each supplier asks to meet 1-5 buyers, popular buyers far more often
(Zipf-like), each buyer asks for 1-6 suppliers; half the wishes come from accepted matches and
weigh their value in million VND, the rest are requests of weight 1. A quarter of the
participants arrive late or leave early (2-5 slots missing at one end), one in twenty misses
one slot in the middle. ``services.programme.scheduling.schedule`` places them (CP-SAT, greedy
hint, one worker, deterministic time limit); the greedy pass alone is the baseline. Reported:
meetings placed, the proved upper bound (CP-SAT's bound on the meeting count, or the smaller of
the simple bounds: per buyer min(wishes, free slots), per supplier the same, slots x tables,
distinct pairs), placed / bound, greedy's count, time, and whether a second run gave the same
schedule; then the same for sessions of the same shape from other seeds (one line each).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from bench import report
from services.programme.scheduling import (
    MeetingWish,
    Placement,
    Schedule,
    greedy_schedule,
    schedule,
)

DEFAULTS = {"seed": 42, "buyers": 60, "suppliers": 240, "slots": 16, "tables": 40}
OTHER_SEEDS = (2, 3, 5, 7)
TIME_LIMIT_S = 2.0
"""The gateway's budget per scheduling run (services/gateway/routers/meetings.py)."""


def session(
    seed: int, buyers: int, suppliers: int, slots: int
) -> tuple[list[MeetingWish], dict[str, frozenset[int]]]:
    """Wishes and unavailability of a generated session (same seed, same session)."""
    rng = random.Random(seed)
    buyer_ids = [f"buyer-{i:03d}" for i in range(buyers)]
    supplier_ids = [f"supplier-{i:03d}" for i in range(suppliers)]
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(buyers)]
    rng.shuffle(popularity)
    wishes: dict[tuple[str, str], MeetingWish] = {}

    def wish(buyer: str, supplier: str) -> None:
        from_match = rng.random() < 0.5
        weight = max(1, round(rng.lognormvariate(4.0, 1.2))) if from_match else 1
        key = f"{buyer}|{supplier}"
        if (buyer, supplier) not in wishes:
            wishes[(buyer, supplier)] = MeetingWish(key, buyer, supplier, weight)

    for supplier in supplier_ids:
        for buyer in sorted(set(rng.choices(buyer_ids, weights=popularity, k=rng.randint(1, 5)))):
            wish(buyer, supplier)
    for buyer in buyer_ids:
        for supplier in rng.sample(supplier_ids, rng.randint(1, 6)):
            wish(buyer, supplier)
    unavailable: dict[str, frozenset[int]] = {}
    for org in buyer_ids + supplier_ids:
        draw = rng.random()
        if draw < 0.25:
            missing = rng.randint(2, 5)
            late = rng.random() < 0.5
            unavailable[org] = frozenset(range(missing) if late else range(slots - missing, slots))
        elif draw < 0.30:
            unavailable[org] = frozenset({rng.randrange(1, slots - 1)})
    return sorted(wishes.values(), key=lambda w: w.key), unavailable


def violations(
    result: Schedule,
    wishes: list[MeetingWish],
    tables: int,
    unavailable: dict[str, frozenset[int]],
) -> list[str]:
    """Double bookings, unavailable slots, pairs met twice: what must never happen."""
    by_key = {w.key: w for w in wishes}
    problems, seats, places, pairs = [], set(), set(), set()
    for p in result.placements:
        w = by_key[p.key]
        for org in (w.buyer_id, w.supplier_id):
            if (org, p.slot) in seats:
                problems.append(f"{org} twice in slot {p.slot}")
            if p.slot in unavailable.get(org, ()):
                problems.append(f"{org} is unavailable in slot {p.slot}")
            seats.add((org, p.slot))
        if (p.slot, p.table) in places or not 1 <= p.table <= tables:
            problems.append(f"table {p.table} of slot {p.slot} taken twice or out of range")
        places.add((p.slot, p.table))
        if (w.buyer_id, w.supplier_id) in pairs:
            problems.append(f"{w.buyer_id} meets {w.supplier_id} twice")
        pairs.add((w.buyer_id, w.supplier_id))
    return problems


def measure(
    seed: int = 42,
    buyers: int = 60,
    suppliers: int = 240,
    slots: int = 16,
    tables: int = 40,
    time_limit_s: float = TIME_LIMIT_S,
    twice: bool = True,
) -> dict[str, Any]:
    """One generated session: greedy, then the scheduler (``twice``: again, to compare)."""
    wishes, unavailable = session(seed, buyers, suppliers, slots)
    load = report.loadavg()
    print(
        f"meetings: {buyers + suppliers} participants ({buyers} buyers, {suppliers} suppliers), "
        f"{slots} slots x {tables} tables, {len(wishes)} wishes, "
        f"{len(unavailable)} with unavailable slots (seed {seed})",
        flush=True,
    )
    t0 = time.perf_counter()
    greedy = greedy_schedule(wishes, slots, tables, unavailable)
    greedy_s = time.perf_counter() - t0
    print(f"  greedy: {len(greedy.placements)} meetings in {greedy_s:.3f} s", flush=True)
    print(f"  CP-SAT with the greedy hint, limit {time_limit_s:g} s ...", flush=True)
    t0 = time.perf_counter()
    result = schedule(wishes, slots, tables, unavailable, time_limit_s=time_limit_s)
    seconds = time.perf_counter() - t0
    again = None
    if twice:
        again = schedule(wishes, slots, tables, unavailable, time_limit_s=time_limit_s)
    broken = violations(result, wishes, tables, unavailable)
    placed = len(result.placements)
    by_key = {w.key: w for w in wishes}
    return {
        "seed": seed,
        "buyers": buyers,
        "suppliers": suppliers,
        "slots": slots,
        "tables": tables,
        "wishes": len(wishes),
        "unavailable": len(unavailable),
        "time_limit_s": time_limit_s,
        "placed": placed,
        "upper_bound": result.upper_bound,
        "share": placed / result.upper_bound if result.upper_bound else 1.0,
        "method": result.method,
        "seconds": seconds,
        "greedy": len(greedy.placements),
        "greedy_s": greedy_s,
        "weight": _weight(result.placements, by_key),
        "greedy_weight": _weight(greedy.placements, by_key),
        "deterministic": None if again is None else again == result,
        "violations": broken,
        "load": (load, report.loadavg()),
    }


def run(seed: int = 42, other_seeds: tuple[int, ...] = OTHER_SEEDS, **shape: Any) -> dict:
    """The headline session (scheduled twice) and sessions of the same shape from other seeds."""
    return {
        "headline": measure(seed, **shape),
        "others": [measure(other, **shape, twice=False) for other in other_seeds],
    }


def _weight(placements: tuple[Placement, ...], by_key: dict[str, MeetingWish]) -> int:
    return sum(by_key[p.key].weight for p in placements)


def render(r: dict[str, Any]) -> str:
    same = {True: "yes", False: "NO", None: "not checked"}[r["deterministic"]]
    return (
        f"{r['buyers'] + r['suppliers']} participants, {r['slots']} slots x {r['tables']} tables "
        f"({r['slots'] * r['tables']} seats), {r['wishes']} wishes, seed {r['seed']}\n"
        f"placed {r['placed']} meetings ({r['method']}, {r['seconds']:.2f} s); upper bound "
        f"{r['upper_bound']}: {r['share']:.1%} of the bound\n"
        f"greedy alone: {r['greedy']} meetings ({r['greedy'] / r['upper_bound']:.1%} of the "
        f"bound, {r['greedy_s'] * 1000:.0f} ms); weight placed {r['weight']:,} vs greedy "
        f"{r['greedy_weight']:,}\n"
        f"same schedule on a second run: {same}; "
        f"violations: {len(r['violations'])}; load average {r['load'][0]:.1f} -> "
        f"{r['load'][1]:.1f} (2 cores shared)"
    )


def render_all(result: dict[str, Any]) -> str:
    lines = [render(result["headline"])]
    for r in result["others"]:
        lines.append(
            f"seed {r['seed']}: {r['wishes']} wishes, placed {r['placed']} of at most "
            f"{r['upper_bound']} ({r['share']:.1%}), greedy {r['greedy']} "
            f"({r['greedy'] / r['upper_bound']:.1%}), {r['seconds']:.1f} s, {r['method']}, "
            f"violations: {len(r['violations'])}"
        )
    return "\n".join(lines)


def rows(result: dict[str, Any]) -> list[report.Row]:
    r, others = result["headline"], result["others"]
    every = [r, *others]
    return [
        report.Row(
            f"B2B meetings, {r['buyers'] + r['suppliers']} participants, {r['slots']} slots x "
            f"{r['tables']} tables, {r['wishes']} wishes",
            f"{r['placed']} placed of at most {r['upper_bound']} ({r['share']:.1%}), greedy "
            f"{r['greedy']}, {r['seconds']:.1f} s ({r['method']})",
            "no double booking, same schedule twice (the share: as high as it goes)",
            not r["violations"] and bool(r["deterministic"]),
        ),
        report.Row(
            f"B2B meetings, the same shape, seeds {', '.join(str(o['seed']) for o in others)}",
            "placed / proved bound "
            + ", ".join(f"{o['placed']}/{o['upper_bound']}" for o in others)
            + f"; greedy {', '.join(str(o['greedy']) for o in others)}",
            "no double booking",
            not any(o["violations"] for o in every),
        ),
    ]


def section(result: dict[str, Any]) -> str:
    return (
        "\n## B2B meetings\n\n`python -m bench.meetings`: "
        + " ".join(__doc__.split("\n\n")[2].split())
        + "\n\n```\n"
        + render_all(result)
        + "\n```\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name}", type=int, default=value)
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S)
    parser.add_argument("--other-seeds", type=int, nargs="*", default=list(OTHER_SEEDS))
    args = parser.parse_args()
    shape = {"buyers": args.buyers, "suppliers": args.suppliers, "slots": args.slots,
             "tables": args.tables, "time_limit_s": args.time_limit}  # fmt: skip
    result = run(args.seed, tuple(args.other_seeds), **shape)
    print(render_all(result))
    broken = [v for r in [result["headline"], *result["others"]] for v in r["violations"]]
    if broken:
        raise SystemExit("violations: " + "; ".join(broken[:5]))


if __name__ == "__main__":
    main()
