"""The ``ketnoi`` command line: infrastructure, services, topics and the demo."""

from __future__ import annotations

import argparse
import os
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
        elif args.action == "prune":
            from ketnoi.infra import prune

            return prune.main(infra.settings, dry_run=args.dry_run,
                              older_than_minutes=args.older_than, only=args.only)  # fmt: skip
        elif args.action == "down":
            from ketnoi.running import warn_before_infra_down

            warn_before_infra_down(infra.settings, stop=args.stop_services)
            stopped = infra.down()
            print("stopped " + ", ".join(stopped) if stopped else "nothing of ours was running")
            return 0
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: stopped what this command had started", file=sys.stderr)
        return 130
    healthy, lines = infra.status_report()
    print("\n".join(lines))
    return 0 if healthy else 1


def _topics(args: argparse.Namespace) -> int:
    from services.common.topics import ensure_topics_sync

    settings = Settings()
    for name, created in ensure_topics_sync(settings):
        print(f"{'created' if created else 'exists '} {name}")
    return 0


def _gateway(args: argparse.Namespace) -> int:
    from services.gateway.main import PortInUse, run

    try:
        run(Settings())
    except PortInUse as exc:  # one sentence naming who holds the port, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
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


def _store_error(url: str, exc: Exception) -> str:
    """One sentence and a hint for a store error, instead of PyMongo's traceback."""
    from pymongo.errors import ConnectionFailure

    if isinstance(exc, ConnectionFailure):
        return (f"error: cannot reach the store at {url} ({type(exc).__name__}); start it with "
                "`make infra-up` (or `ketnoi infra up`), or point KETNOI_MONGO_URL at a running "
                "one")  # fmt: skip
    return f"error: the store at {url} refused the operation: {exc}"


