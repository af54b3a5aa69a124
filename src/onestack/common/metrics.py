"""Prometheus metrics shared by every service."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "onestack_http_requests",
    "HTTP requests answered, by service, route template, method and status.",
    ["service", "route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "onestack_http_request_duration_seconds",
    "Time to answer an HTTP request, by service and route template.",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def generate() -> tuple[bytes, str]:
    return _generate(REGISTRY), CONTENT_TYPE_LATEST
