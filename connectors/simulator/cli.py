"""``ketnoi simulate``: generate a scenario and send it to stdout, the gateway or Kafka.

``add_arguments`` and ``run`` let the main ``ketnoi`` CLI mount this as a subcommand; ``main``
is the same thing standalone (``python -m connectors.simulator``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from datetime import datetime

from connectors.simulator.scenario import (
    DEFAULT_SCENARIO,
    DEFAULT_START,
    ScenarioConfig,
    generate,
    scenario_names,
)
from connectors.simulator.sinks import (
    ADMIN_KEY_HINT,
    GatewaySink,
    KafkaSink,
    Sink,
    SinkError,
    StdoutSink,
    pump,
)
from ketnoi.settings import Settings


def _aware_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (e.g. +07:00)")
    return value


def _at_least_zero(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text}")
        return value

    return parse


def _share(text: str) -> float:
    value = _at_least_zero(float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options, for a standalone parser or a ``ketnoi simulate`` subparser."""
    parser.add_argument(
        "--scenario",
        choices=scenario_names(),
        default=DEFAULT_SCENARIO,
        help="scenario to generate (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=42,
        help="random seed; the same options give the same stream (default: %(default)s)",
    )
    parser.add_argument(
        "--count",
        type=_at_least_zero(int),
        default=100,
        help="offers plus demands to generate (default: %(default)s)",
    )
    parser.add_argument(
        "--offers-per-demand",
        type=_at_least_zero(float),
        default=4.0,
        help="supply-heavy ratio (default: %(default)s)",
    )
    parser.add_argument(
        "--legacy-share",
        type=_share,
        default=0.3,
        help="share of places written with pre-2025 province names (default: %(default)s)",
    )
    parser.add_argument(
        "--start",
        type=_aware_datetime,
        default=DEFAULT_START,
        help="time of the first event, ISO 8601 with offset "
        f"(default: {DEFAULT_START.isoformat()})",
    )
    parser.add_argument(
        "--to",
        choices=["stdout", "gateway", "kafka"],
        default="stdout",
        help="where to send the events (default: %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=_at_least_zero(float),
        default=0.0,
        help="events per second; 0 = as fast as possible (default: 0)",
    )
    parser.add_argument(
        "--gateway-url",
        default=None,
        help="gateway base URL for --to gateway (default: from KETNOI_GATEWAY_HOST/PORT)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="gateway API key for --to gateway, one that may act for every simulated party "
        "(an admin key: `ketnoi keys create --org ... --role admin`); default: KETNOI_API_KEY",
    )
    parser.add_argument(
        "--with-organizations",
        action="store_true",
        help="register each party before its first order: organization.registered events, "
        "or POST /v1/organizations with --to gateway",
    )


def _sink(args: argparse.Namespace, settings: Settings) -> Sink:
    if args.to == "gateway":
        return GatewaySink(args.gateway_url or settings.gateway_url,
                           api_key=args.api_key or settings.api_key)  # fmt: skip
    if args.to == "kafka":
        return KafkaSink(settings)
    return StdoutSink()


def run(args: argparse.Namespace) -> int:
    """Generate and send; prints a one-line summary to stderr. 0 = everything accepted."""
    settings = Settings()
    if args.to == "gateway" and not (args.api_key or settings.api_key):
        print(
            "error: --to gateway needs an API key that may act for every simulated party: "
            f"{ADMIN_KEY_HINT}",
            file=sys.stderr,
        )
        return 2
    config = ScenarioConfig(
        scenario=args.scenario,
        seed=args.seed,
        count=args.count,
        offers_per_demand=args.offers_per_demand,
        legacy_share=args.legacy_share,
        start=args.start,
        with_organizations=args.with_organizations,
    )
    sink = _sink(args, settings)
    try:
        report = asyncio.run(pump(generate(config), sink, rate=args.rate))
    except SinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("simulate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("simulate: output closed by the reader", file=sys.stderr)
        return 0
    print(report.summary(), file=sys.stderr)
    for message in report.first_errors:
        print(f"  {message}", file=sys.stderr)
    return 1 if report.errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketnoi simulate",
        description="Generate a realistic, reproducible stream of offers and demands.",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
