"""``ketnoi connect http|webhook``: a feed pulled on a schedule, or deliveries pushed to us."""

from __future__ import annotations

import argparse
import asyncio
import os

import uvicorn
from rich.console import Console

from connectors.feeds.puller import Puller
from connectors.feeds.source import Feed, FeedConfig
from connectors.feeds.webhook import create_app
from connectors.gateway_client import GatewayClient, GatewayError
from connectors.spreadsheet.cli import add_mapping_arguments, gateway_of, prepare
from connectors.spreadsheet.importer import EXIT_GATEWAY, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    how = parser.add_subparsers(dest="how", required=True, metavar="HOW")
    http = how.add_parser("http", help="pull a JSON or CSV feed on a schedule")
    http.add_argument("kind", choices=["offers", "demands"])
    http.add_argument("url", help="the feed's address")
    http.add_argument("--source", required=True, help="the source's name (kept across runs)")
    http.add_argument("--every", type=float, default=300.0, metavar="SECONDS",
                      help="seconds between polls (default: %(default)g)")  # fmt: skip
    http.add_argument("--once", action="store_true", help="poll once and exit")
    http.add_argument("--format", choices=["auto", "json", "csv"], default="auto")
    http.add_argument("--items-field", default="items", help="JSON: the list of items")
    http.add_argument("--cursor-field", default="next_cursor",
                      help="JSON: the next page's cursor")  # fmt: skip
    http.add_argument("--cursor-param", default="cursor",
                      help="the query parameter that asks for a page")  # fmt: skip
    http.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                      help="a header for the feed, e.g. its token (repeatable)")  # fmt: skip
    http.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    add_mapping_arguments(http)
    hook = how.add_parser("webhook", help="receive signed deliveries of items")
    hook.add_argument("kind", choices=["offers", "demands"])
    hook.add_argument("--source", required=True, help="the source's name (kept across runs)")
    hook.add_argument("--host", default="127.0.0.1")
    hook.add_argument("--port", type=int, default=8090)
    hook.add_argument("--secret-env", default="KETNOI_WEBHOOK_SECRET", metavar="VAR",
                      help="the environment variable holding the shared secret")  # fmt: skip
    add_mapping_arguments(hook)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    options = prepare(args, console, args.source)
    if isinstance(options, int):
        return options
    api, key = gateway_of(args)
    try:
        if args.how == "http":
            return asyncio.run(_pull(args, options, api, key, console))
        return _serve(args, options, api, key, console)
    except GatewayError as exc:
        console.print(f"[red]error[/]: {exc}")
        return EXIT_GATEWAY
    except ValueError as exc:
        console.print(f"[red]error[/]: {exc}")
        return EXIT_USAGE


async def _pull(args: argparse.Namespace, options, api: str, key: str, console: Console) -> int:  # type: ignore[no-untyped-def]
    headers = {}
    for text in args.header:
        name, sep, value = text.partition(":")
        if not sep:
            raise ValueError(f"--header {text!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    config = FeedConfig(url=args.url, format=args.format, items_field=args.items_field,
                        cursor_field=args.cursor_field, cursor_param=args.cursor_param,
                        headers=headers, timeout_s=args.timeout)  # fmt: skip
    feed = Feed(config)
    try:
        async with GatewayClient(api, key) as client:
            console.print(
                f"polling {args.url} every {args.every:g} s as source {args.source} (Ctrl-C stops)"
                if not args.once
                else f"polling {args.url} once"
            )
            return await Puller(feed, options, client, console).run(args.every, args.once)
    finally:
        await feed.close()


def _serve(args: argparse.Namespace, options, api: str, key: str, console: Console) -> int:  # type: ignore[no-untyped-def]
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        raise ValueError(f"no shared secret: set {args.secret_env} (at least 16 characters)")

    async def serve() -> None:
        async with GatewayClient(api, key) as client:
            app = create_app(options, client, secret)
            console.print(f"receiving deliveries for source {args.source} on "
                          f"http://{args.host}:{args.port}/ (Ctrl-C stops)")  # fmt: skip
            server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                                   log_level="warning"))  # fmt: skip
            await server.serve()

    asyncio.run(serve())
    return 0
