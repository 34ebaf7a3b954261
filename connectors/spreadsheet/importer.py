"""``ketnoi import offers|demands FILE``: a catalogue or purchase plan, synced to the platform
through the gateway's API as the organization whose key it uses.

The rows are streamed: each is read, compared with the ledger (what this source published
before, see ``connectors/ledger.py``) and, when new, checked and put in the next bulk request,
which is sent while the following rows are read. So a 50,000-row file needs memory for a few
requests, not for the file, and an unchanged row costs a hash. Steps, each shown as it runs:
the ledger (rebuilt from the platform if this machine has none), the rows (progress bar), the
updates and withdrawals, the result file when a row was refused, a summary.

The exit code tells a script what happened: 0 every row is in, 1 some rows were refused (see
the result file), 2 the file or an option is unusable, 3 the gateway could not be reached or
refused the key (rows not sent are named in the result file; running again resumes).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.gateway_client import KINDS, Answer, GatewayClient, GatewayError, detail
from connectors.ledger import Entry, Ledger, ledger_path
from connectors.spreadsheet.columns import (
    DEMAND_COLUMNS,
    KEY,
    OFFER_COLUMNS,
    ColumnMap,
    alias_table,
    check_overrides,
    map_columns,
)
from connectors.spreadsheet.reading import Sheet, UnreadableFile, find_header, read_sheet
from connectors.spreadsheet.results import result_path, write_result
from connectors.spreadsheet.rows import Defaults, Row, RowReader
from connectors.spreadsheet.sync import Action, decide, from_platform, missing
from schemas.fields import ExternalRef
from schemas.problems import explain
from schemas.reference.text import fold

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_GATEWAY = 0, 1, 2, 3
UPDATE_REQUESTS = 8
"""Updates and withdrawals in flight at once: each is one small request (one unit of the
gateway's in-flight limit), and each waits mostly on the store."""
CONCURRENT_REQUESTS = 2
"""Requests in flight at once: one validated by the gateway while the next is on its way, and
the bound on how far reading runs ahead of sending (memory). Not more: the gateway admits a
large bulk request for a share of its in-flight limit, and a client holding more than its
share is answered 503 (then waited for, see gateway_client)."""
REQUIRED = {"offers": ("product_name", "quantity"), "demands": ("quantity",)}


@dataclass
class Options:
    kind: str  # "offers" or "demands"
    path: Path
    source: str | None = None
    sheet: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    defaults: Defaults = field(default_factory=Defaults)
    withdraw_missing: bool = False
    dry_run: bool = False
    refresh: bool = False  # rebuild the ledger from the platform first
    result: Path | None = None
    batch: int = 500
    show_progress: bool = True
    home: Path = Path(".ketnoi")
    table: Sheet | None = None  # rows from elsewhere (a feed), instead of reading ``path``
    result_file: bool = True  # write the result file when a row is refused


@dataclass
class Summary:
    read: int = 0
    published: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    refused: int = 0
    not_sent: int = 0  # the gateway failed before these rows were answered
    reasons: Counter[str] = field(default_factory=Counter)
    prices_rounded: int = 0
    result_file: Path | None = None
    problems: dict[int, str] = field(default_factory=dict)  # row number -> problem
    ids: dict[int, str] = field(default_factory=dict)  # row number -> id, for rows sent
    planned: Counter[str] = field(default_factory=Counter)  # create/update/withdraw (dry run)
    exit_code: int = EXIT_OK
    error: str | None = None  # the gateway failed mid-import: what happened


def source_name(path: Path) -> str:
    """A source name from a file name: "Danh mục OCOP Kon Tum 2026.xlsx" ->
    "danh-muc-ocop-kon-tum-2026" (an item's identity includes it: keep it across imports)."""
    name = re.sub(r"[^a-z0-9]+", "-", fold(path.stem)).strip("-")
    return (name or "import")[:100]


class Importer:
    def __init__(self, options: Options, client: GatewayClient | None, console: Console) -> None:
        self.o = options
        self.client = client
        self.console = console
        self.source = options.source or source_name(options.path)
        ExternalRef(source=self.source, key="x")  # an unusable --source fails here, named
        self.summary = Summary()
        self.columns: ColumnMap | None = None
        self._duplicates: list[Entry] = []
        self._failed: GatewayError | None = None
        self.reader: RowReader | None = None

    # -- reading -------------------------------------------------------------------------------

    def open(self) -> tuple[Sheet, RowReader]:
        """The sheet, its header found and its columns mapped (printed for the person)."""
        declared = OFFER_COLUMNS if self.o.kind == "offers" else DEMAND_COLUMNS
        check_overrides(self.o.overrides, declared)
        sheet = self.o.table or read_sheet(self.o.path, self.o.sheet)
        table = alias_table(declared)
        table.update(alias_table({name: (header,) for name, header in self.o.overrides.items()}))
        find_header(sheet, table)
        columns = map_columns(sheet.headers, declared, self.o.overrides, sheet.parents)
        self.columns = columns
        self._check_required(columns.fields)
        where = f"sheet {sheet.name!r}" + (f", {sheet.encoding}" if sheet.encoding else "")
        self.console.print(
            f"[bold]{self.o.path.name}[/]: {where}, header on row {sheet.header_row + 1}; "
            f"source [bold]{self.source}[/]; columns: "
            + ", ".join(f"{columns.headers[i]} → {name}" for name, i in columns.fields.items())
        )
        if columns.unknown:
            self.console.print(f"[yellow]not used[/]: {', '.join(columns.unknown)} "
                               "(map one with --column field=Header)")  # fmt: skip
        if KEY not in columns.fields:
            self.console.print("[yellow]no key column[/] (e.g. 'Mã sản phẩm'): rows are known "
                               "by their content, so an edited row is a new item")  # fmt: skip
        self.reader = RowReader(self.o.kind, columns, self.o.defaults)
        return sheet, self.reader

    def read(self) -> tuple[Sheet, list[Row]]:
        """Every row checked, nothing compared or sent (what the tests of reading use)."""
        sheet, reader = self.open()
        rows: list[Row] = []
        seen: dict[str, int] = {}
        for number, cells in sheet.data():
            if reader.skip(cells):
                continue
            row = reader.read(number, cells)
            self._first_of_key(row, seen)
            rows.append(row)
        self.summary.read = len(rows)
        return sheet, rows

    def _first_of_key(self, row: Row, seen: dict[str, int]) -> bool:
        """The first row with a key is the item; a later row with the same key is refused."""
        key = row.key if row.key is not None else row.fingerprint
        if key is None:
            return True
        first = seen.setdefault(key, row.number)
        if first == row.number:
            return True
        what = (
            f"key column: {key!r} is already on row {first}"
            if row.key is not None
            else (f"repeated row: the same as row {first} (no key column tells them apart)")
        )
        row.problems.append(f"{what}; a key must be unique in a file")
        row.body = None
        return False

    # -- the sync ------------------------------------------------------------------------------

    async def run(self) -> Summary:
        sheet, reader = self.open()
        ledger = await self._ledger()
        try:
            try:
                await self._sync(sheet, reader, ledger)
            except GatewayError as exc:
                self.summary.error = str(exc)
        finally:
            ledger.close()
        if self.summary.problems and not self.o.dry_run and self.o.result_file:
            target = self.o.result or result_path(self.o.path)
            self.summary.result_file = write_result(sheet, self.summary.problems, target)
        self.summary.exit_code = (
            EXIT_GATEWAY if self.summary.error else EXIT_REFUSED if self.summary.refused
            else EXIT_OK
        )  # fmt: skip
        return self.summary

    async def _ledger(self) -> Ledger:
        assert self.client is not None
        path = ledger_path(self.o.home, self.client.base_url, self.client.api_key, self.o.kind,
                           self.source)  # fmt: skip
        ledger = Ledger(path)
        if ledger.complete and not self.o.refresh:
            return ledger
        with self._status(f"Reading the items of source {self.source} on the platform"):
            found = await self.client.existing(self.o.kind, self.source)
        id_field, party_field, _ = KINDS[self.o.kind]
        entries, self._duplicates = from_platform(found, id_field, party_field)
        if not self.o.dry_run:
            ledger.replace_all(entries.values())
        else:  # a dry run writes nothing, not even an empty ledger
            ledger.close()
            if not ledger.existed:
                path.unlink(missing_ok=True)
            ledger = _MemoryLedger(entries)  # type: ignore[assignment]
        self.console.print(f"{len(entries):,} items of source {self.source} on the platform")
        return ledger

    async def _sync(self, sheet: Sheet, reader: RowReader, ledger: Ledger) -> None:
        known = ledger.entries()
        gate = asyncio.Semaphore(CONCURRENT_REQUESTS)
        tasks: list[asyncio.Task[None]] = []
        batch: list[Row] = []
        updates: list[tuple[Row, Entry]] = []
        seen: dict[str, int] = {}
        present: set[str] = set()
        by_cells = {entry.cells: entry for entry in known.values() if entry.cells}
        digested: list[Entry] = []  # unchanged rows whose cells were saved differently
        with self._progress("Rows", _height(sheet)) as advance:
            for number, cells in sheet.data():
                if reader.skip(cells):
                    continue
                self.summary.read += 1
                digest = reader.cells_digest(cells)
                same = by_cells.get(digest)
                if same is not None and seen.setdefault(same.key, number) == number:
                    present.add(same.key)  # the same cells as last time: not even read
                    self.summary.unchanged += 1
                    advance(1)
                    continue
                row = reader.build(number, cells)
                row.cells = digest
                key = row.key or row.fingerprint
                present.add(key)
                action = decide(key, row.fingerprint, known)
                if action is Action.UNCHANGED and seen.setdefault(key, number) == number:
                    self.summary.unchanged += 1
                    digested.append(replace(known[key], cells=digest))
                    advance(1)
                    continue
                if self.o.dry_run:  # else the gateway checks it, with the same models
                    reader.check(row)
                self.summary.prices_rounded += row.price_rounded
                if self._first_of_key(row, seen) and row.ok:
                    self._attach_ref(row)
                if not row.ok:
                    self._refuse(row, "; ".join(row.problems))
                elif self._failed is not None:  # the gateway is gone: the rest waits for a rerun
                    self._refuse(row, f"not sent: {self._failed}", sent=False)
                elif action is Action.UPDATE:
                    updates.append((row, known[key]))
                else:
                    batch.append(row)
                    if len(batch) >= self.o.batch:
                        tasks.append(await self._dispatch(gate, batch, ledger))
                        batch = []
                advance(1)
            if batch:
                tasks.append(await self._dispatch(gate, batch, ledger))
            await _all(tasks)
        if digested and not self.o.dry_run:
            ledger.put(digested)
        withdraw = missing(known, present) if self.o.withdraw_missing else []
        duplicates = self._duplicates
        total = len(updates) + len(withdraw) + len(duplicates)
        if self.o.dry_run:
            self.summary.planned.update(update=len(updates),
                                        withdraw=len(withdraw) + len(duplicates))  # fmt: skip
            self._print_plan(updates, withdraw)
            return
        if not total:
            return
        gate = asyncio.Semaphore(UPDATE_REQUESTS)
        bulk_gate = asyncio.Semaphore(CONCURRENT_REQUESTS)
        batches = [updates[i : i + self.o.batch] for i in range(0, len(updates), self.o.batch)]
        with self._progress("Updates and withdrawals", total) as advance:
            gone = f"no longer in {self.o.path.name} (source {self.source})"
            await _all([
                *(self._update(bulk_gate, batch, ledger, advance) for batch in batches),
                *(self._withdraw(gate, e, gone, ledger, advance) for e in withdraw),
                *(self._withdraw(gate, e, "a second copy of the same row (an interrupted "
                                 "import)", None, advance) for e in duplicates),
            ])  # fmt: skip

    async def _dispatch(self, gate: asyncio.Semaphore, batch: list[Row], ledger: Ledger
                        ) -> asyncio.Task[None]:  # fmt: skip
        """Start sending a batch once a request slot is free (reading waits meanwhile)."""
        if self.o.dry_run:
            self.summary.planned["create"] += len(batch)
            return asyncio.create_task(asyncio.sleep(0))
        await gate.acquire()
        return asyncio.create_task(self._create(gate, batch, ledger))

    async def _create(self, gate: asyncio.Semaphore, batch: list[Row], ledger: Ledger) -> None:
        assert self.client is not None
        try:
            answers = await self.client.create(self.o.kind, [r.body for r in batch])
        except GatewayError as exc:
            self._failed = exc
            for row in batch:
                self._refuse(row, f"not sent: {exc}", sent=False)
            raise
        finally:
            gate.release()
        accepted = []
        party_field = KINDS[self.o.kind][1]
        for row, answer in zip(batch, answers, strict=True):
            if answer.status == 202:
                self.summary.published += 1
                self.summary.ids[row.number] = answer.body["id"]
                key = row.key if row.key is not None else row.fingerprint
                accepted.append(Entry(key, answer.body["id"], row.fingerprint,
                                      row.body.get(party_field), row.cells))  # fmt: skip
            else:
                self._refuse(row, self._answer_problem(answer))
            row.body = None  # sent: its memory can go
        ledger.put(accepted)

    async def _update(self, gate: asyncio.Semaphore, batch: list[tuple[Row, Entry]],
                      ledger: Ledger, advance: Callable[[int], None]) -> None:  # fmt: skip
        """Changed rows, one bulk update per batch (one request, not one per row)."""
        assert self.client is not None
        try:
            async with gate:
                answers = await self.client.update_many(
                    self.o.kind, [(stored.id, row.body) for row, stored in batch]
                )
        except GatewayError as exc:
            self._failed = exc
            for row, _ in batch:
                self._refuse(row, f"not sent: {exc}", sent=False)
            raise
        done = []
        for (row, stored), answer in zip(batch, answers, strict=True):
            if answer.status == 202:
                self.summary.updated += 1
                self.summary.ids[row.number] = stored.id
                done.append(Entry(stored.key, stored.id, row.fingerprint, stored.party, row.cells))
            elif answer.status in (404, 409):
                changed = f"the item {stored.id} changed on the platform since the last import"
                self._refuse(row, f"{detail(answer)} ({changed}: import again with --refresh)")
            else:
                self._refuse(row, self._answer_problem(answer))
        ledger.put(done)
        advance(len(batch))

    async def _withdraw(self, gate: asyncio.Semaphore, entry: Entry, reason: str,
                        ledger: Ledger | None, advance: Callable[[int], None]) -> None:  # fmt: skip
        assert self.client is not None
        async with gate:
            answer = await self.client.withdraw(self.o.kind, entry.id, reason)
        if answer.status in (202, 404, 409):  # 404/409: gone or withdrawn already
            self.summary.withdrawn += answer.status == 202
            if ledger is not None:
                ledger.remove([entry.key])
        else:
            self.console.print(f"[red]could not withdraw {entry.id}[/]: {detail(answer)}")
            self.summary.reasons["withdrawal refused"] += 1
        advance(1)

    def _answer_problem(self, answer: Answer) -> str:
        """The gateway's refusal of a row, its field problems named by their columns (the
        gateway checked the row: the same models the dry run checks with)."""
        body = answer.body if isinstance(answer.body, dict) else {}
        errors = body.get("errors") or []
        if not errors or self.reader is None:
            return detail(answer)
        named = []
        for error in errors[:5]:
            path = re.sub(r"^items\[\d+\]\.?", "", str(error.get("path") or ""))
            problem = str(error.get("problem") or "")
            if error.get("suggestion"):
                problem += f"; did you mean {error['suggestion']!r}?"
            named.append(self.reader.named(path, problem) if path else problem)
        return "; ".join(named)

    def _attach_ref(self, row: Row) -> None:
        key = row.key if row.key is not None else row.fingerprint
        try:
            ref = ExternalRef(source=self.source, key=key, fingerprint=row.fingerprint)
        except ValidationError as exc:
            row.problems.extend(f"key column: {p.problem}" for p in explain(exc))
            row.body = None
            return
        row.body = {**row.body, "external_ref": ref.model_dump(mode="json")}

    def _refuse(self, row: Row, text: str, *, sent: bool = True) -> None:
        """The row is out: its problem goes to the result file, counted by its column."""
        self.summary.problems[row.number] = text
        if not sent:
            self.summary.not_sent += 1
            return
        self.summary.refused += 1
        reason = text.split(":", 1)[0] if ":" in text[:80] else text
        self.summary.reasons[re.sub(r"'[^']*'", "…", reason)[:80]] += 1  # ids and values out

    # -- output --------------------------------------------------------------------------------

    def _check_required(self, fields: dict[str, int]) -> None:
        labels = {"product_name": "Tên sản phẩm", "quantity": "Số lượng", "category": "Nhóm"}
        required = list(REQUIRED[self.o.kind])
        if self.o.defaults.category is None and self.o.kind == "demands":
            required.append("category")
        missing = [name for name in required if name not in fields]
        if missing:
            names = ", ".join(f"{n} (e.g. '{labels.get(n, n)}')" for n in missing)
            raise UnreadableFile(
                f"{self.o.path.name}: no column for {names}; name it with --column field=Header"
            )

    @contextmanager
    def _progress(self, what: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if not self.o.show_progress:
            yield lambda n: None
            return
        columns = [TextColumn(f"[bold]{what}[/]"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn()]  # fmt: skip
        with Progress(*columns, console=self.console, transient=False) as progress:
            task = progress.add_task(what, total=total)
            yield lambda n: progress.advance(task, n)

    @contextmanager
    def _status(self, what: str) -> Iterator[None]:
        if not self.o.show_progress:
            yield
            return
        with self.console.status(what):
            yield

    def _print_plan(self, updates: list[tuple[Row, Entry]], withdraw: list[Entry]) -> None:
        planned = self.summary.planned
        self.console.print(
            f"[bold]Dry run[/]: nothing was sent. It would create {planned['create']:,}, "
            f"update {planned['update']:,}, leave {self.summary.unchanged:,} unchanged and "
            f"withdraw {planned['withdraw']:,}; {self.summary.refused:,} rows are refused"
        )
        for row, stored in updates[:20]:
            self.console.print(f"  update row {row.number} (key {row.key}) → {stored.id}")
        for entry in withdraw[:20]:
            self.console.print(f"  withdraw {entry.id} (key {entry.key}): no row has this key")


class _MemoryLedger:
    """A dry run's ledger: read from the platform, never written."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._entries = entries

    def entries(self) -> dict[str, Entry]:
        return dict(self._entries)

    def close(self) -> None:
        pass


async def _all(awaitables: list[Any]) -> None:
    """Wait for every one, then raise the first failure (a failed request must not leave the
    others' answers unrecorded)."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _height(sheet: Sheet) -> int | None:
    height = getattr(sheet, "height", None)
    return None if height is None else max(0, height - sheet.header_row - 1)


def print_summary(console: Console, summary: Summary, kind: str) -> None:
    table = Table(title=f"Import of {kind}", show_header=False)
    rows = [
        ("rows read", summary.read),
        ("published (new)", summary.published),
        ("updated", summary.updated),
        ("unchanged", summary.unchanged),
        ("withdrawn", summary.withdrawn),
        ("refused", summary.refused),
    ]
    if summary.not_sent:
        rows.append(("not sent (gateway failed)", summary.not_sent))
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    console.print(table)
    for reason, count in summary.reasons.most_common(10):
        console.print(f"  refused, {reason}: {count:,}")
    if summary.prices_rounded:
        console.print(f"  {summary.prices_rounded:,} prices per package were converted per kg "
                      "and rounded to the nearest đồng")  # fmt: skip
    if summary.error:
        console.print(
            f"[red]The gateway failed during the import[/]: {summary.error}; run the "
            "same command again to resume (what was answered is not sent twice)"
        )
    if summary.result_file is not None:
        console.print(f"Rows refused are in [bold]{summary.result_file}[/] (column 'problem'): "
                      "fix them and import that file again.")  # fmt: skip


def parse_day(text: str) -> date:
    from connectors.spreadsheet.cells import day

    return day(text, "date")


async def run_import(options: Options, base_url: str, api_key: str,
                     console: Console | None = None) -> Summary:  # fmt: skip
    console = console or Console(stderr=True)
    async with GatewayClient(base_url, api_key) as client:
        return await Importer(options, client, console).run()
