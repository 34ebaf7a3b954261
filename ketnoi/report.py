"""``ketnoi report session ID`` and ``ketnoi report period --from --to``: a report from the
gateway's API, saved as XLSX, HTML or JSON, or its key figures printed.

It acts as the key's organization (``--key`` or ``KETNOI_API_KEY``): an organizer gets its own
sessions, the admin every session, exactly as the API answers them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from ketnoi.settings import Settings

EXIT_OK, EXIT_GATEWAY, EXIT_USAGE = 0, 1, 2
TIMEOUT_S = 120.0
"""A period's report of many sessions is built in one request."""


class ReportError(RuntimeError):
    """One sentence with a hint; the exit code goes with it."""

    def __init__(self, message: str, code: int = EXIT_GATEWAY) -> None:
        super().__init__(message)
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_subparsers(dest="scope", required=True, metavar="SCOPE")
    session = which.add_parser("session", help="one session's report")
    session.add_argument("session_id", metavar="ID", help="the session's id")
    period = which.add_parser("period", help="the sessions whose dates overlap a period")
    period.add_argument("--from", dest="start", required=True, metavar="DATE",
                        help="first day: YYYY-MM-DD or DD/MM/YYYY")  # fmt: skip
    period.add_argument("--to", dest="end", required=True, metavar="DATE",
                        help="last day, included (at most 366 days after --from)")  # fmt: skip
    for sub in (session, period):
        sub.add_argument("--xlsx", type=Path, metavar="FILE", help="save the workbook here")
        sub.add_argument("--html", type=Path, metavar="FILE", help="save the printable page here")
        sub.add_argument("--json", type=Path, metavar="FILE", help="save the JSON here")
        sub.add_argument("--lang", choices=["vi", "en"], default="vi",
                         help="words of the report (default: vi)")  # fmt: skip
        sub.add_argument("--key", help="API key (default: $KETNOI_API_KEY)")
        sub.add_argument("--api", help="gateway URL (default: from the settings)")


def parse_date(text: str, option: str) -> date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise ReportError(f"{option} {text!r} is not a date: write YYYY-MM-DD or DD/MM/YYYY",
                      EXIT_USAGE)  # fmt: skip


def _request(args: argparse.Namespace) -> tuple[str, dict[str, str], str]:
    """(path, query, what) of the report asked for."""
    if args.scope == "session":
        return f"/v1/sessions/{args.session_id}/report", {}, f"session {args.session_id}"
    start, end = parse_date(args.start, "--from"), parse_date(args.end, "--to")
    what = f"the period {start:%d/%m/%Y} to {end:%d/%m/%Y}"
    return "/v1/reports", {"from": start.isoformat(), "to": end.isoformat()}, what


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:  # not the gateway's problem+json: not a Ketnoi gateway answering
        return f"{response.reason_phrase or 'HTTP error'}, not a Ketnoi answer: check --api"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    errors = body.get("errors") or []
    detail = str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    if errors and errors[0].get("path"):
        detail += f" ({errors[0]['path']})"
    return detail


def _refusal(response: httpx.Response, what: str) -> ReportError:
    status, detail = response.status_code, _problem(response)
    hints = {
        401: "check --key / KETNOI_API_KEY",
        403: "reports need the organizer's key of the sessions, or an admin key",
        404: "check the id (GET /v1/sessions lists this organizer's sessions)",
        422: "fix the option named and run again",
        429: "wait a moment and run again",
        503: "the gateway or its store is busy or down; run again in a few seconds",
    }
    hint = hints.get(status, "see the gateway's log")
    return ReportError(f"the gateway refused the report of {what} ({status}: {detail}); {hint}")


def fetch(client: httpx.Client, path: str, query: dict[str, str], form: str, lang: str,
          what: str) -> httpx.Response:  # fmt: skip
    try:
        response = client.get(path, params={**query, "format": form, "lang": lang})
    except httpx.TransportError as exc:
        raise ReportError(
            f"cannot reach the gateway at {client.base_url} ({type(exc).__name__}); start it "
            "with `ketnoi gateway` (after `ketnoi infra up`), or give --api"
        ) from None
    if response.status_code != 200:
        raise _refusal(response, what)
    return response


def _summary(report: dict[str, Any], out: Any) -> None:
    print(report["title"], file=out)
    width = max((len(f["title"]) for f in report["headline"]), default=0)
    for figure in report["headline"]:
        value = figure["value"]
        shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"
        if report.get("lang") != "en":
            shown = shown.replace(",", ".")
        print(f"  {figure['title']:<{width}}  {shown:>18}", file=out)


def run(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("KETNOI_API_KEY", "")
    api = args.api or Settings().gateway_url
    try:
        if not key:
            raise ReportError(
                "no API key: give --key or set KETNOI_API_KEY (an organizer's key, issued "
                "with `ketnoi keys create --org ORG --role organizer`)",
                EXIT_USAGE,
            )
        path, query, what = _request(args)
        wanted = [(f, p) for f, p in (("xlsx", args.xlsx), ("html", args.html),
                                       ("json", args.json)) if p is not None]  # fmt: skip
        headers = {"Authorization": f"Bearer {key}", "User-Agent": "ketnoi-report"}
        with httpx.Client(base_url=api, headers=headers, timeout=TIMEOUT_S) as client:
            summary: bytes | None = None
            for form, target in wanted:
                print(f"fetching the report of {what} ({form}) ...", file=sys.stderr)
                body = fetch(client, path, query, form, args.lang, what).content
                if form == "json":
                    summary = body
                try:
                    target.write_bytes(body)
                except OSError as exc:
                    raise ReportError(f"cannot write {target}: {exc.strerror or exc}; choose "
                                      "another file or folder", EXIT_USAGE) from None  # fmt: skip
                print(f"wrote {target} ({len(body):,} bytes)", file=sys.stderr)
            # The headline figures always: what a saved file holds, seen at once.
            if summary is None:
                summary = fetch(client, path, query, "json", args.lang, what).content
            _summary(json.loads(summary), sys.stdout)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    return EXIT_OK
