"""Tuning knobs of the matching engine; every one bounds work or waiting, none changes meaning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class MatchConfig:
    """Limits that keep one event's work bounded whatever the size of the book."""

    proposal_ttl: timedelta = timedelta(hours=24)
    """A proposal not accepted by both sides by then expires (its quantity returns)."""
    candidate_limit: int = 64
    """Candidates scored per demand at most: the best of these are proposed."""
    enough_candidates: int = 8
    enough_cover: int = 3
    """The search stops early once it holds ``enough_candidates`` offers that together could
    fill the demand's open quantity ``enough_cover`` times: choice enough to rank, without
    scoring dozens more offers of a deep book (bench/quality.py measures what this costs)."""
    max_proposals_per_event: int = 50
    """Proposals one event may cause, so a single event never floods buyers."""
    scan_limit: int = 512
    """Orders examined per allocation (passing or not), so a book full of near misses stays
    cheap; orders beyond it wait for a later event."""
    reasons_per_tick: int = 64
    """Waiting demands whose unmatched reason one MarketTick judges again at most (those whose
    reason predates the book's last offer-side change, stalest first); the rest wait for the
    next tick, so a deep book's tick stays bounded."""
    round_candidates: int = 32
    """Arcs per demand in a clearing round at most: its cheapest offers passing every rule."""
    round_scan: int = 256
    """Offers examined per demand when a round builds its arcs (passing or not): a round's
    work grows with its demands, not with the book behind them (bench/clearing.py)."""
    round_overlap: int = 2
    """How many times over a round's arcs may claim an offer's grams before later demands
    look past it (draft.py): 1 = exactly first come; more = more room to improve."""
    round_repairs: int = 3
    """Times a round closes lot-breaking arcs and solves again; what still breaks is dropped."""
    redraft_after: int = 32
    """Arrivals a rounds lane whose draft was dropped by a round or an update (draft.py) takes,
    with no other such change between them, before drafting its open orders again, and at
    least an eighth of the lane's orders: nothing is rebuilt only to be thrown away; the
    round drafts them if that count is not reached."""

    def __post_init__(self) -> None:
        if self.proposal_ttl <= timedelta(0):
            raise ValueError("proposal_ttl must be positive")
        names = ("candidate_limit", "max_proposals_per_event", "scan_limit", "enough_candidates",
                 "enough_cover", "reasons_per_tick", "round_candidates", "round_scan",
                 "round_overlap", "redraft_after")  # fmt: skip
        for name in names:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.round_repairs < 0:
            raise ValueError("round_repairs must not be negative")
