"""A connector's memory of what it published: per source, each item's key, id and fingerprint.

Why local: a re-import must tell unchanged rows from changed ones without asking the platform
about each of 50,000 items, and listing a source's items through the API costs a store scan
per page (seconds each on FerretDB). The platform stays the truth: a missing ledger (another
machine, a new key) is rebuilt from the API's listing of the source, and ``--refresh`` forces
that.

SQLite, because every change is a transaction: an entry is written once the gateway accepted
the write (202), so after a crash the ledger holds exactly the answered writes, and the writes
sent again are the same requests with the same Idempotency-Keys (answered from the gateway's
record, not written twice).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    key: str
    id: str
    fingerprint: str | None
    party: str | None = None
    cells: str | None = None  # the digest of the row's cells as last read (see RowReader)


def ledger_path(home: Path, gateway_url: str, api_key: str, kind: str, source: str) -> Path:
    """One ledger per gateway, organization (its key) and source: what one key published is
    not what another may see or change."""
    place = re.sub(r"[^A-Za-z0-9.-]+", "_", gateway_url.split("://", 1)[-1]).strip("_")
    who = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return home / "connectors" / place / who / f"{kind}-{source}.sqlite"


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, id TEXT NOT NULL, "
            "fingerprint TEXT, party TEXT)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(items)")}
        if "cells" not in columns:  # a ledger written before cell digests: they start empty
            self._db.execute("ALTER TABLE items ADD COLUMN cells TEXT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def complete(self) -> bool:
        """Rebuilt from the platform (or started empty) at least once: safe to trust."""
        row = self._db.execute("SELECT value FROM meta WHERE name = 'complete'").fetchone()
        return row is not None and row[0] == "1"

    def replace_all(self, entries: Iterable[Entry]) -> None:
        """Start over from the platform's listing, in one transaction."""
        with self._transaction():
            self._db.execute("DELETE FROM items")
            self._db.executemany(
                "INSERT OR REPLACE INTO items (key, id, fingerprint, party, cells) "
                "VALUES (?, ?, ?, ?, ?)",
                ((e.key, e.id, e.fingerprint, e.party, e.cells) for e in entries),
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")

    def entries(self) -> dict[str, Entry]:
        query = "SELECT key, id, fingerprint, party, cells FROM items"
        with closing(self._db.execute(query)) as rows:
            return {row[0]: Entry(*row) for row in rows}

    def put(self, entries: Iterable[Entry]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO items (key, id, fingerprint, party, cells) "
                "VALUES (?, ?, ?, ?, ?)",
                ((e.key, e.id, e.fingerprint, e.party, e.cells) for e in entries),
            )

    def remove(self, keys: Iterable[str]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM items WHERE key = ?", ((k,) for k in keys))

    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def forget_meta_before(self, prefix: str, moment: float) -> None:
        """Drop ``prefix*`` entries whose value (a Unix time) is before ``moment``."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM meta WHERE name LIKE ? AND CAST(value AS REAL) < ?",
                (prefix.replace("%", r"\%") + "%", moment),
            )

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind: object, *rest: object) -> None:
            self.db.execute("ROLLBACK" if kind else "COMMIT")

    def _transaction(self) -> Ledger._Tx:
        return Ledger._Tx(self._db)
