"""Re-import is a sync: the plan from a file's rows and the source's items on the platform."""

from __future__ import annotations

import sqlite3

import pytest

from connectors.feeds.webhook import sign_headers, verify
from connectors.gateway_client import backoff, idempotency_key
from connectors.ledger import Entry, Ledger, ledger_path
from connectors.spreadsheet.columns import OFFER_COLUMNS, map_columns
from connectors.spreadsheet.rows import Defaults, RowReader
from connectors.spreadsheet.sync import Action, decide, from_platform, missing


def entry(item_id: str, key: str, fingerprint: str = "f1") -> Entry:
    return Entry(key, item_id, fingerprint, "htx-a")


def test_new_changed_and_unchanged_rows():
    known = {"A": entry("o1", "A"), "B": entry("o2", "B")}
    assert decide("A", "f1", known) is Action.UNCHANGED
    assert decide("B", "f2", known) is Action.UPDATE
    assert decide("C", "f1", known) is Action.CREATE


def test_items_no_row_has_are_missing_and_refused_rows_count_as_present():
    known = {"A": entry("o1", "A"), "D": entry("o3", "D"), "R": entry("o4", "R")}
    present = {"A", "R"}  # R's row was refused this time: its item stays
    assert [e.id for e in missing(known, present)] == ["o3"]


def test_the_platforms_second_copies_of_a_key_are_found_and_the_oldest_kept():
    items = [
        {"offer_id": "o9", "supplier_id": "s", "external_ref": {"key": "A", "fingerprint": "x"}},
        {"offer_id": "o1", "supplier_id": "s", "external_ref": {"key": "A", "fingerprint": "y"}},
        {"offer_id": "o5", "supplier_id": "s", "external_ref": {"key": "B"}},
        {"offer_id": "o7", "supplier_id": "s"},  # published by hand: not this source's
    ]
    entries, copies = from_platform(items, "offer_id", "supplier_id")
    assert {k: e.id for k, e in entries.items()} == {"A": "o1", "B": "o5"}
    assert entries["A"].fingerprint == "y" and [c.id for c in copies] == ["o9"]


def test_the_ledger_keeps_what_was_answered_across_restarts(tmp_path):
    path = ledger_path(tmp_path, "http://127.0.0.1:8000", "key-1", "offers", "src")
    assert path != ledger_path(tmp_path, "http://127.0.0.1:8000", "key-2", "offers", "src")
    with Ledger(path) as ledger:
        assert not ledger.existed and not ledger.complete
        ledger.replace_all([entry("o1", "A")])
        ledger.put([entry("o2", "B", "f2")])
        ledger.remove(["A"])
    with Ledger(path) as again:
        assert again.existed and again.complete
        assert again.entries() == {"B": entry("o2", "B", "f2")}


@pytest.mark.parametrize("attempt", [1, 2, 3, 8])
def test_backoff_is_jittered_below_an_exponential_ceiling_and_honours_retry_after(attempt):
    ceiling = min(20.0, 0.5 * 2 ** (attempt - 1))
    assert backoff(attempt, rng=lambda: 1.0) == ceiling
    assert backoff(attempt, rng=lambda: 0.0) == 0.0
    assert backoff(attempt, "30", rng=lambda: 0.5) == 30.0


def test_idempotency_keys_depend_on_what_is_sent_only():
    first = idempotency_key("create", "offers", [{"a": 1, "b": 2}])
    assert first == idempotency_key("create", "offers", [{"b": 2, "a": 1}])
    assert first != idempotency_key("create", "offers", [{"a": 1, "b": 3}])
    assert len(first) <= 255 and first.isascii()


def test_a_webhook_delivery_must_be_signed_fresh_and_bounded():
    body, now = b'{"items": []}', 1_800_000_000.0
    signed = {k.lower(): v for k, v in sign_headers("s" * 16, "d-1", body, now=now).items()}
    assert verify("s" * 16, signed, body, now) is None
    assert "signature" in (verify("t" * 16, signed, body, now) or "")
    assert "timestamp" in (verify("s" * 16, signed, body, now + 301) or "")
    for delivery in ("x" * 201, "bad id", "id\x00"):
        headers = {k.lower(): v for k, v in sign_headers("s" * 16, delivery, body, now=now).items()}
        assert "X-Ketnoi-Delivery must be" in (verify("s" * 16, headers, body, now) or "")


def test_a_ledger_from_before_cell_digests_opens_and_keeps_its_items(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE items (key TEXT PRIMARY KEY, id TEXT NOT NULL, fingerprint TEXT, "
                "party TEXT)")  # fmt: skip
    old.execute("INSERT INTO items VALUES ('A', 'o1', 'f1', 'htx-a')")
    old.commit()
    old.close()
    with Ledger(path) as ledger:
        assert ledger.entries() == {"A": entry("o1", "A")}  # no digest: the row is read again
        ledger.put([Entry("A", "o1", "f1", "htx-a", cells="c1")])
        assert ledger.entries()["A"].cells == "c1"


def test_a_rows_cell_digest_covers_its_cells_columns_and_defaults():
    headers = ["Mã SP", "Tên sản phẩm", "Số lượng", "ĐVT"]
    reader = RowReader("offers", map_columns(headers, OFFER_COLUMNS, {}), Defaults())
    row = ["KT-1", "Sâm Ngọc Linh", 12, "kg"]
    digest = reader.cells_digest(row)
    assert reader.cells_digest(list(row)) == digest
    assert reader.cells_digest(["KT-1", "Sâm Ngọc Linh", 13, "kg"]) != digest
    assert reader.cells_digest(["KT-1", "Sâm Ngọc Linh", "12", "kg"]) != digest  # retyped
    other_defaults = RowReader(
        "offers", map_columns(headers, OFFER_COLUMNS, {}), Defaults(province="Kon Tum")
    )
    assert other_defaults.cells_digest(row) != digest
    moved = ["Mã SP", "Tên sản phẩm", "Số lượng (tấn)", "ĐVT"]  # the unit in the header
    assert (
        RowReader("offers", map_columns(moved, OFFER_COLUMNS, {}), Defaults()).cells_digest(row)
        != digest
    )
