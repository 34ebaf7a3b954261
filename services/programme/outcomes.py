"""What both parties of a meeting agree on, and what only one of them claims: the one definition.

Each party states the outcome of its meeting on its own (and may restate it). A statement is
*agreed* when the other party stated the same terms: the same kind, the same volume in kilograms
and the same value in VND (delivery dates may differ: they are planning, not the deal). Every
statement that is not agreed is a *claim* of its party. Reports count agreed terms as what the
programme produced and show claims apart. Deliveries follow the same rule on their figures.

Pure: plain mappings in (as stored), plain values out; the recorder and the reports call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PARTIES = ("buyer", "supplier")
KG_DIGITS = 3
"""Volumes are compared to the gram: 20 tấn and 20000 kg are the same volume."""


@dataclass(frozen=True, slots=True)
class Agreement:
    """The terms both parties stated (None if they did not), and who claims alone."""

    agreed: dict[str, Any] | None
    claimed_by: tuple[str, ...]

    def as_fields(self) -> dict[str, Any]:
        return {"agreed": self.agreed, "claimed_by": list(self.claimed_by)}


def _kg(value: Any) -> float | None:
    return None if value is None else round(float(value), KG_DIGITS)


def _vnd(value: Any) -> int | None:
    return None if value is None else int(value)


def outcome_terms(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The terms two outcome statements must share to agree."""
    return {
        "kind": statement.get("kind"),
        "volume_kg": _kg(statement.get("volume_kg")),
        "value_vnd": _vnd(statement.get("value_vnd")),
    }


def delivery_terms(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The figures two delivery statements must share to confirm the delivery."""
    return {
        "delivered_on": statement.get("delivered_on"),
        "quantity_kg": _kg(statement.get("quantity_kg")),
        "value_vnd": _vnd(statement.get("value_vnd")),
    }


def agreement(statements: Mapping[str, Mapping[str, Any] | None] | None) -> Agreement:
    """Agreement on a meeting's outcome from the parties' statements (keyed by party)."""
    return _settle(statements, outcome_terms)


def delivery_agreement(
    statements: Mapping[str, Mapping[str, Any] | None] | None,
) -> Agreement:
    """Agreement on one delivery's figures from the parties' statements (keyed by party)."""
    return _settle(statements, delivery_terms)


def _settle(statements: Mapping[str, Any] | None, terms: Any) -> Agreement:
    stated = {p: s for p in PARTIES if isinstance(s := (statements or {}).get(p), Mapping)}
    if len(stated) == len(PARTIES):
        buyer, supplier = (terms(stated[p]) for p in PARTIES)
        if buyer == supplier:
            return Agreement(agreed=buyer, claimed_by=())
    return Agreement(agreed=None, claimed_by=tuple(stated))


def is_deal(agreed: Mapping[str, Any] | None) -> bool:
    """Whether agreed terms are a deal (a memorandum or a contract), not "no deal"."""
    return agreed is not None and agreed.get("kind") in ("mou", "contract")
