"""The shape of a report: the documents it reads, its scope, its tables (each with a totals
row) and headline figures, and its JSON. Pure data, no counting rule lives here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from services.reports.facts import kg
from services.reports.labels import TOTAL, Label

Doc = Mapping[str, Any]
Cell = str | int | float | Label | None
Kind = Literal["text", "count", "kg", "vnd", "date"]
NUMERIC: frozenset[str] = frozenset({"count", "kg", "vnd"})
TOP_UNMET = 20
"""Unmet demands listed (largest open quantity first); the note counts all of them."""


@dataclass(frozen=True, slots=True)
class Documents:
    """What a report reads, as the store holds it."""

    sessions: Sequence[Doc] = ()
    participants: Sequence[Doc] = ()
    organizations: Sequence[Doc] = ()
    offers: Sequence[Doc] = ()
    demands: Sequence[Doc] = ()
    matches: Sequence[Doc] = ()
    meetings: Sequence[Doc] = ()
    outcomes: Sequence[Doc] = ()
    deliveries: Sequence[Doc] = ()


@dataclass(frozen=True, slots=True)
class Scope:
    """One session, or the sessions whose dates overlap a period."""

    kind: Literal["session", "period"]
    session_id: str | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: Label
    kind: Kind = "text"


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    title: Label
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    totals: tuple[Cell, ...]
    note: Label | None = None
    distinct: frozenset[str] = frozenset()
    """Numeric columns whose total is a distinct count, not the column's sum."""

    def column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    def values(self, key: str) -> list[Cell]:
        """One column's cells, totals excluded."""
        i = self.column(key)
        return [row[i] for row in self.rows]

    def total(self, key: str) -> Cell:
        return self.totals[self.column(key)]


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline number."""

    key: str
    title: Label
    value: int | float
    kind: Kind = "count"


@dataclass(frozen=True, slots=True)
class Report:
    scope: Scope
    title: Label
    generated_at: datetime
    session_ids: tuple[str, ...]
    headline: tuple[Figure, ...]
    tables: tuple[Table, ...]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def figure(self, key: str) -> int | float:
        return next(f.value for f in self.headline if f.key == key)

    def as_json(self, lang: str = "vi") -> dict[str, Any]:
        """The report as the API answers it: words in ``lang``, rows keyed by column."""

        def cell(value: Cell) -> Any:
            return value.text(lang) if isinstance(value, Label) else value

        def table(t: Table) -> dict[str, Any]:
            keys = [c.key for c in t.columns]
            return {
                "key": t.key,
                "title": t.title.text(lang),
                "columns": [
                    {"key": c.key, "title": c.title.text(lang), "kind": c.kind} for c in t.columns
                ],
                "rows": [dict(zip(keys, map(cell, row), strict=True)) for row in t.rows],
                "totals": dict(zip(keys, map(cell, t.totals), strict=True)),
                "note": t.note.text(lang) if t.note else None,
            }

        return {
            "kind": self.scope.kind,
            "session_id": self.scope.session_id,
            "from": self.scope.start.isoformat() if self.scope.start else None,
            "to": self.scope.end.isoformat() if self.scope.end else None,
            "lang": lang,
            "title": self.title.text(lang),
            "generated_at": self.generated_at.isoformat(),
            "session_ids": list(self.session_ids),
            "headline": [
                {"key": f.key, "title": f.title.text(lang), "value": f.value, "kind": f.kind}
                for f in self.headline
            ],
            "tables": [table(t) for t in self.tables],
        }


def number(cell: Cell) -> float:
    """A numeric cell's value (0 for an empty or text cell)."""
    return float(cell) if isinstance(cell, int | float) else 0.0


def col(key: str, vi: str, en: str, kind: Kind = "text") -> Column:
    return Column(key, Label(vi, en), kind)


def totals(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    label: Label = TOTAL,
    **override: Cell,
) -> tuple[Cell, ...]:
    """The sum of every numeric column; ``override`` sets a column's total when it is not a
    sum (a distinct count)."""
    out: list[Cell] = []
    for i, column in enumerate(columns):
        if column.key in override:
            out.append(override[column.key])
        elif i == 0:
            out.append(label)
        elif column.kind in NUMERIC:
            if column.kind in ("count", "vnd"):  # whole numbers summed exactly (no float)
                out.append(sum(int(row[i]) for row in rows if isinstance(row[i], int | float)))
            else:
                out.append(kg(sum(number(row[i]) for row in rows)))
        else:
            out.append(None)
    return tuple(out)


def table(
    key: str,
    title: Label,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    note: Label | None = None,
    label: Label = TOTAL,
    **override: Cell,
) -> Table:
    kept = tuple(tuple(r) for r in rows)
    sums = totals(columns, kept, label, **override)
    distinct = frozenset(k for k in override if any(c.key == k for c in columns[1:]))
    return Table(key, title, tuple(columns), kept, sums, note, distinct)
