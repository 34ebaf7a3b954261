"""Prometheus metrics: requests, latencies, produced events, replays and refusals.

One registry per app (not the process-wide default), so tests can build several apps in one
process. Routes are labelled by their template (``/v1/offers/{offer_id}``), never the raw
path, so the number of series stays bounded whatever clients send.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ketnoi_gateway_requests",
            "HTTP requests answered, by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ketnoi_gateway_request_seconds",
            "Time to answer a request, by route template and method",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.produced = Counter(
            "ketnoi_gateway_events_produced",
            "Events Kafka acknowledged, by event type",
            ["type"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "ketnoi_gateway_publish_failures",
            "Writes answered 503 because Kafka did not acknowledge in time",
            registry=self.registry,
        )
        self.publish_latency = Histogram(
            "ketnoi_gateway_publish_seconds",
            "Time from handing events to the producer to Kafka's acknowledgement",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "ketnoi_gateway_idempotent_replays",
            "Writes answered from a stored first answer (a client retry)",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "ketnoi_gateway_rate_limited",
            "Requests refused with 429",
            registry=self.registry,
        )
        self.shed = Counter(
            "ketnoi_gateway_shed",
            "Requests refused before any work: reason in-flight (503, the gateway is full) or "
            "auth-failures (429, too many requests without a valid key from one address)",
            ["reason"],
            registry=self.registry,
        )
        self.key_lookups = Counter(
            "ketnoi_gateway_key_lookups",
            "API key lookups that went to the store (cache misses), by whether the key was found",
            ["found"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "ketnoi_gateway_in_flight",
            "Units of the in-flight limit held by requests being served",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
