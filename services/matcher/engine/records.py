"""The mutable state of a book, one small JSON record per offer, demand, match, pair, supplier.

Each record holds only its own entity (an offer's record never lists its matches: indexes are
rebuilt from the match records on restore), so the wiring can keep one table entry per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .terms import DemandTerms, OfferTerms

ZERO = Decimal(0)


@dataclass(slots=True, frozen=True)
class Drafted:
    """An order's place in its rounds lane's draft: the draft's epoch (the lane's count of
    rounds and updates, see ``LaneMark``) and the kilograms the draft took it with. Kept in
    the order's record, so a restored book drafts the lane exactly as the live one did."""

    epoch: int
    kg: Decimal

    def to_record(self) -> list[Any]:
        return [self.epoch, str(self.kg)]

    @classmethod
    def from_record(cls, r: list[Any] | None) -> Drafted | None:
        return None if r is None else cls(int(r[0]), Decimal(r[1]))


@dataclass(slots=True)
class LaneMark:
    """A rounds lane's drafting state, kept in the book's record: ``epoch`` counts what
    replaced its draft (a round, an update), ``drafted`` says whether the orders marked with
    this epoch form the draft now, ``waited`` counts arrivals since the epoch began while
    not drafted."""

    epoch: int = 0
    drafted: bool = False
    waited: int = 0

    def to_record(self) -> list[int]:
        return [self.epoch, int(self.drafted), self.waited]

    @classmethod
    def from_record(cls, r: list[int]) -> LaneMark:
        return cls(r[0], bool(r[1]), r[2])


@dataclass(slots=True, eq=False)
class OfferState:
    offer_id: str
    seq: int  # arrival order: earlier offers win ties
    terms: OfferTerms
    offered_kg: Decimal
    reserved_kg: Decimal = ZERO  # pending proposals
    confirmed_kg: Decimal = ZERO
    over_committed_kg: Decimal = ZERO  # promised beyond what the supplier now offers
    active: bool = True  # False once withdrawn
    pending: dict[str, None] = field(default_factory=dict)  # match ids, oldest first
    indexed: tuple | None = None  # its OfferIndex.filing while in the offer index
    filing: tuple | None = None  # OfferIndex.filing of its current terms (a cache)
    drafted: Drafted | None = None  # what its rounds lane's draft took (draft.py)

    @property
    def available_kg(self) -> Decimal:
        return self.offered_kg - self.reserved_kg - self.confirmed_kg

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seq": self.seq,
            "terms": self.terms.record,
            "offered_kg": str(self.offered_kg),
            "reserved_kg": str(self.reserved_kg),
            "confirmed_kg": str(self.confirmed_kg),
            "over_committed_kg": str(self.over_committed_kg),
            "active": self.active,
        }
        if self.drafted is not None:  # records of orders never drafted stay as they were
            record["drafted"] = self.drafted.to_record()
        return record

    @classmethod
    def from_record(cls, offer_id: str, r: dict[str, Any]) -> OfferState:
        return cls(
            offer_id=offer_id,
            seq=r["seq"],
            terms=OfferTerms.from_record(r["terms"]),
            offered_kg=Decimal(r["offered_kg"]),
            reserved_kg=Decimal(r["reserved_kg"]),
            confirmed_kg=Decimal(r["confirmed_kg"]),
            over_committed_kg=Decimal(r["over_committed_kg"]),
            active=r["active"],
            drafted=Drafted.from_record(r.get("drafted")),
        )


