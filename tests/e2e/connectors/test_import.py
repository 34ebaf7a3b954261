"""`ketnoi import`: the example OCOP catalogue synced through the real gateway, Kafka, matcher
and recorder, as a province's Department of Industry and Trade would: first import (bad rows
into the result file), the fixed result file imported again (only the fixed rows go), then an
edited catalogue with --withdraw-missing (changed rows updated, removed rows withdrawn)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import xlsxwriter
from python_calamine import CalamineWorkbook
from rich.console import Console

from connectors.examples import make_examples
from connectors.spreadsheet.importer import EXIT_OK, EXIT_REFUSED, Options, Summary, run_import
from connectors.spreadsheet.rows import RowReader
from ketnoi.runner import ServiceGroup, settings_env
from tests.support import eventually

GOOD = make_examples.PRODUCTS - len(make_examples.BAD_ROWS)
FIRST_DATA_ROW = 7  # the example's first product is on sheet row 7


def _register_suppliers(api: httpx.Client) -> None:
    orgs = json.loads(make_examples.SUPPLIERS.read_text(encoding="utf-8"))
    for org in orgs:
        answer = api.post("/v1/organizations", json=org)
        assert answer.status_code in (202, 409), answer.text

    def recorded() -> bool:
        return all(api.get(f"/v1/organizations/{o['org_id']}").status_code == 200 for o in orgs)

    eventually(recorded, timeout=60, what="the suppliers to be recorded")


def _open_items(api: httpx.Client, source: str) -> dict[str, dict]:
    """key -> open offer of the source, as the store has them."""
    items, cursor = {}, None
    while True:
        params = {"ref_source": source, "status": "open", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/offers", params=params).json()
        items.update({o["external_ref"]["key"]: o for o in page["items"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _rewrite(source: Path, target: Path, edit) -> Path:
    """Copy a sheet cell by cell, letting ``edit(row_number, cells)`` change or drop rows."""
    page = CalamineWorkbook.from_path(str(source)).get_sheet_by_index(0)
    book = xlsxwriter.Workbook(str(target))
    sheet = book.add_worksheet()
    out = 0
    for number, cells in enumerate(page.iter_rows(), start=1):
        cells = edit(number, list(cells))
        if cells is None:
            continue
        for c, value in enumerate(cells):
            if value not in ("", None):
                sheet.write(out, c, value)
        out += 1
    book.close()
    return target


def _import(services: ServiceGroup, key: str, path: Path, source: str, **extra) -> Summary:
    options = Options(kind="offers", path=path, source=source, show_progress=False, **extra)
    return asyncio.run(run_import(options, services.settings.gateway_url, key,
                                  Console(quiet=True)))  # fmt: skip


def test_a_catalogue_imported_fixed_and_edited_is_synced(
    services: ServiceGroup, api: httpx.Client, issue_key, tmp_path: Path, monkeypatch
):
    _register_suppliers(api)
    key = issue_key(f"so-ct-kon-tum-{uuid.uuid4().hex[:6]}", "province", "quang-ngai")
    source = f"ocop-kon-tum-{uuid.uuid4().hex[:6]}"
    catalogue = tmp_path / "ocop-kon-tum.xlsx"
    catalogue.write_bytes(make_examples.CATALOGUE.read_bytes())

    # 1. The command as a person runs it: exit 1 (rows refused), the result file beside it.
    env = {**settings_env(services.settings), "KETNOI_API_KEY": key}
    ran = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "import", "offers", str(catalogue), "--source",
         source, "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == EXIT_REFUSED, ran.stderr
    assert re.search(rf"published \(new\)\W+{GOOD}\b", ran.stderr), ran.stderr
    assert re.search(rf"refused\W+{len(make_examples.BAD_ROWS)}\b", ran.stderr), ran.stderr
    result = tmp_path / "ocop-kon-tum.result.xlsx"
    assert result.exists() and str(result.name) in ran.stderr.replace("\n", "")
    stored = eventually(lambda: (items := _open_items(api, source)) and len(items) == GOOD
                        and items, timeout=90, what=f"{GOOD} offers recorded")  # fmt: skip
    sample = stored["KT-0001"]
    assert sample["external_ref"]["source"] == source and sample["quantity"]["unit"] in (
        "kg",
        "tan",
        "ta",
    )

    # 2. The result file, fixed where its problem column says, imported again: only those go.
    rows = list(CalamineWorkbook.from_path(str(result)).get_sheet_by_index(0).iter_rows())
    header = [str(c) for c in rows[4]]
    problem = header.index("problem")
    flagged = {n for n, cells in enumerate(rows, start=1) if n > 5 and cells[problem]}
    assert {n - FIRST_DATA_ROW for n in flagged} == set(make_examples.BAD_ROWS)
    column = {name: header.index(name) for name in
              ("Mã SP", "Tỉnh", "Số lượng", "Quy cách", "Giá bán buôn (đ/ĐVT)")}  # fmt: skip

    def fix(number: int, cells: list) -> list:
        if number in flagged:
            cells[problem] = ""
            if not str(cells[column["Quy cách"]]).strip() and cells[header.index("ĐVT")] == "bao":
                cells[column["Quy cách"]] = "bao 50 kg"
            if cells[column["Giá bán buôn (đ/ĐVT)"]] == "Liên hệ":
                cells[column["Giá bán buôn (đ/ĐVT)"]] = "150.000"
            if cells[column["Tỉnh"]] == "Atlantis":
                cells[column["Tỉnh"]] = "Kon Tum"
            if cells[column["Số lượng"]] in ("", None):
                cells[column["Số lượng"]] = 120
            if number == FIRST_DATA_ROW + 103:  # the row repeating the key above it
                cells[column["Mã SP"]] = "KT-0104"
        return cells

    fixed = _rewrite(result, tmp_path / "ocop-kon-tum-fixed.xlsx", fix)
    second = _import(services, key, fixed, source)
    assert (second.published, second.refused, second.unchanged) == (5, 0, GOOD), second.problems
    assert second.exit_code == EXIT_OK and second.result_file is None
    eventually(lambda: len(_open_items(api, source)) == GOOD + 5, timeout=90,
               what="the fixed rows recorded")  # fmt: skip

    # 3. The catalogue edited: two prices changed, three products gone. Dry run first.
    price = column["Giá bán buôn (đ/ĐVT)"]

    def edit(number: int, cells: list) -> list | None:
        if number in (FIRST_DATA_ROW, FIRST_DATA_ROW + 1):
            cells[price] = "199.000"
        if number in (FIRST_DATA_ROW + 10, FIRST_DATA_ROW + 11, FIRST_DATA_ROW + 12):
            return None
        return cells

    edited = _rewrite(fixed, tmp_path / "ocop-kon-tum-2.xlsx", edit)
    dry = _import(services, key, edited, source, withdraw_missing=True, dry_run=True)
    assert dict(dry.planned) == {"update": 2, "withdraw": 3}  # nothing to create
    assert dry.updated == dry.withdrawn == 0
    third = _import(services, key, edited, source, withdraw_missing=True)
    assert (third.updated, third.withdrawn, third.published, third.refused) == (2, 3, 0, 0)
    assert third.unchanged == GOOD + 5 - 5

    def synced() -> dict | None:
        items = _open_items(api, source)
        if len(items) != GOOD + 2 or items["KT-0001"]["unit_price_vnd"] != 199_000:
            return None
        return items

    items = eventually(synced, timeout=90, what="updates and withdrawals recorded")
    assert items["KT-0001"]["revision"] == 2 and items["KT-0003"]["revision"] == 1
    assert not {"KT-0011", "KT-0012", "KT-0013"} & set(items)
    gone = api.get(f"/v1/offers/{stored['KT-0011']['offer_id']}").json()
    assert gone["status"] == "withdrawn"

    # 4. The same file once more: nothing to send, and no row even read into a submission
    # (the ledger knows each row's cells).
    built = []
    original_build = RowReader.build
    monkeypatch.setattr(RowReader, "build", lambda self, *a: built.append(a) or original_build(
        self, *a))  # fmt: skip
    fourth = _import(services, key, edited, source, withdraw_missing=True)
    assert fourth.unchanged == GOOD + 2 and fourth.published == fourth.updated == 0
    assert fourth.withdrawn == 0
    assert built == []
