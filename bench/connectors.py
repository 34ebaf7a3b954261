"""Spreadsheet import at catalogue scale: a 50,000-row XLSX, imported and then re-imported with
1% of its rows changed.

    python -m bench.connectors [--rows 50000] [--changed 0.01]

A gateway process runs on a private topic prefix and database, with its default limits (an
import must not be shed by an idle gateway); the import runs as the command a person types
(``ketnoi import offers FILE``) in its own process, so its time includes starting Python and
its memory is the command's own peak RSS. Reported: rows/s end to end (until the last 202),
peak memory, and for the re-import the rows it sent (exactly the changed ones) and its time as
a share of the first import's, in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench import report
from bench.common import private_gateway
from connectors.examples import make_examples
from ketnoi.runner import settings_env
from ketnoi.settings import Settings
from services.common.store import OFFERS

PRICE = 13  # the catalogue's price column
RUN = """
import json, resource, sys, time
started = time.perf_counter()
from connectors.spreadsheet import cli
from connectors.spreadsheet.importer import print_summary
summaries = []
original = print_summary
def keep(console, summary, kind):
    summaries.append(summary)
    original(console, summary, kind)
cli.print_summary = keep
import argparse
parser = argparse.ArgumentParser()
cli.add_arguments(parser)
code = cli.run(parser.parse_args(sys.argv[1:]))
s = summaries[0]
print(json.dumps({"code": code, "seconds": time.perf_counter() - started,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "read": s.read, "published": s.published, "updated": s.updated, "unchanged": s.unchanged,
    "refused": s.refused, "not_sent": s.not_sent, "error": s.error}))
"""


def catalogue(path: Path, rows: int, changed: float, seed: int = 5) -> tuple[Path, Path, int]:
    """The catalogue, and a copy with ``changed`` of its rows at a new price."""
    data = make_examples.catalogue_rows(seed, rows, spoiled=False)
    first = path / "catalogue.xlsx"
    make_examples.write_plain_catalogue(first, data)
    rng = random.Random(seed)
    picked = rng.sample(range(rows), int(rows * changed))
    for index in picked:
        data[index][PRICE] = f"{int(str(data[index][PRICE]).replace('.', '')) + 1_000:,}".replace(
            ",", "."
        )
    second = path / "catalogue-edited.xlsx"
    make_examples.write_plain_catalogue(second, data)
    return first, second, len(picked)


def run_import(settings: Settings, key: str, path: Path, source: str) -> dict[str, Any]:
    env = {**settings_env(settings), "KETNOI_API_KEY": key}
    args = ["offers", str(path), "--source", source, "--no-progress"]
    ran = subprocess.run([sys.executable, "-c", RUN, *args], env=env, capture_output=True,
                         text=True, timeout=1800)  # fmt: skip
    if ran.returncode not in (0, 1) or not ran.stdout.strip():
        raise SystemExit(f"the import failed ({ran.returncode}):\n{ran.stderr[-3000:]}")
    return json.loads(ran.stdout.strip().splitlines()[-1])


def wait_recorded(settings: Settings, count: int, timeout: float = 1200.0) -> float:
    """Seconds until the store holds ``count`` offers (the recorder's pace, FerretDB's)."""
    client: MongoClient = MongoClient(settings.mongo_url)
    started = time.monotonic()
    try:
        while client[settings.mongo_db][OFFERS].estimated_document_count() < count:
            if time.monotonic() - started > timeout:
                raise SystemExit(f"the recorder did not record {count:,} offers in {timeout} s")
            time.sleep(1.0)
        return time.monotonic() - started
    finally:
        client.close()


def measure(rows: int, changed: float) -> dict[str, Any]:
    base = Settings()
    limits = {k: getattr(base, k) for k in ("max_in_flight", "rate_limit_per_second",
                                             "rate_limit_burst")}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        print(f"writing a {rows:,}-row catalogue ...", flush=True)
        first, second, count = catalogue(Path(folder), rows, changed)
        with private_gateway(base, "connectors", "bench-admin", "admin", limits) as gateway:
            source = f"bench-{int(time.time())}"
            print("first import ...", flush=True)
            one = run_import(gateway.settings, gateway.key, first, source)
            # The recorder runs after the import, not beside it: it records about 400 offers a
            # second on FerretDB (one write at a time), and what is measured here is the
            # import's own pace to 202.
            assert gateway.group is not None
            gateway.group.start("recorder")
            recorded = wait_recorded(gateway.settings, one["published"])
            print(f"the recorder stored them in {recorded:.0f} s (an update needs its item "
                  "recorded)", flush=True)  # fmt: skip
            # The recorder keeps running: it records the re-import's updates beside it.
            print(f"re-import with {count:,} rows changed ...", flush=True)
            two = run_import(gateway.settings, gateway.key, second, source)
    return {"rows": rows, "changed": count, "first": one, "second": two, "recorded_s": recorded,
            "share": two["seconds"] / one["seconds"]}  # fmt: skip


def render(result: dict[str, Any]) -> str:
    one, two = result["first"], result["second"]
    return "\n".join([
        f"first import: {one['read']:,} rows in {one['seconds']:.1f} s = "
        f"{one['read'] / one['seconds']:,.0f} rows/s to 202, peak RSS {one['rss_mb']:.0f} MB "
        f"(published {one['published']:,}, refused {one['refused']:,}, not sent "
        f"{one['not_sent']:,}; gateway error: {one['error']})",
        f"re-import, {result['changed']:,} rows changed: {two['seconds']:.1f} s "
        f"({result['share']:.0%} of the first), updated {two['updated']:,}, published "
        f"{two['published']:,}, unchanged {two['unchanged']:,}, peak RSS {two['rss_mb']:.0f} MB",
        f"(the recorder, started after the first import, stored its offers in "
        f"{result['recorded_s']:.0f} s)",
    ])  # fmt: skip


TARGET_ROWS_PER_S, TARGET_RSS_MB, TARGET_SHARE = 5_000, 300, 1 / 3


def rows(result: dict[str, Any]) -> list[report.Row]:
    one, two = result["first"], result["second"]
    rate = one["read"] / one["seconds"]
    exact = two["updated"] == result["changed"] and two["published"] == 0
    return [
        report.Row(
            f"import of a {result['rows']:,}-row XLSX catalogue, to 202",
            f"{rate:,.0f} rows/s ({one['seconds']:.1f} s), peak RSS {one['rss_mb']:.0f} MB",
            f">= {TARGET_ROWS_PER_S:,} rows/s, < {TARGET_RSS_MB} MB",
            rate >= TARGET_ROWS_PER_S and one["rss_mb"] < TARGET_RSS_MB,
        ),
        report.Row(
            f"re-import with {result['changed']:,} rows changed",
            f"{two['seconds']:.1f} s ({result['share']:.0%} of the first), sent "
            f"{two['updated']:,} updates and {two['published']:,} new",
            "exactly the changed rows, < 1/3 of the first's time",
            exact and result["share"] < TARGET_SHARE,
        ),
    ]


def section(result: dict[str, Any]) -> str:
    return (
        "\n## Connectors\n\n`python -m bench.connectors`: "
        + __doc__.split("\n\n")[2].replace("\n", " ")
        + "\n\n```\n"
        + render(result)
        + "\n```\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    args = parser.parse_args()
    print(render(measure(args.rows, args.changed)))


if __name__ == "__main__":
    main()
