"""`GET /metrics` on the streams worker's web port (open, like every service's health and metrics)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import faust

from base.consumer_lag import group_lag

if TYPE_CHECKING:
    from streams.app import StreamsApp


def register(app: StreamsApp) -> None:
    if app.config.web_port is None:
        return

    @app.faust.page("/metrics")
    class Metrics(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            topics = [app.topic.name_of(spec) for spec in app.input_specs]
            try:
                lag = await asyncio.to_thread(group_lag, app.config.bootstrap, app.config.app_id, topics)
            except Exception:  # the metrics page answers even when Kafka does not
                lag = {}
            for topic, behind in lag.items():
                app.metrics.lag.labels(topic).set(behind)
            names = set(topics)
            app.metrics.assigned.set(sum(1 for tp in app.faust.consumer.assignment() if tp.topic in names))
            return self.bytes(app.metrics.render(), content_type="text/plain; version=0.0.4")
