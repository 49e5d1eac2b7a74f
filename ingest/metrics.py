"""The ingest's Prometheus metrics, in a registry of its own (one per app, so tests don't clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
            "okrate_ingest_producer_queue", "Messages waiting in the producer's queue", registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
