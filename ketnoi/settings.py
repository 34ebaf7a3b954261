"""One settings class for every Ketnoi process, read from ``KETNOI_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration shared by the gateway, the workers, the CLI and the local infrastructure."""

    model_config = SettingsConfigDict(env_prefix="KETNOI_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "ketnoi"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    topic_prefix: str = "ketnoi."
    topic_partitions: int = 6
    home: Path = PROJECT_ROOT / ".ketnoi"
    cache_dir: Path = Path.home() / ".cache" / "ketnoi"
    log_level: str = "info"
    match_proposal_ttl_hours: float = Field(default=24.0, gt=0, le=876_000)
    """How long a proposal waits for both parties (at most a century: the engine adds it to
    market time, which the contracts keep before 2101)."""
    match_tick_seconds: float = 30.0
    max_clock_skew_seconds: float = 300.0
    """How far an orders event's occurred_at may be from its Kafka timestamp (else dead-lettered:
    a market's clock must not jump); 0 turns the check off (a benchmark replaying a recorded
    stream at its own pace)."""
    round_markets: Annotated[tuple[str, ...], NoDecode] = ()
    """Public markets (category codes, comma-separated: ``coffee,honey``) whose new offers and
    demands clear in rounds instead of first come, first served (the gateway stamps them)."""
    round_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    """The matcher closes a round of every market at each multiple of this many seconds (UTC
    epoch), checked on its tick: in effect every max(round_seconds, match_tick_seconds)."""
    # -- gateway: limits, retries and clients (see services/gateway/) --
    api_key: str = ""
    """Key a client of the gateway (the simulator, scripts) sends; empty = none."""
    api_key_cache_seconds: float = 5.0
    """How long the gateway trusts a key lookup: a revocation takes effect within this."""
    rate_limit_per_second: float = 50.0
    """Sustained requests per second per API key (a token bucket; 429 beyond it)."""
    rate_limit_burst: int = 200
    """Requests a key may send at once before the sustained rate applies."""
    max_in_flight: int = Field(default=16, gt=0)
    """Requests the gateway serves at once (a body counts one per started 2 KiB); past it a
    request is answered 503 at once, and the last quarter is kept for quiet clients."""
    auth_failure_burst: int = Field(default=20, gt=0)
    """Requests without a valid key (401, unknown key) one client address may make at once
    before it is answered 429 without a key lookup."""
    auth_failures_per_second: float = Field(default=1.0, ge=0)
    """Sustained rate of such failures allowed per address once its burst is spent."""
    max_body_bytes: int = 2_000_000
    """Largest request body the gateway reads (413 beyond it)."""
    bulk_max_items: int = 500
    """Most offers or demands in one bulk request (413 beyond it)."""
    publish_timeout_seconds: float = 5.0
    """How long a write waits for Kafka's acknowledgement before answering 503 (outcome
    unknown: the event may still be recorded; the answer names the Idempotency-Key to retry)."""
    max_event_bytes: int = Field(default=900_000, gt=0, le=1_000_000)
    """Largest event (Kafka key + value) the gateway produces: 413 beyond it, never a 503 (a
    retry cannot succeed). At most 1,000,000: below Kafka's 1 MiB message and request limits."""
    idempotency_retention_hours: float = 48.0
    """Idempotency records older than this are deleted (no TTL index: FerretDB has none)."""
    metrics_access: Literal["key", "open"] = "key"
    """Who may read ``/metrics``: ``key`` = an organizer's or the admin's API key as
    ``Authorization: Bearer`` (Prometheus sends one from a credentials file); ``open`` = anyone
    who reaches the port, only for a gateway bound to an internal address."""
    # -- monitor (services/monitor/) --
    monitor_flush_ms: int = 250
    """How often a watched session's changes are batched into one update for its pages."""
    monitor_login_hours: float = 12.0
    """How long a monitor login (cookie) lasts: one conference day."""
    monitor_cookie_secure: bool = False
    """Send the login cookie over HTTPS only: set it true behind a TLS-terminating proxy."""
    monitor_max_streams_per_key: int = Field(default=20, gt=0)
    """Open monitor event streams per API key (its logins included): 429 beyond it."""
    monitor_max_streams: int = Field(default=2000, gt=0)
    """Open monitor event streams in this gateway process: 503 beyond it."""

    @field_validator("round_markets", mode="before")
    @classmethod
    def _known_markets(cls, value: Any) -> tuple[str, ...]:
        """Codes (or names: ``cà phê`` is ``coffee``) of the taxonomy, each once, in order."""
        from schemas.reference.taxonomy import category  # only when some are given

        items = value.split(",") if isinstance(value, str) else list(value)
        codes: list[str] = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                code = category(text).code
            except ValueError as exc:
                hint = next(iter(getattr(exc, "suggestions", None) or []), None)
                guess = f" (did you mean {hint!r}?)" if hint else ""
                known = ", ".join(getattr(exc, "allowed", None) or [])
                raise ValueError(
                    f"KETNOI_ROUND_MARKETS: {text!r} is not a market{guess}; "
                    f"give category codes separated by commas, from: {known}"
                ) from None
            if code not in codes:
                codes.append(code)
        return tuple(codes)

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[0]

    @property
    def mongo_host(self) -> str:
        return urlsplit(self.mongo_url).hostname or "127.0.0.1"

    @property
    def mongo_port(self) -> int:
        return urlsplit(self.mongo_url).port or 27017

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"

    @property
    def topics(self) -> Topics:
        # Not cached: model_copy(update={"topic_prefix": ...}) would carry a stale copy.
        return Topics(self.topic_prefix)


class Topics:
    """Topic names, all under one prefix so test runs and deployments never share a topic.

    Offers and demands share the ``orders`` topic, keyed by market: one partition then holds a
    market's whole history in one order, so the matcher (and any replay) sees both sides in the
    sequence they were accepted. Two topics would let a replay interleave them differently.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.orders = f"{prefix}orders"
        self.matches = f"{prefix}matches"
        self.sessions = f"{prefix}sessions"
        self.organizations = f"{prefix}organizations"
        self.dead_letter = f"{prefix}dead-letter"

    def named(self, logical: str) -> str:
        """The full name of a logical topic ("orders", "matches", ...) as events declare it."""
        return f"{self.prefix}{logical}"

    def logical(self, name: str) -> str:
        """The logical name ("orders", ...) of one of our full topic names: what events declare
        as their TOPIC. A foreign name stays as it is (and so never equals an event's TOPIC)."""
        return name[len(self.prefix) :] if name.startswith(self.prefix) else name

    def all(self) -> list[str]:
        return [self.orders, self.matches, self.sessions, self.organizations, self.dead_letter]
