"""Arguments of ``ketnoi import offers|demands FILE`` and its run (see importer.py). The
mapping and gateway options are shared with ``ketnoi connect`` (connectors/feeds/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from rich.console import Console

from connectors.gateway_client import GatewayError
from connectors.spreadsheet.cells import CellError
from connectors.spreadsheet.columns import DEMAND_COLUMNS, OFFER_COLUMNS, load_overrides
from connectors.spreadsheet.importer import (
    EXIT_GATEWAY,
    EXIT_USAGE,
    Options,
    parse_day,
    print_summary,
    run_import,
)
from connectors.spreadsheet.reading import UnreadableFile
from connectors.spreadsheet.rows import Defaults
from ketnoi.settings import Settings


def add_mapping_arguments(parser: argparse.ArgumentParser) -> None:
    """How rows become offers or demands, and which gateway and key they go to."""
    parser.add_argument("--column", action="append", default=[], metavar="FIELD=HEADER",
                        help="map a header to a field, e.g. quantity='Sản lượng (tấn)' "
                        "(repeatable); --columns-help lists the fields")  # fmt: skip
    parser.add_argument("--columns", type=Path, metavar="JSON",
                        help="a JSON file {field: header} (the same as --column)")  # fmt: skip
    parser.add_argument(
        "--columns-help",
        action="store_true",
        help="list the fields and the headers recognised for each, then exit",
    )
    parser.add_argument("--supplier", help="offers: supplier id for rows without one")
    parser.add_argument("--buyer", help="demands: buyer id for rows without one")
    parser.add_argument("--province", help="origin (offers) or delivery province (demands) "
                        "for rows without one")  # fmt: skip
    parser.add_argument("--category", help="category for rows without one")
    parser.add_argument("--unit", help="unit for rows without an 'ĐVT' (kg, tấn, bao ...)")
    parser.add_argument("--pack", metavar="TEXT", help="net weight of the package for rows "
                        "without a 'Quy cách', e.g. 'bao 50 kg'")  # fmt: skip
    parser.add_argument("--from", dest="start", metavar="DD/MM/YYYY",
                        help="first delivery date for rows without one")  # fmt: skip
    parser.add_argument("--to", dest="end", metavar="DD/MM/YYYY",
                        help="last delivery date for rows without one")  # fmt: skip
    parser.add_argument(
        "--withdraw-missing",
        action="store_true",
        help="withdraw (cancel) this source's items that no row has any more",
    )
    parser.add_argument("--refresh", action="store_true",
                        help="first read what this source has on the platform again, instead "
                        "of this machine's ledger of earlier imports")  # fmt: skip
    parser.add_argument(
        "--batch",
        type=int,
        default=500,
        help="items per bulk request (at most the gateway's bulk_max_items)",
    )
    parser.add_argument("--key", help="API key (default: $KETNOI_API_KEY)")
    parser.add_argument("--api", help="gateway URL (default: from the settings)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["offers", "demands"],
                        help="offers: a catalogue (supply); demands: a purchase plan")  # fmt: skip
    parser.add_argument("file", type=Path, nargs="?",
                        help="XLSX (first sheet unless --sheet) or CSV")  # fmt: skip
    parser.add_argument("--source", help="the source's name, kept across imports of this "
                        "catalogue (default: from the file name)")  # fmt: skip
    parser.add_argument("--sheet", help="the sheet to read (default: the first)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be created, updated and withdrawn; send nothing",
    )
    parser.add_argument("--result", type=Path, help="where the result file goes "
                        "(default: FILE.result.xlsx or .csv beside FILE)")  # fmt: skip
    add_mapping_arguments(parser)


def options_from(args: argparse.Namespace, path: Path, **extra: object) -> Options:
    """The import's options from the shared arguments (raises ValueError / CellError)."""
    defaults = Defaults(
        party_id=args.supplier if args.kind == "offers" else args.buyer,
        province=args.province, category=args.category, pack=args.pack, unit=args.unit,
        start=parse_day(args.start) if args.start else None,
        end=parse_day(args.end) if args.end else None,
    )  # fmt: skip
    return Options(
        kind=args.kind, path=path, source=args.source,
        overrides=load_overrides(args.column, args.columns), defaults=defaults,
        withdraw_missing=args.withdraw_missing, batch=args.batch,
        show_progress=not args.no_progress, refresh=args.refresh, home=Settings().home,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def gateway_of(args: argparse.Namespace) -> tuple[str, str]:
    """(gateway URL, API key) from the options, the environment and the settings."""
    return args.api or Settings().gateway_url, args.key or os.environ.get("KETNOI_API_KEY", "")


def print_columns(console: Console, kind: str) -> None:
    declared = OFFER_COLUMNS if kind == "offers" else DEMAND_COLUMNS
    for name, aliases in declared.items():
        if name != "ignored":
            console.print(f"[bold]{name}[/]: " + ", ".join(aliases))


def prepare(args: argparse.Namespace, console: Console, path: Path | None, **extra: object
            ) -> Options | int:  # fmt: skip
    """The options, or the exit code when there is nothing to run: ``--columns-help`` was
    asked (0), or an option is unusable (2, said in one sentence)."""
    if args.columns_help:
        print_columns(console, args.kind)
        return 0
    if path is None:
        console.print("[red]error[/]: name the file to import, e.g. ketnoi import offers "
                      "catalogue.xlsx")  # fmt: skip
        return EXIT_USAGE
    try:
        return options_from(args, path, **extra)
    except (ValueError, OSError, CellError) as exc:
        console.print(f"[red]error[/]: {exc}")
        return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    options = prepare(args, console, args.file, sheet=args.sheet, dry_run=args.dry_run,
                      result=args.result)  # fmt: skip
    if isinstance(options, int):
        return options
    api, key = gateway_of(args)
    try:
        summary = asyncio.run(run_import(options, api, key, console))
    except (UnreadableFile, ValueError) as exc:
        console.print(f"[red]error[/]: {exc}")
        return EXIT_USAGE
    except GatewayError as exc:
        console.print(f"[red]error[/]: {exc}")
        return EXIT_GATEWAY
    print_summary(console, summary, args.kind)
    return summary.exit_code