@dataclass(slots=True, eq=False)
class DemandState:
    demand_id: str
    seq: int  # arrival order: the FIFO position among waiting demands
    terms: DemandTerms
    wanted_kg: Decimal
    reserved_kg: Decimal = ZERO
    confirmed_kg: Decimal = ZERO
    over_committed_kg: Decimal = ZERO  # confirmed beyond what the buyer now wants
    active: bool = True  # False once cancelled
    filled: bool = False  # DemandFilled was emitted for the current wanted quantity
    reason: str | None = None  # the unmatched reason last reported (None: none shown now)
    reason_at: int = 0  # the book's offer-change count when the reason was last judged
    pending: dict[str, None] = field(default_factory=dict)
    drafted: Drafted | None = None  # what its rounds lane's draft took (draft.py)

    @property
    def open_kg(self) -> Decimal:
        return self.wanted_kg - self.reserved_kg - self.confirmed_kg

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seq": self.seq,
            "terms": self.terms.record,
            "wanted_kg": str(self.wanted_kg),
            "reserved_kg": str(self.reserved_kg),
            "confirmed_kg": str(self.confirmed_kg),
            "over_committed_kg": str(self.over_committed_kg),
            "active": self.active,
            "filled": self.filled,
            "reason": self.reason,
            "reason_at": self.reason_at,
        }
        if self.drafted is not None:
            record["drafted"] = self.drafted.to_record()
        return record

    @classmethod
    def from_record(cls, demand_id: str, r: dict[str, Any]) -> DemandState:
        return cls(
            demand_id=demand_id,
            seq=r["seq"],
            terms=DemandTerms.from_record(r["terms"]),
            wanted_kg=Decimal(r["wanted_kg"]),
            reserved_kg=Decimal(r["reserved_kg"]),
            confirmed_kg=Decimal(r["confirmed_kg"]),
            over_committed_kg=Decimal(r["over_committed_kg"]),
            active=r["active"],
            filled=r["filled"],
            reason=r.get("reason"),  # records from before reasons were refreshed have neither
            reason_at=r.get("reason_at", 0),
            drafted=Drafted.from_record(r.get("drafted")),
        )


@dataclass(slots=True, eq=False)
class MatchState:
    """A pending proposal; it leaves the book when confirmed, declined, expired or released."""

    match_id: str
    offer_id: str
    demand_id: str
    supplier_id: str
    buyer_id: str
    quantity_kg: Decimal
    unit_price_vnd: int
    price_unit: str
    expires_at: datetime
    seq: int  # proposal order: newest is released first on a reduction
    buyer_accepted: bool = False
    supplier_accepted: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "demand_id": self.demand_id,
            "supplier_id": self.supplier_id,
            "buyer_id": self.buyer_id,
            "quantity_kg": str(self.quantity_kg),
            "unit_price_vnd": self.unit_price_vnd,
            "price_unit": self.price_unit,
            "expires_at": self.expires_at.isoformat(),
            "seq": self.seq,
            "buyer_accepted": self.buyer_accepted,
            "supplier_accepted": self.supplier_accepted,
        }

    @classmethod
    def from_record(cls, match_id: str, r: dict[str, Any]) -> MatchState:
        return cls(
            match_id=match_id,
            offer_id=r["offer_id"],
            demand_id=r["demand_id"],
            supplier_id=r["supplier_id"],
            buyer_id=r["buyer_id"],
            quantity_kg=Decimal(r["quantity_kg"]),
            unit_price_vnd=r["unit_price_vnd"],
            price_unit=r["price_unit"],
            expires_at=datetime.fromisoformat(r["expires_at"]),
            seq=r["seq"],
            buyer_accepted=r["buyer_accepted"],
            supplier_accepted=r["supplier_accepted"],
        )


@dataclass(slots=True, eq=False)
class PairHistory:
    """What an offer and a demand went through: proposals so far (the next match id's n) and
    whether one was declined or expired (then the pair is never proposed again)."""

    proposals: int = 0
    blocked: bool = False

    def to_record(self) -> dict[str, Any]:
        return {"proposals": self.proposals, "blocked": self.blocked}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> PairHistory:
        return cls(proposals=r["proposals"], blocked=r["blocked"])


@dataclass(slots=True, eq=False)
class SupplierRecord:
    """A supplier's track record in this book: confirmed matches vs proposals it let lapse
    (declined by the supplier, or expired without its acceptance)."""

    confirmed: int = 0
    lapsed: int = 0

    def to_record(self) -> dict[str, Any]:
        return {"confirmed": self.confirmed, "lapsed": self.lapsed}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SupplierRecord:
        return cls(confirmed=r["confirmed"], lapsed=r["lapsed"])
