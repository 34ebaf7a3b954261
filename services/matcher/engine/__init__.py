"""The pure matching engine: quantity allocation between offers and demands of one market.

No Kafka, Faust, MongoDB or HTTP here: the wiring feeds orders-topic events to
``MarketBook.apply``, publishes the outcomes, and stores ``drain_changes`` records.
"""

from .book import MarketBook
from .config import MatchConfig
from .outcomes import (
    Confirmed,
    DemandFilled,
    Expired,
    Outcome,
    Proposed,
    Released,
    ReleaseReason,
    Unmatched,
)

__all__ = [
    "Confirmed",
    "DemandFilled",
    "Expired",
    "MarketBook",
    "MatchConfig",
    "Outcome",
    "Proposed",
    "ReleaseReason",
    "Released",
    "Unmatched",
]
