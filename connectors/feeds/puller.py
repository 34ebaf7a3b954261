"""``ketnoi connect http``: poll a feed and sync its items to the platform, forever or once.

Each poll reads the feed (see source.py) and hands its items to the spreadsheet import's sync
(the same column map, checks, ledger and bulk requests), so a feed and a file of the same
source behave alike. The checkpoint (the cursor of the next page, the ETag and Last-Modified of
the last snapshot) is kept in the source's ledger and written only after the page or snapshot
is synced: a restart, even after kill -9, asks for the first page not yet synced, and the rows
of a page synced halfway are unchanged in the ledger or replayed by the gateway from their
Idempotency-Key, never published twice.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from connectors.feeds.source import Feed, FeedError, Page, as_sheet
from connectors.gateway_client import GatewayClient
from connectors.ledger import Ledger, ledger_path
from connectors.spreadsheet.importer import Importer, Options, Summary

CURSOR, ETAG, MODIFIED = "feed.cursor", "feed.etag", "feed.last_modified"


@dataclass
class PollResult:
    pages: int = 0
    not_modified: bool = False
    totals: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, object]] = field(default_factory=list)


class Puller:
    def __init__(self, feed: Feed, options: Options, client: GatewayClient, console: Console
                 ) -> None:  # fmt: skip
        self.feed = feed
        self.options = options
        self.client = client
        self.console = console
        self.source = options.source or "feed"
        self.path = ledger_path(options.home, client.base_url, client.api_key, options.kind,
                                self.source)  # fmt: skip
        self.rejected = self.path.with_suffix(".rejected.jsonl")

    def _meta(self) -> dict[str, str | None]:
        with Ledger(self.path) as ledger:
            return {name: ledger.get_meta(name) for name in (CURSOR, ETAG, MODIFIED)}

    def _save(self, **values: str | None) -> None:
        with Ledger(self.path) as ledger:
            for name, value in values.items():
                ledger.set_meta(name, value or "")

    async def poll(self) -> PollResult:
        """Read the feed from the checkpoint and sync what it has."""
        state = self._meta()
        cursor = state[CURSOR] or None
        result = PollResult()
        while True:
            page = await self.feed.page(cursor, state[ETAG] or None, state[MODIFIED] or None)
            if page.not_modified:
                result.not_modified = True
                return result
            result.pages += 1
            paged = cursor is not None or page.next_cursor is not None
            if page.items:
                summary = await self._sync(
                    page, withdraw=not paged and self.options.withdraw_missing
                )
                self._tally(result, summary, page)
            if not paged:  # a snapshot: synced whole
                self._save(**{ETAG: page.etag, MODIFIED: page.last_modified})
                return result
            if page.next_cursor is None or page.next_cursor == cursor:
                return result  # at the feed's end: the next poll asks from here again
            cursor = page.next_cursor
            self._save(**{CURSOR: cursor})

    async def _sync(self, page: Page, *, withdraw: bool) -> Summary:
        options = replace(
            self.options, table=as_sheet(self.source, page.items), source=self.source,
            path=Path(f"{self.source}.feed"), withdraw_missing=withdraw, result_file=False,
            show_progress=False,
        )  # fmt: skip
        summary = await Importer(options, self.client, self.console).run()
        self.options = replace(self.options, refresh=False)  # --refresh: the first page only
        return summary

    def _tally(self, result: PollResult, summary: Summary, page: Page) -> None:
        for name in ("read", "published", "updated", "unchanged", "withdrawn", "refused",
                     "not_sent"):  # fmt: skip
            result.totals[name] = result.totals.get(name, 0) + getattr(summary, name)
        if summary.error:
            raise FeedError(f"the gateway failed: {summary.error}")
        if summary.problems:
            with self.rejected.open("a", encoding="utf-8") as out:
                for number, problem in sorted(summary.problems.items()):
                    item = page.items[number - 2]  # row 1 is the header
                    record = {"item": item, "problem": problem}
                    result.problems.append(record)
                    out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    async def run(self, every_s: float, once: bool, stop: asyncio.Event | None = None) -> int:
        """Poll until stopped (or once); one line per poll. Exit code: 0, or 1 if the last poll
        refused items, 3 if the last poll failed."""
        code = 0
        while True:
            try:
                result = await self.poll()
            except FeedError as exc:
                self.console.print(f"[red]poll failed[/]: {exc}")
                code = 3
            else:
                code = 1 if result.totals.get("refused") else 0
                self.console.print(_line(self.source, result, self.rejected))
            if once:
                return code
            if stop is None:
                await asyncio.sleep(every_s)
            else:
                try:
                    await asyncio.wait_for(stop.wait(), every_s)
                    return code
                except TimeoutError:
                    pass


def _line(source: str, result: PollResult, rejected: Path) -> str:
    if result.not_modified:
        return f"{source}: not modified since the last poll; nothing sent"
    totals = result.totals
    text = (f"{source}: {result.pages} page(s), {totals.get('read', 0):,} items: "
            f"{totals.get('published', 0):,} published, {totals.get('updated', 0):,} updated, "
            f"{totals.get('unchanged', 0):,} unchanged, {totals.get('withdrawn', 0):,} "
            f"withdrawn, {totals.get('refused', 0):,} refused")  # fmt: skip
    if result.problems:
        text += f" (see {rejected})"
    return text
