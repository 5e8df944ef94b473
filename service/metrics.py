"""Prometheus metrics (CONTRACT.md: requests, latency, refreshes, tokens by state, upstream).

Each app gets its own registry so several apps (tests, workers) never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("bff_http_requests_total", "HTTP requests handled",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram(
            "bff_http_request_duration_seconds", "Time to response start", ["route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r)
        self.refreshes = Counter("bff_token_refreshes_total", "Token refreshes by outcome",
                                 ["trigger", "outcome"], registry=r)
        self.refresh_lag = Histogram(
            "bff_token_refresh_lag_seconds",
            "How far past its due time a token was when it got refreshed",
            buckets=(0, 1, 5, 15, 30, 60, 120, 300, 900), registry=r)
        self.due_backlog = Gauge("bff_tokens_due", "Tokens due for refresh at the last scan",
                                 registry=r)
        self.tokens_by_state = Gauge("bff_tokens", "Stored tokens by state", ["state"],
                                     registry=r)
        self.upstream = Counter("bff_upstream_requests_total", "Calls to Looker by status",
                                ["kind", "status"], registry=r)
