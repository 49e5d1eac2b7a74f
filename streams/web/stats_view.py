"""`GET /stats` on the worker's web port: the latest snapshot of every dimension (JSON), or of one
(`?dimension=company:17`), guarded by `ADMIN_TOKEN` when it is set.

Whichever worker answers gives the complete figures: the view reads the compacted `rating.stats`
topic (every partition, no consumer group), not its own share of the `stats` table. The reader is
incremental: each request first catches up to the topic's current end, then answers, so a
snapshot published before the request is always in the answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from base.names import group as deployment_group
from schemas.codec import DecodeError, decode
from schemas.records import StatsSnapshot
from schemas.topics import RATING_STATS
from streams.stats.snapshot import as_json

if TYPE_CHECKING:
    from streams.app import StreamsApp

log = logging.getLogger("okrate.streams.web")


class StatsReader:
    """The latest `StatsSnapshot` per dimension in a compacted topic, caught up on demand."""

    def __init__(self, bootstrap: str, topic: str, timeout: float = 10.0, group: str = "okrate-stats-view"):
        self.bootstrap, self.topic, self.timeout = bootstrap, topic, timeout
        self.group = group  # the deployment's (`base.names.group`); a random tail is added
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._next: dict[int, int] = {}  # partition -> next offset to read
        self.latest: dict[str, StatsSnapshot] = {}

    def _start(self) -> Consumer:
        consumer = Consumer({
            "bootstrap.servers": self.bootstrap, "group.id": f"{self.group}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "enable.partition.eof": False, "log_level": 3,
        })
        meta = consumer.list_topics(self.topic, timeout=self.timeout).topics[self.topic]
        partitions = sorted(meta.partitions)
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        self._next = dict.fromkeys(partitions, 0)
        return consumer

    def read(self) -> dict[str, StatsSnapshot]:
        """Catches up to the topic's end (as of now) and returns the latest per dimension."""
        with self._lock:
            if self._consumer is None:
                self._consumer = self._start()
            consumer = self._consumer
            ends: dict[int, int] = {}
            for partition in self._next:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=self.timeout, cached=False)
                ends[partition] = high
                self._next[partition] = max(self._next[partition], low)
            deadline = time.monotonic() + self.timeout
            while any(self._next[p] < ends[p] for p in ends) and time.monotonic() < deadline:
                for msg in consumer.consume(500, timeout=0.5):
                    if msg.error():
                        continue
                    self._next[msg.partition()] = msg.offset() + 1
                    self._take(msg.key(), msg.value())
            return dict(self.latest)

    def _take(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        dimension = key.decode(errors="replace")
        if value is None:  # a tombstone
            self.latest.pop(dimension, None)
            return
        try:
            record = decode(value, expected=(StatsSnapshot,))
        except DecodeError as exc:
            log.warning("rating.stats: undecodable snapshot for %s: %s", dimension, exc)
            return
        self.latest[dimension] = record

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None


def stats_document(latest: dict[str, StatsSnapshot], dimension: str | None) -> tuple[int, dict[str, Any]]:
    if dimension is not None:
        snap = latest.get(dimension)
        if snap is None:
            return 404, {"error": "unknown dimension", "dimension": dimension}
        return 200, as_json(snap)
    return 200, {"dimensions": {dim: as_json(latest[dim]) for dim in sorted(latest)}}


def register(app: StreamsApp) -> None:
    if app.config.web_port is None:
        return
    import faust.web

    from streams.web import dashboard_view
    from streams.web.login_limit import LoginLimit

    reader = StatsReader(app.config.bootstrap, RATING_STATS.full_name(app.settings),
                         group=deployment_group(app.settings, "stats-view"))
    settings = app.settings
    gate = dashboard_view.Gate(settings.admin_token, LoginLimit(settings.dashboard_login_failures,
                                                                settings.dashboard_login_window.total_seconds()),
                               on=app.metrics.logins)

    @app.faust.page("/stats")
    class StatsView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            ok, wait = gate.check(request)
            if wait is not None:
                return dashboard_view.too_many(self, wait)
            if not ok:
                return self.json({"error": "unauthorised"}, status=401,
                                 headers={"WWW-Authenticate": "Bearer"})
            try:
                latest = await asyncio.to_thread(reader.read)
            except Exception as exc:
                log.exception("GET /stats: rating.stats could not be read")
                return self.json({"error": f"statistics unavailable: {type(exc).__name__}"}, status=503)
            status, doc = stats_document(latest, request.query.get("dimension"))
            return self.json(doc, status=status)

    @app.faust.service
    class StatsReaderCloser(faust.Service):
        async def on_stop(self) -> None:
            await asyncio.to_thread(reader.close)

    dashboard_view.register(app, reader, gate)  # /dashboard and /stats.csv, sharing this reader and gate
