"""Prometheus metrics shared by every service."""

from __future__ import annotations

import math
import os
import time
from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client import generate_latest as _generate
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS_NAME = "onestack_http_requests"
REQUESTS_HELP = "HTTP requests answered, by service, route template, method and status."
LATENCY_NAME = "onestack_http_request_duration_seconds"
LATENCY_HELP = "Time to answer an HTTP request, by service and route template."
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BOUNDS = (*(float(b) for b in BUCKETS), math.inf)
_LE = tuple(floatToGoString(b) for b in _BOUNDS)
# prometheus_client's own switch for the *_created series (read once, as it does).
_CREATED = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in (
    "true",
    "1",
    "t",
)


class LatencySeries:
    """The latency histogram of one (service, route, method)."""

    __slots__ = ("buckets", "created", "labels", "total")

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.buckets = [0] * len(_BOUNDS)  # observations per bucket, not cumulative
        self.total = 0.0
        self.created = time.time()


class RequestSeries:
    """The request count of one (service, route, method, status), and its latency histogram."""

    __slots__ = ("count", "created", "labels", "latency")

    def __init__(self, labels: dict[str, str], latency: LatencySeries) -> None:
        self.labels = labels
        self.latency = latency
        self.count = 0
        self.created = time.time()

    def observe(self, seconds: float) -> None:
        """Count one answered request that took ``seconds``."""
        self.count += 1
        latency = self.latency
        # The first bucket whose upper bound is >= seconds, as prometheus_client places it.
        latency.buckets[bisect_left(_BOUNDS, seconds)] += 1
        latency.total += seconds


class HttpMetrics:
    """``onestack_http_requests`` (counter) and ``onestack_http_request_duration_seconds``
    (histogram), by service, route template and method (and status for the counter).

    prometheus_client's Counter and Histogram take a lock for every update, four per request,
    about 4% of a cached token issue's application time. Requests are counted on the
    event loop thread, so here the numbers are plain attributes that Prometheus reads when it
    scrapes (:meth:`collect`), as the same families, series order and samples
    (``_total``/``_created``; ``_bucket``/``_count``/``_sum``/``_created``) as the
    prometheus_client metrics had.
    """

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, str, str], RequestSeries] = {}
        self._latency: dict[tuple[str, str, str], LatencySeries] = {}

    def series(self, service: str, route: str, method: str, status: str) -> RequestSeries:
        """The series one request counts into; callers keep it (a lookup costs more)."""
        key = (service, route, method, status)
        found = self._requests.get(key)
        if found is None:
            latency = self._latency.get(key[:3])
            if latency is None:
                latency = LatencySeries({"service": service, "route": route, "method": method})
                self._latency[key[:3]] = latency
            labels = {"service": service, "route": route, "method": method, "status": status}
            found = RequestSeries(labels, latency)
            self._requests[key] = found
        return found

    def collect(self) -> Iterable[Metric]:
        requests = Metric(REQUESTS_NAME, REQUESTS_HELP, "counter")
        for series in list(self._requests.values()):
            requests.add_sample(f"{REQUESTS_NAME}_total", series.labels, float(series.count))
            if _CREATED:
                requests.add_sample(f"{REQUESTS_NAME}_created", series.labels, series.created)
        latency = Metric(LATENCY_NAME, LATENCY_HELP, "histogram")
        for histogram in list(self._latency.values()):
            labels = histogram.labels
            cumulative = 0.0
            for le, count in zip(_LE, histogram.buckets, strict=True):
                cumulative += count
                latency.add_sample(f"{LATENCY_NAME}_bucket", {**labels, "le": le}, cumulative)
            latency.add_sample(f"{LATENCY_NAME}_count", labels, cumulative)
            latency.add_sample(f"{LATENCY_NAME}_sum", labels, histogram.total)
            if _CREATED:
                latency.add_sample(f"{LATENCY_NAME}_created", labels, histogram.created)
        return [requests, latency]


HTTP = HttpMetrics()
REGISTRY.register(HTTP)


def generate() -> tuple[bytes, str]:
    return _generate(REGISTRY), CONTENT_TYPE_LATEST
