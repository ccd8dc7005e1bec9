"""Prometheus metrics: requests and latencies per route, faces processed, gallery size,
inference queue depth.

Each app owns its registry (no module-level metric objects, so tests can build many apps in
one process). With ``facegate serve --workers N`` the serve command sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start; prometheus-client then keeps every
worker's values in files there and ``/metrics`` sums them across workers, whichever worker
answers the scrape. Gauges use the multiprocess modes that make sense across workers: the
inference queue is summed over live workers, the gallery size is the most recent value.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Metrics computed at scrape time from live state (e.g. per-stream gauges): a series exists
# exactly as long as its object does, which per-process metric files cannot promise.
ScrapeSource = Callable[[], Awaitable[list[Metric]]]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metric objects of one app."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "facegate_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "facegate_http_request_duration_seconds",
            "Time from request to the end of the response, by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.faces = Counter(
            "facegate_faces_processed",
            "Faces found in images, by operation (identify, verify, detect, enrol)",
            ["operation"],
            registry=r,
        )
        self.gallery_people = Gauge(
            "facegate_gallery_people",
            "People enrolled",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.gallery_templates = Gauge(
            "facegate_gallery_templates",
            "Face templates in the gallery",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.queue_depth = Gauge(
            "facegate_inference_queue_depth",
            "Inference jobs waiting for a thread (summed over workers)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.inference_pending = Gauge(
            "facegate_inference_pending",
            "Inference jobs waiting or running (summed over workers)",
            registry=r,
            multiprocess_mode="livesum",
        )

        self.scrape_sources: list[ScrapeSource] = []

    def render(self) -> bytes:
        """The exposition text: this registry, or every worker's files in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(merged, path=directory)
        return generate_latest(merged)

    async def scrape(self) -> bytes:
        """``render()`` plus what the scrape sources report now."""
        families: list[Metric] = []
        for found in await asyncio.gather(*(source() for source in self.scrape_sources)):
            families.extend(found)
        text = await asyncio.to_thread(self.render)
        return text + generate_latest(_Families(families)) if families else text


class _Families:
    """A registry-shaped holder of ready-made metric families, for ``generate_latest``."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request by its route *template* (``/people/{id}``,
    not ``/people/17``), so the number of series stays bounded."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
            # Refreshed after every request so each worker's share of the multiprocess sum
            # is current, not only the share of the worker that answers the scrape.
            services = getattr(scope["app"].state, "services", None) if "app" in scope else None
            if services is not None:
                self.metrics.queue_depth.set(services.inference.queue_depth)
                self.metrics.inference_pending.set(services.inference.pending)
