"""The ingest's Prometheus metrics, in a registry of its own (one per app, so tests don't clash).

Under `okrate ingest --workers N` a scrape reaches whichever worker the kernel picks, so the
workers keep their figures in files of prometheus_client's multiprocess mode (the parent sets
PROMETHEUS_MULTIPROC_DIR) and every worker answers with the sum over all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "okrate_ingest_requests", "Webhook requests by source and outcome",
            ["source", "outcome"], registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "okrate_ingest_publish_seconds", "From produce to the broker's acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "okrate_ingest_producer_queue", "Messages waiting in the producer's queue (each worker's, as of its last scrape, summed)",
            registry=self.registry, multiprocess_mode="livesum",
        )

    def render(self) -> bytes:
        if path := os.environ.get(MULTIPROC_DIR):
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path)
            return generate_latest(registry)
        return generate_latest(self.registry)

    def close(self) -> None:
        """A worker that stops takes its live gauges out of the sum (its counters stay counted)."""
        if path := os.environ.get(MULTIPROC_DIR):
            mark_process_dead(os.getpid(), path)
