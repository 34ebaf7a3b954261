"""Pulling a feed over HTTP: a retailer's ERP export or a wholesale market's board, as JSON or
CSV, whole (a snapshot) or in pages (a cursor).

- A snapshot is asked for with the ETag and Last-Modified of the last one synced
  (If-None-Match / If-Modified-Since): 304 means nothing changed and nothing is sent.
- Pages follow the feed's cursor (``{"items": [...], "next_cursor": "..."}``, names
  configurable); the cursor of the next page is kept once a page is synced, so a restart
  resumes there instead of sending the pages before it again.
- 5xx answers, timeouts and dropped connections are retried with exponential backoff and full
  jitter (honouring Retry-After); a 4xx is the feed's answer and is reported, not retried.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.gateway_client import backoff
from connectors.spreadsheet.reading import Cell, Sheet

ATTEMPTS = 6


class FeedError(RuntimeError):
    """The feed could not be read this time: one sentence, with what to check."""


@dataclass(frozen=True)
class FeedConfig:
    url: str
    format: str = "auto"  # json, csv or auto (by Content-Type)
    items_field: str = "items"
    cursor_field: str = "next_cursor"
    cursor_param: str = "cursor"
    headers: dict[str, str] = field(default_factory=dict)  # e.g. the source's own token
    timeout_s: float = 30.0


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


class Feed:
    def __init__(self, config: FeedConfig, *, sleep: Callable[[float], Any] = asyncio.sleep
                 ) -> None:  # fmt: skip
        self.config = config
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=config.timeout_s, headers=config.headers,
                                       follow_redirects=True)  # fmt: skip
        self.retries = 0  # answers and failures retried, for the summary

    async def close(self) -> None:
        await self._http.aclose()

    async def page(
        self, cursor: str | None = None, etag: str | None = None, modified: str | None = None
    ) -> Page:
        """One page (the first, or the one ``cursor`` names)."""
        headers = {}
        if cursor is None and etag:
            headers["If-None-Match"] = etag
        if cursor is None and modified:
            headers["If-Modified-Since"] = modified
        params = {self.config.cursor_param: cursor} if cursor else None
        response = await self._get(headers, params)
        if response.status_code == 304:
            return Page([], not_modified=True, etag=etag, last_modified=modified)
        items, next_cursor = self._parse(response)
        return Page(items, next_cursor, response.headers.get("etag"),
                    response.headers.get("last-modified"))  # fmt: skip

    async def _get(self, headers: dict[str, str], params: dict[str, str] | None) -> httpx.Response:
        last = ""
        for attempt in range(1, ATTEMPTS + 1):
            retry_after = None
            try:
                response = await self._http.get(self.config.url, headers=headers, params=params)
            except httpx.TransportError as exc:  # timeouts included
                last = type(exc).__name__
            else:
                if response.status_code < 500 and response.status_code != 429:
                    if response.status_code >= 400:
                        raise FeedError(
                            f"the feed {self.config.url} answered {response.status_code}: "
                            f"{response.text[:200]!r}; check its address and credentials"
                        )
                    return response
                last = f"HTTP {response.status_code}"
                retry_after = response.headers.get("retry-after")
            if attempt < ATTEMPTS:
                self.retries += 1
                await self._sleep(backoff(attempt, retry_after))
        raise FeedError(f"the feed {self.config.url} did not answer after {ATTEMPTS} attempts "
                        f"({last}); the next poll tries again")  # fmt: skip

    def _parse(self, response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
        kind = self.config.format
        if kind == "auto":
            content_type = response.headers.get("content-type", "")
            kind = "csv" if "csv" in content_type or "text/plain" in content_type else "json"
        if kind == "csv":
            text = response.content.decode("utf-8-sig", errors="replace")
            return list(csv.DictReader(io.StringIO(text))), None
        try:
            data = response.json()
        except ValueError:
            raise FeedError(f"the feed {self.config.url} sent no JSON; use --format csv for a "
                            "CSV feed") from None  # fmt: skip
        if isinstance(data, list):
            return _objects(data, self.config.url), None
        if not isinstance(data, dict) or not isinstance(data.get(self.config.items_field), list):
            raise FeedError(f"the feed's JSON has no list {self.config.items_field!r}; name it "
                            "with --items-field")  # fmt: skip
        cursor = data.get(self.config.cursor_field)
        return _objects(data[self.config.items_field], self.config.url), (
            str(cursor) if cursor not in (None, "") else None
        )


def _objects(items: list[Any], url: str) -> list[dict[str, Any]]:
    if not all(isinstance(item, dict) for item in items):
        raise FeedError(f"the feed {url} sent items that are not JSON objects")
    return items


def as_sheet(name: str, items: list[dict[str, Any]]) -> Sheet:
    """Feed items as a sheet: their field names are the header (mapped like a spreadsheet's
    columns), lists become "a, b" cells, nested objects their JSON."""
    headers: dict[str, None] = {}
    for item in items:
        headers.update(dict.fromkeys(item))
    names = list(headers)

    def cell(value: Any) -> Cell:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return "" if value is None else value

    def opener() -> Iterator[list[Cell]]:
        yield list(names)
        for item in items:
            yield [cell(item.get(name)) for name in names]

    sheet = Sheet(name, "feed", None, opener, height=len(items) + 1)
    sheet.head = [list(names), *([cell(items[0].get(n)) for n in names] for _ in items[:1])]
    return sheet
