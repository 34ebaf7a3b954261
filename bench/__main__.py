"""Run every benchmark and write docs/benchmarks.md.

    python -m bench [--out docs/benchmarks.md] [--skip core e2e ...]

Starts Kafka and FerretDB if they do not run yet (``Infra.up`` reuses a running stack) and stops
only what it started. About five minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import clearing as clearing_bench
from bench import connectors as connectors_bench
from bench import core_throughput, e2e, naive, quality, report
from bench import gateway as gateway_bench
from bench import meetings as meetings_bench
from bench import monitor as monitor_bench
from ketnoi.infra import Infra
from ketnoi.settings import PROJECT_ROOT, Settings

CORE_SIZES = (1_000, 10_000, 100_000)
CORE_EVENTS, CORE_CROSS, CORE_REPEAT = 20_000, 0.2, 3
ENGINES = ("python", "compiled")  # the source first, then the mypyc build (KETNOI_ENGINE)
QUALITY_SEED, QUALITY_COUNT, QUALITY_OTHER_SEEDS = 42, 2000, (7, 11)
NAIVE_COUNT, NAIVE_REPEAT = 500, 3
E2E_PRELOAD, NO_EXPIRY_HOURS = 10_000, 87_600.0
CLEARING_ORDERS, CLEARING_REPEAT = 10_000, 5
BENCHMARKS = ("quality", "clearing", "core", "naive", "e2e", "gateway", "monitor", "connectors",
              "meetings")  # fmt: skip
CONNECTOR_ROWS, CONNECTOR_CHANGED = 50_000, 0.01
MONITOR_VIEWERS = ("1", "50", "100", "200", "400")

COMMANDS = [
    "pip install networkx==3.6.1   # the optimum's solver (3.7 needs Python 3.12)",
    "# the dev stack's variables, or none for the defaults (9092 / 27017)",
    "export KETNOI_KAFKA_BOOTSTRAP=127.0.0.1:19092 KETNOI_KAFKA_CONTROLLER_PORT=19093 \\",
    "       KETNOI_MONGO_URL=mongodb://127.0.0.1:27118",
    "python -m bench                                   # all of it; writes this file",
    "# the same measurements one by one:",
    "ketnoi engine build   # make install does it: the engine compiled by mypyc",
    f"KETNOI_ENGINE=compiled python -m bench.core_throughput --events {CORE_EVENTS} "
    f"--repeat {CORE_REPEAT}   # prints the best pass; KETNOI_ENGINE=python for the source",
    f"python -m bench.quality --seed {QUALITY_SEED} --count {QUALITY_COUNT}"
    f"   # and --seed {' / '.join(map(str, QUALITY_OTHER_SEEDS))}; every clearing mode",
    f"python -m bench.clearing --orders {CLEARING_ORDERS} --repeat {CLEARING_REPEAT}"
    "   # one clearing round's time (KETNOI_ENGINE picks the build)",
    f"python -m bench.naive --count {NAIVE_COUNT} --repeat {NAIVE_REPEAT}",
    f"python -m bench.e2e --preload {E2E_PRELOAD} --ttl-hours {NO_EXPIRY_HOURS:g}",
    f"python -m bench.e2e --preload {E2E_PRELOAD} --throughput-only   # default 24 h TTL",
    "python -m pytest tests/unit/test_bench_quality.py  # the optimum on hand-made cases",
    f"python -m bench.monitor --viewers {' '.join(MONITOR_VIEWERS)} --browser",
    f"python -m bench.connectors --rows {CONNECTOR_ROWS} --changed {CONNECTOR_CHANGED}",
    "python -m bench.meetings   # 300 participants: meetings placed against a proved bound",
]


def run_core() -> list[dict[str, Any]]:
    """Per book size, the compiled engine (as deployed) and its Python source, side by side."""
    rows = []
    for size in CORE_SIZES:
        both = core_throughput.side_by_side(size, CORE_EVENTS, CORE_CROSS, CORE_REPEAT, ENGINES)
        compiled, source = both["compiled"], both["python"]
        if compiled["digest"] != source["digest"]:
            raise SystemExit(f"core, book of {size}: the two engine builds decided differently")
        rows.append({**compiled, "python_rates": source["rates"]})
    return rows


def run_quality() -> dict[str, Any]:
    return {
        "headline": quality.measure(QUALITY_SEED, QUALITY_COUNT),
        "seeds": [quality.measure(seed, QUALITY_COUNT) for seed in QUALITY_OTHER_SEEDS],
    }


def run_e2e(settings: Settings, *options: str) -> dict[str, Any]:
    args = e2e.parser().parse_args(["--preload", str(E2E_PRELOAD), *options])
    return e2e.measure(settings, args)


def timed(name: str, load: dict[str, tuple[float, float]], work: Callable[[], Any]) -> Any:
    before, t0 = report.loadavg(), time.monotonic()
    print(f"== {name} (load {before:.1f}) ...", flush=True)
    result = work()
    load[name] = (before, report.loadavg())
    print(f"   done in {time.monotonic() - t0:.0f} s", flush=True)
    return result


def _gateway_rows(result: dict[str, Any] | None) -> list[report.Row]:
    """Accepted writes/s and p99 of the gateway (issue: single and bulk offer creation)."""
    if not result:
        return []
    rows = [
        report.Row(
            f"gateway, {name} offer creation ({r['concurrency']} in flight"
            + (f", {r['items_per_request']} per request)" if name == "bulk" else ")"),
            f"{r['writes_per_s']:,.0f} accepted writes/s, p50 {r['p50_ms']:.0f} ms, "
            f"p99 {r['p99_ms']:.0f} ms",
            "-",
            None,
        )
        for name in ("single", "bulk")
        if name in result
        for r in [result[name]]
    ]
    if "overload" in result:
        o = result["overload"]
        rows.append(
            report.Row(
                f"gateway overload, {o['factor']:g}x the sustainable rate "
                f"({o['offered_per_s']:,.0f}/s: {o['heavy_keys']} keys within their limits + "
                "unknown-key flood), well-behaved keys' p99",
                f"{o['unloaded_p99_ms']:.0f} ms alone, {o['loaded_p99_ms']:.0f} ms under "
                f"overload (x{o['p99_ratio']:.2f}), {o['good_accepted_share']:.1%} accepted; "
                f"503: {o['refused_503']:,}, 429: {o['refused_429']:,}, "
                f"timeouts: {o['timeouts']}",
                "within 2x, 99% accepted, no timeout",
                o["met"],
            )
        )
    return rows


def _gateway_section(results: dict[str, Any]) -> str:
    if "gateway" not in results:
        return ""
    return (
        "\n## Gateway\n\n`python -m bench.gateway`: a gateway on a private prefix and database, a "
        "supplier key, acks=all; the load client, the gateway, Kafka and FerretDB share the same "
        "2 cores, so these are lower bounds. Statuses per mode: "
        + "; ".join(
            f"{n} {results['gateway'][n]['statuses']}"
            for n in ("single", "bulk")
            if n in results["gateway"]
        )
        + "\n"
        + gateway_bench.overload_section(results["gateway"].get("overload"))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--skip", nargs="*", default=[], choices=BENCHMARKS)
    args = parser.parse_args(argv)
    settings = Settings()
    started_at, t0 = datetime.now(UTC), time.monotonic()
    load: dict[str, tuple[float, float]] = {}
    results: dict[str, Any] = {"machine": report.machine(), "commands": COMMANDS, "load": load}
    infra = Infra(settings)
    up = infra.up()
    print(f"infrastructure: started {up.started or 'nothing'}, reused {up.reused or 'nothing'}")
    try:
        if "quality" not in args.skip:
            results["quality"] = timed("quality", load, run_quality)
        if "clearing" not in args.skip:
            results["clearing"] = timed("clearing", load, lambda: clearing_bench.measure(
                CLEARING_ORDERS, CLEARING_REPEAT))  # fmt: skip
        if "core" not in args.skip:
            results["core"] = timed("core", load, run_core)
        if "naive" not in args.skip:
            results["naive"] = timed("naive", load, lambda: naive.measure(
                settings, QUALITY_SEED, NAIVE_COUNT, NAIVE_REPEAT))  # fmt: skip
        if "e2e" not in args.skip:
            results["e2e_no_expiry"] = timed(
                "e2e, no expiry", load,
                lambda: run_e2e(settings, "--ttl-hours", str(NO_EXPIRY_HOURS)),
            )  # fmt: skip
            results["e2e"] = timed(
                "e2e, 24 h TTL", load, lambda: run_e2e(settings, "--throughput-only")
            )
        if "gateway" not in args.skip:
            results["gateway"] = timed("gateway", load, lambda: gateway_bench.run(settings))
        if "monitor" not in args.skip:
            shot = str(PROJECT_ROOT / "docs" / "images" / "monitor.png")
            options = ["--viewers", *MONITOR_VIEWERS, "--browser", "--screenshot", shot]
            results["monitor"] = timed(
                "monitor", load, lambda: monitor_bench.run(settings, options)
            )
        if "connectors" not in args.skip:
            results["connectors"] = timed("connectors", load, lambda: connectors_bench.measure(
                CONNECTOR_ROWS, CONNECTOR_CHANGED))  # fmt: skip
        if "meetings" not in args.skip:
            results["meetings"] = timed("meetings", load, meetings_bench.run)
    finally:
        stopped = infra.down(only=up.started)
        if stopped:
            print(f"infrastructure: stopped {stopped}")
    results["date"] = started_at.strftime("%Y-%m-%d %H:%M UTC")
    results["seconds"] = time.monotonic() - t0
    rows = report.summary(results) + _gateway_rows(results.get("gateway"))
    wait = None
    if "clearing" in results:
        clear = results["clearing"]
        wait = clearing_bench.latency(clear, settings.round_seconds, settings.match_tick_seconds)
        rows += clearing_bench.rows(clear, wait, results.get("e2e_no_expiry"))
    if "connectors" in results:
        rows += connectors_bench.rows(results["connectors"])
    if "monitor" in results:
        rows += monitor_bench.rows(results["monitor"])
    if "meetings" in results:
        rows += meetings_bench.rows(results["meetings"])
    print()
    report.print_summary(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    monitor_text = monitor_bench.section(results["monitor"]) if "monitor" in results else ""
    args.out.write_text(
        report.document(results, rows)
        + (clearing_bench.section(results["clearing"], wait) if "clearing" in results else "")
        + _gateway_section(results)
        + monitor_text
        + (connectors_bench.section(results["connectors"]) if "connectors" in results else "")
        + (meetings_bench.section(results["meetings"]) if "meetings" in results else "")
        + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
