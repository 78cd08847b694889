"""The API's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ApiMetrics"]

_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class ApiMetrics:
    """Counters and histograms the endpoints update; gauges read live values."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.checkouts = Counter(
            "riskstream_api_checkouts",
            "Checkouts answered, by action and by who decided (engine or timeout-policy).",
            ["action", "decided_by"],
            registry=registry,
        )
        self.replays = Counter(
            "riskstream_api_checkout_replays",
            "Retried checkouts answered from what was already decided (nothing produced).",
            registry=registry,
        )
        self.conflicts = Counter(
            "riskstream_api_checkout_conflicts",
            "Checkouts refused because their transaction id was used for another checkout.",
            registry=registry,
        )
        self.timeouts = Counter(
            "riskstream_api_decision_timeouts",
            "Checkouts whose decision missed the budget (answered by the timeout policy).",
            registry=registry,
        )
        self.produce_failures = Counter(
            "riskstream_api_produce_failures",
            "Records the log did not acknowledge.",
            ["topic"],
            registry=registry,
        )
        self.decision_seconds = Histogram(
            "riskstream_api_checkout_decision_seconds",
            "From receiving a checkout to having its verdict (engine or timeout policy).",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            "riskstream_api_events",
            "Events accepted by POST /v1/events, by type.",
            ["type"],
            registry=registry,
        )
        self.rejected = Counter(
            "riskstream_api_rejected_requests",
            "Requests refused for their body (422), size (413) or a conflict (409).",
            ["endpoint", "status"],
            registry=registry,
        )

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge whose value ``read`` returns at each scrape."""
        Gauge(name, documentation, registry=self.registry).set_function(read)
