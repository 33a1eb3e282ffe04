"""Prometheus metrics of one app, in its own CollectorRegistry (two apps in a process never mix)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

ATTRIBUTION_HEADERS = ("x-skill-source", "x-skill-version", "x-skill-platform")


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "nemo_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "nemo_http_request_duration_seconds",
            "time to answer (for /run_sse: the whole stream)",
            ["method", "route"],
            registry=self.registry,
        )
        self.attribution = Counter(
            "nemo_attribution_headers",
            "requests by X-Skill-* header and whether it was sent",
            ["header", "present"],
            registry=self.registry,
        )
        self.turns = Counter(
            "nemo_turns", "chat turns finished, by outcome", ["outcome"], registry=self.registry
        )
        self.turns_running = Gauge("nemo_turns_running", "chat turns running now", registry=self.registry)

    def observe_request(
        self, method: str, route: str, status: int, seconds: float, headers: dict[str, str]
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        for name in ATTRIBUTION_HEADERS:
            self.attribution.labels(name.removeprefix("x-skill-"), "yes" if headers.get(name) else "no").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
