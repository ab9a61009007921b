"""Every psad metric, declared once, on a registry handed in.

Each app instance (and each test) builds its own ``CollectorRegistry``; labels
stay low-cardinality: integration, psa, entity, trigger, outcome, operation.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from psad.progress import RunProgress
from psad.version import psad_version

# A ``_created`` twin of every counter and histogram only doubles the series.
disable_created_metrics()  # type: ignore[no-untyped-call]

RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))
REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf"))
STAGES = ("fetched", "written", "rejected")

Running = Callable[[], Iterable[tuple[str, RunProgress]]]
"""The runs in progress, as (integration, progress) pairs."""


class ProgressCollector(Collector):
    """Live progress of the running syncs, read at scrape time (nothing to reset)."""

    def __init__(self, running: Running) -> None:
        self.running = running

    def collect(self) -> Iterator[Metric]:
        labels = ["integration", "entity"]
        records = GaugeMetricFamily(
            "psad_sync_progress_records",
            "Records of each entity of a running sync so far, by stage (fetched, written, "
            "rejected).", labels=[*labels, "stage"])
        total = GaugeMetricFamily(
            "psad_sync_progress_total_records",
            "How many records the PSA said a running entity's list holds.", labels=labels)
        ratio = GaugeMetricFamily(
            "psad_sync_progress_ratio",
            "Share (0-1) of a running entity fetched, where the PSA told the total.",
            labels=labels)
        for integration, progress in self.running():
            for entity, part in progress.entities.items():
                for stage in STAGES:
                    records.add_metric([integration, entity, stage], getattr(part, stage))
                if part.total is not None:
                    total.add_metric([integration, entity], part.total)
                if part.percent is not None:
                    ratio.add_metric([integration, entity], part.percent / 100.0)
        yield from (records, total, ratio)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.runs = Counter(
            "psad_sync_runs", "Finished sync runs.",
            ["integration", "trigger", "outcome"], registry=registry)
        self.run_duration = Histogram(
            "psad_sync_run_duration_seconds", "Wall time of finished sync runs.",
            ["integration"], buckets=RUN_BUCKETS, registry=registry)
        self.records = Counter(
            "psad_sync_records", "Records processed by syncs, by what happened to them.",
            ["integration", "entity", "operation"], registry=registry)
        self.last_success = Gauge(
            "psad_sync_last_success_timestamp_seconds",
            "When each entity of each integration last synced cleanly (Unix time).",
            ["integration", "entity"], registry=registry)
        self.queue_depth = Gauge(
            "psad_queue_depth", "Sync runs waiting in the queue.", registry=registry)
        self.queue_oldest_age = Gauge(
            "psad_queue_oldest_age_seconds", "Age of the longest-waiting queued run.",
            registry=registry)
        self.running = Gauge(
            "psad_sync_running", "Sync runs in progress.", registry=registry)
        self.psa_requests = Counter(
            "psad_psa_requests", "HTTP requests sent to PSAs, by status code.",
            ["integration", "code"], registry=registry)
        self.psa_latency = Histogram(
            "psad_psa_request_duration_seconds", "Latency of HTTP requests to PSAs.",
            ["integration"], buckets=REQUEST_BUCKETS, registry=registry)
        self.psa_retries = Counter(
            "psad_psa_retries", "PSA requests retried, by reason.",
            ["integration", "reason"], registry=registry)
        self.psa_throttled = Counter(
            "psad_psa_throttled", "PSA answers that throttled psad (HTTP 429).",
            ["integration"], registry=registry)
        self.ticket_requests = Counter(
            "psad_ticket_proxy_requests", "Live ticket requests served, by outcome.",
            ["integration", "outcome"], registry=registry)
        self.ticket_rejected = Counter(
            "psad_ticket_proxy_rejected_tickets",
            "Listed tickets skipped because the PSA sent them malformed.",
            ["integration"], registry=registry)
        self.ticket_latency = Histogram(
            "psad_ticket_proxy_request_duration_seconds", "Latency of live ticket requests.",
            ["integration"], buckets=REQUEST_BUCKETS, registry=registry)

        self.build_info = Gauge(
            "psad_build_info", "Always 1; the labels say which psad and Python run.",
            ["version", "python"], registry=registry)
        self.build_info.labels(psad_version(), platform.python_version()).set(1)
        self.instance_info = Gauge(
            "psad_instance_info",
            "Always 1; the labels say which psad instance answers (host:pid, and a tag on "
            "PostgreSQL, where several share one database) and its store (sqlite, postgresql).",
            ["instance", "store"], registry=registry)

    def watch_progress(self, running: Running) -> None:
        """Export the live progress of the runs ``running`` lists."""
        self.registry.register(ProgressCollector(running))

    def psa_request(self, integration: str, code: str, seconds: float) -> None:
        self.psa_requests.labels(integration, code).inc()
        self.psa_latency.labels(integration).observe(seconds)

    def psa_retry(self, integration: str, reason: str) -> None:
        self.psa_retries.labels(integration, reason).inc()

    def psa_throttle(self, integration: str) -> None:
        self.psa_throttled.labels(integration).inc()
