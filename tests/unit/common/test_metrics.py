"""HttpMetrics exposes what prometheus_client's Counter and Histogram exposed."""

from __future__ import annotations

import random
import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from onestack.common import metrics
from onestack.common.metrics import HttpMetrics


def reference_registry() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry(auto_describe=True)
    requests = Counter(
        metrics.REQUESTS_NAME,
        metrics.REQUESTS_HELP,
        ["service", "route", "method", "status"],
        registry=registry,
    )
    latency = Histogram(
        metrics.LATENCY_NAME,
        metrics.LATENCY_HELP,
        ["service", "route", "method"],
        buckets=metrics.BUCKETS,
        registry=registry,
    )
    return registry, requests, latency


def without_created_values(text: bytes) -> str:
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 <time>", text.decode())


def test_same_exposition_as_prometheus_client() -> None:
    registry, requests, latency = reference_registry()
    ours = HttpMetrics()
    our_registry = CollectorRegistry(auto_describe=True)
    our_registry.register(ours)
    assert generate_latest(our_registry) == generate_latest(registry)  # both empty

    rng = random.Random(5)
    routes = [("/v3/auth/tokens", "POST"), ("/v3/projects", "GET"), ("unmatched", "PUT")]
    edges = [0.0, *metrics.BUCKETS, 10.5, 1e-7]
    for n in range(3000):
        route, method = rng.choice(routes)
        status = rng.choice(["200", "201", "401", "404"])
        seconds = edges[n] if n < len(edges) else rng.expovariate(100)
        requests.labels("identity", route, method, status).inc()
        latency.labels("identity", route, method).observe(seconds)
        ours.series("identity", route, method, status).observe(seconds)

    expected = without_created_values(generate_latest(registry))
    assert without_created_values(generate_latest(our_registry)) == expected
    assert 'le="+Inf"' in expected and "_created{" in expected


def test_series_are_kept() -> None:
    ours = HttpMetrics()
    first = ours.series("identity", "/v3", "GET", "200")
    assert ours.series("identity", "/v3", "GET", "200") is first
    other = ours.series("identity", "/v3", "GET", "404")
    assert other is not first and other.latency is first.latency
