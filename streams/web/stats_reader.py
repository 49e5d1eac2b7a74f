"""The latest `StatsSnapshot` per dimension of the compacted `rating.stats` topic: every partition,
no consumer group, caught up to the topic's current end on each read (so a snapshot published
before a request is in its answer). `GET /stats` and the dashboard share one."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas.codec import DecodeError, decode
from schemas.records import StatsSnapshot

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


async def read_for(view: Any, reader: StatsReader, route: str) -> tuple[dict[str, StatsSnapshot] | None, Any]:
    """The latest snapshots for a view's answer, read off the event loop: (snapshots, None), or
    (None, a 503 answer) when `rating.stats` cannot be read (logged with the route)."""
    try:
        return await asyncio.to_thread(reader.read), None
    except Exception as exc:
        log.exception("%s: rating.stats could not be read", route)
        return None, view.json({"error": f"statistics unavailable: {type(exc).__name__}"}, status=503)

