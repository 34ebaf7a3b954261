"""The pure matching engine: quantity allocation between offers and demands of one market.

No Kafka, Faust, MongoDB or HTTP here: the wiring feeds orders-topic events to
``MarketBook.apply``, publishes the outcomes, and stores ``drain_changes`` records.

The modules below run from their compiled build when a fresh one exists (see ``compiled``):
the build must come first on this package's path before any of them is imported.
"""

from . import compiled

_build, FALLBACK_REASON = compiled.choose()
if _build is not None:
    __path__.insert(0, str(_build))
IMPLEMENTATION = "python" if _build is None else "compiled"
"""Which build this process runs: the worker logs it and the benchmark reports it."""
# FALLBACK_REASON: why the source runs although a build was allowed (None: it was not needed)

from .book import MarketBook  # noqa: E402 (the path above decides where this comes from)
from .config import MatchConfig  # noqa: E402
from .outcomes import (  # noqa: E402
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
    "FALLBACK_REASON",
    "IMPLEMENTATION",
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
