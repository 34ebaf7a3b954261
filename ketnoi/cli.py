"""The ``ketnoi`` command line: infrastructure, services, topics and the demo."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ketnoi.settings import Settings


def _infra(args: argparse.Namespace) -> int:
    from ketnoi.infra import Infra, InfraError

    infra = Infra(Settings())
    try:
        if args.action == "up":
            result = infra.up()
            for name in result.started:
                print(f"started {name}")
            for name in result.reused:
                print(f"reusing {name} (already running)")
        elif args.action == "down":
            stopped = infra.down()
            print("stopped " + ", ".join(stopped) if stopped else "nothing of ours was running")
            return 0
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: stopped what this command had started", file=sys.stderr)
        return 130
    healthy = True
    for health in infra.status():
        healthy &= health.healthy
        print(f"{health.component:6} {'healthy' if health.healthy else 'DOWN':8} {health.detail}")
    print(f"versions: {infra.kafka.version()}; {infra.store.version()}")
    return 0 if healthy else 1


def _topics(args: argparse.Namespace) -> int:
    from services.common.topics import ensure_topics_sync

    settings = Settings()
    for name, created in ensure_topics_sync(settings):
        print(f"{'created' if created else 'exists '} {name}")
    return 0


def _gateway(args: argparse.Namespace) -> int:
    from services.gateway.main import run

    run(Settings())
    return 0


def _matcher(args: argparse.Namespace) -> int:
    from services.matcher.worker import run

    run(Settings())
    return 0


def _recorder(args: argparse.Namespace) -> int:
    from services.recorder.worker import run

    run(Settings())
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from schemas.export import PUBLISHED_DIR, export

    for path in export(args.out or PUBLISHED_DIR):
        print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ketnoi.demo import run_demo

    return run_demo(Settings(), keep_running=not args.once)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketnoi",
        description="Ketnoi: live supply-demand matching for trade-connection programs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    infra = sub.add_parser("infra", help="start, stop or check local Kafka and the store")
    infra.add_argument("action", choices=["up", "down", "status"])
    infra.set_defaults(func=_infra)

    topics = sub.add_parser("topics", help="create the Kafka topics (explicit partition counts)")
    topics.set_defaults(func=_topics)

    for name, func, text in [
        ("gateway", _gateway, "run the HTTP gateway (FastAPI)"),
        ("matcher", _matcher, "run the matching worker (Faust)"),
        ("recorder", _recorder, "run the recorder worker that writes MongoDB (Faust)"),
    ]:
        sub.add_parser(name, help=text).set_defaults(func=func)

    schemas = sub.add_parser("schemas", help="publish event contracts (JSON Schema, AsyncAPI 3)")
    schemas.add_argument("action", choices=["export"])
    schemas.add_argument("--out", type=Path, default=None, help="folder (default: the repo's)")
    schemas.set_defaults(func=_schemas)

    from connectors.simulator import cli as simulator

    simulate = sub.add_parser(
        "simulate", help="generate a seeded, realistic stream of offers and demands"
    )
    simulator.add_arguments(simulate)
    simulate.set_defaults(func=simulator.run)

    demo = sub.add_parser("demo", help="start everything, feed a small stream, show the matches")
    demo.add_argument("--once", action="store_true", help="stop after showing the matches")
    demo.set_defaults(func=_demo)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in {"infra", "demo"}:
        # Ctrl-C and SIGTERM must stop what these commands start, even when the shell that
        # launched us set SIGINT to "ignore" (background jobs of non-interactive shells do).
        # A handler of our own also keeps asyncio.run from swallowing the interrupt.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