def _keys(args: argparse.Namespace) -> int:
    """API keys for the gateway: shown once at creation, stored as a hash, revocable."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    from services.gateway import keys

    settings = Settings()
    client: MongoClient = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000,
                                      tz_aware=True)  # fmt: skip
    db = client[settings.mongo_db]
    try:
        if args.action == "create":
            try:
                issued = keys.create_key(db, args.org, args.role, args.province, args.label,
                                         unregistered=args.unregistered)  # fmt: skip
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            where = f" for province {issued.province}" if issued.province else ""
            print(f"created key {issued.key_id}: org {issued.org_id}, role {issued.role.value}"
                  f"{where}. It is shown once; store it now.", file=sys.stderr)  # fmt: skip
            print(issued.key)
        elif args.action == "list":
            for doc in keys.list_keys(db, args.org):
                revoked = doc.get("revoked_at")
                state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
                province = f" ({doc['province']})" if doc.get("province") else ""
                print(f"{doc['key_id']}  {doc['org_id']}  {doc['role']}{province}  "
                      f"created {doc['created_at']:%Y-%m-%d %H:%M}  {state}")  # fmt: skip
        elif args.action == "revoke":
            if not keys.revoke_key(db, args.key_id):
                print(f"error: no active key {args.key_id!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id} (the gateway refuses it within "
                  f"{settings.api_key_cache_seconds:g} s)", file=sys.stderr)  # fmt: skip
    except PyMongoError as exc:
        print(_store_error(settings.mongo_url, exc), file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


def _engine(args: argparse.Namespace) -> int:
    """Compile the matching engine (mypyc) or tell whether the build is fresh."""
    os.environ["KETNOI_ENGINE"] = "python"  # checking or replacing a build must not load one
    from ketnoi import native

    if args.action == "status":
        print(native.status())
        return (
            0 if native.compiled.stale_reason(native.compiled.default_native_dir()) is None else 1
        )
    try:
        where, seconds = native.build()
    except native.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"compiled the matching engine into {where} in {seconds:.0f} s")
    return 0


def _stop(args: argparse.Namespace) -> int:
    """Stop the services started by hand (`ketnoi gateway &` ...) that use this Kafka or store."""
    from ketnoi.running import stop_command

    return stop_command(Settings(), args.services, dry_run=args.dry_run, timeout=args.timeout)


def _demo(args: argparse.Namespace) -> int:
    from ketnoi.demo import run_demo

    return run_demo(Settings(), keep_running=not args.once)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketnoi",
        description="Ketnoi: live supply-demand matching for trade-connection programs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    infra = sub.add_parser("infra", help="start, stop, check or prune local Kafka and the store")
    infra.add_argument(
        "action",
        choices=["up", "down", "status", "prune"],
        help="prune: delete the topics and databases of finished test, demo and benchmark runs",
    )
    infra.add_argument(
        "--dry-run",
        action="store_true",
        help="prune: only list what would be deleted and what is kept, and why",
    )
    infra.add_argument(
        "--older-than",
        type=float,
        default=60.0,
        metavar="MINUTES",
        help="prune: a run without a lease counts as finished after this long "
        "without a change (default: %(default)g)",
    )
    infra.add_argument(
        "--only",
        default="",
        metavar="TEXT",
        help="prune: only runs whose name contains TEXT, e.g. demo-",
    )
    infra.add_argument(
        "--stop-services",
        action="store_true",
        help="down: first stop the ketnoi services running against them (as `ketnoi stop`)",
    )
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

    keys = sub.add_parser("keys", help="create, list or revoke API keys of the gateway")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = key_actions.add_parser("create", help="issue a key (printed once, stored hashed)")
    create.add_argument(
        "--org",
        required=True,
        help="organization id the key acts for (a registered one, "
        "unless --unregistered or the role is admin or province)",
    )
    create.add_argument(
        "--role",
        required=True,
        choices=["retailer", "supplier", "province", "organizer", "admin"],
        help="what the key may do",
    )
    create.add_argument("--province", help="for --role province: the province it acts for")
    create.add_argument("--label", help="a note, e.g. who holds the key")
    create.add_argument(
        "--unregistered",
        action="store_true",
        help="issue a supplier, retailer or organizer key for an organization nobody registered "
        "yet: the key claims the id, and its holder registers it itself (POST /v1/organizations)",
    )
    listing = key_actions.add_parser("list", help="list keys (never the secrets)")
    listing.add_argument("--org", help="only this organization's keys")
    revoke = key_actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the id shown by `keys create` or `keys list`")
    keys.set_defaults(func=_keys)

    engine = sub.add_parser("engine", help="compile the matching engine (mypyc), or check it")
    engine.add_argument("action", choices=["build", "status"])
    engine.set_defaults(func=_engine)

    from connectors.simulator import cli as simulator

    simulate = sub.add_parser(
        "simulate", help="generate a seeded, realistic stream of offers and demands"
    )
    simulator.add_arguments(simulate)
    simulate.set_defaults(func=simulator.run)

    from connectors.spreadsheet import cli as spreadsheet

    importing = sub.add_parser(
        "import", help="sync a catalogue (offers) or a purchase plan (demands) from XLSX or CSV"
    )
    spreadsheet.add_arguments(importing)
    importing.set_defaults(func=spreadsheet.run)

    from connectors.feeds import cli as feeds

    connect = sub.add_parser(
        "connect", help="sync a feed (pulled over HTTP) or webhook deliveries, continuously"
    )
    feeds.add_arguments(connect)
    connect.set_defaults(func=feeds.run)

    from ketnoi import report

    reporting = sub.add_parser(
        "report", help="a session's or a period's report for the Department (XLSX, HTML, JSON)"
    )
    report.add_arguments(reporting)
    reporting.set_defaults(func=report.run)

    stop = sub.add_parser(
        "stop", help="stop the ketnoi services running against this Kafka or store (SIGTERM)"
    )
    stop.add_argument("services", nargs="*", metavar="SERVICE",
                      help="only these: gateway, matcher, recorder (default: all)")  # fmt: skip
    stop.add_argument("--dry-run", action="store_true", help="only list what would be stopped")
    stop.add_argument("--timeout", type=float, default=15.0, help="seconds to wait (15)")
    stop.set_defaults(func=_stop)

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
