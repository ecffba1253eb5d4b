"""Prometheus metrics at ``GET /metrics``: ingestion, HTTP and every registered exhibit
(:mod:`fleet_api.exhibit_metrics`), one registry per app.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (no global state:
two apps in one process, as in the tests, count separately). Ingestion counters are
read at scrape time from the :class:`~fleet_api.ingest.IngestStats` that
``/ingest/stats`` shows too, so the two never disagree; the batch latency histogram is
fed by the ingestor after every batch; HTTP requests are counted by a middleware
labelled with the route *template* (``/visits/{visit_id}``), never the raw path, so a
scanner cannot create unbounded series.

``/metrics`` needs no token, like ``/healthz``: scrape it from the internal network and
do not route it through a public reverse proxy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet_api.alerts import Thresholds
from fleet_api.exhibit_metrics import ExhibitCollector
from fleet_api.inbound import QuarantineReason
from fleet_api.ingest import Ingestor, IngestStats
from fleet_api.notifications.collector import NotificationCollector
from fleet_api.routes.fleet import thresholds

BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of requests no route matched (404s for unknown paths)."""


class FleetMetrics:
    """The metrics of one app, in a registry of its own."""

    def __init__(self, state: State) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "fleet_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "fleet_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "fleet_ingest_batch_duration_seconds",
            "Time from writing an ingest batch to acking its last message (retries included)",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(IngestCollector(state))
        self.registry.register(ExhibitCollector(state, _thresholds))
        self.registry.register(NotificationCollector(state))

    def observe_batch(self, seconds: float) -> None:
        """Record how long one ingest batch took to store and ack."""
        self.batch_seconds.observe(seconds)

    def exposition(self) -> bytes:
        """Everything in the Prometheus text format."""
        return generate_latest(self.registry)


class IngestCollector(Collector):
    """Reads the app's ingestion counters and connection state at scrape time."""

    def __init__(self, state: State) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        """The ingestion metrics as they are now."""
        stats: IngestStats = getattr(self._state, "ingest_stats", None) or IngestStats()
        ingestor: Ingestor | None = getattr(self._state, "ingestor", None)
        yield GaugeMetricFamily(
            "fleet_ingest_enabled", "1 if MQTT ingestion runs in this process", value=stats.enabled
        )
        yield GaugeMetricFamily(
            "fleet_ingest_connected",
            "1 if ingestion is connected and subscribed to the broker",
            value=ingestor is not None and ingestor.connected,
        )
        counters = {
            "messages": ("MQTT messages ingested (stored or quarantined)", stats.messages),
            "batches": ("Batches written, each in one transaction", stats.batches),
            "records_received": ("Count records received", stats.records_received),
            "records_inserted": ("Count records stored (new)", stats.records_inserted),
            "records_duplicate": (
                "Count records received again and not stored twice",
                stats.records_received - stats.records_inserted,
            ),
            "acked": ("Messages acknowledged to the broker after commit", stats.acked),
            "custody_sent": (
                "Custody acknowledgements sent to exhibits after commit",
                stats.custody_sent,
            ),
            "storage_errors": (
                "Failed attempts to write a batch (retried; nothing acked meanwhile)",
                stats.storage_errors,
            ),
            "unexpected_errors": (
                "Failed writes that were neither the database's absence nor the data's "
                "(retried a few times, then the message is quarantined as storage_error)",
                stats.unexpected_errors,
            ),
            "conflicts": (
                "Records that reused a stored seq with another body (quarantined as conflict)",
                stats.conflicts,
            ),
        }
        for name, (documentation, value) in counters.items():
            yield CounterMetricFamily(f"fleet_ingest_{name}", documentation, value=value)
        quarantined = CounterMetricFamily(
            "fleet_ingest_quarantined", "Messages quarantined, by reason", labels=["reason"]
        )
        for reason in sorted({*map(str, QuarantineReason), *stats.quarantined}):
            quarantined.add_metric([reason], stats.quarantined[reason])
        yield quarantined
        dropped = CounterMetricFamily(
            "fleet_ingest_quarantine_dropped",
            "Quarantine rows not kept (rate: over the exhibit's hourly allowance) or removed "
            "(size: over the total), by bound",
            labels=["bound"],
        )
        for bound in ("rate", "size"):
            dropped.add_metric([bound], stats.quarantine_dropped[bound])
        yield dropped


class HttpMetrics:
    """ASGI middleware counting and timing every HTTP request by route template."""

    def __init__(self, app: ASGIApp, *, metrics: FleetMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count it once it is answered (500 if it raised)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = _template(scope.get("route"))
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_seconds.labels(method, route).observe(time.perf_counter() - started)


def _thresholds(state: State) -> Thresholds | None:
    """The alert thresholds of the settings the lifespan put on ``state`` (None before)."""
    settings = getattr(state, "settings", None)
    return None if settings is None else thresholds(settings)


def _template(route: Any) -> str:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


router = APIRouter(tags=["service"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (no token: scrape from the internal network)."""
    fleet_metrics: FleetMetrics = request.app.state.metrics
    return Response(fleet_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
