"""Appends to Kafka and tells asyncio when the broker acknowledged: confluent-kafka's delivery
callbacks, which run on a polling thread, are bridged to asyncio futures in batches: whatever one
`poll` settled reaches the event loop in one wake-up (one `call_soon_threadsafe`), not one per
message."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Producer

from base.kafka_clients import producer_config
from schemas.topics import LARGE_MESSAGE_BYTES

log = logging.getLogger(__name__)

EXPIRY_SLACK_S = 0.05  # timeouts are checked in rounds: a late answer comes at most this much later


class PublishFailed(Exception):
    """The broker did not acknowledge the write (down, timed out, or refused it)."""


@dataclass(frozen=True)
class Delivery:
    topic: str
    partition: int
    offset: int


class KafkaPublisher:
    """One idempotent, acks=all producer per process; `publish` never blocks the event loop."""

    def __init__(self, bootstrap: str, *, delivery_timeout_s: float = 30.0, **extra):
        # message.timeout.ms bounds how long librdkafka keeps retrying a message; the caller's own
        # timeout (INGEST_PUBLISH_TIMEOUT) is usually shorter and answers 503 first.
        self._producer = Producer(producer_config(
            bootstrap,
            **{"message.timeout.ms": int(delivery_timeout_s * 1000), "error_cb": self._on_error,
               # A raw envelope holds a body of up to WEBHOOK_MAX_BYTES plus metadata; the raw
               # topics allow 4 MiB messages (schemas.topics.LARGE_MESSAGE_BYTES).
               "message.max.bytes": LARGE_MESSAGE_BYTES, **extra},
        ))
        self._bootstrap = bootstrap
        # Appended by delivery callbacks (on the polling thread, or in flush()), drained by the
        # loop: deque's append and popleft are atomic, so no lock is taken per message.
        self._settled: deque[tuple[asyncio.Future, Delivery | PublishFailed]] = deque()
        self._handing_over = threading.Event()  # set while a hand-over is queued on the loop
        # (deadline, n, future, timeout) of every publish: one timer for all of them instead of one
        # asyncio.timeout a message.
        self._deadlines: list[tuple[float, int, asyncio.Future, float]] = []
        self._numbers = itertools.count()
        self._expiry: asyncio.TimerHandle | None = None
        self._expiry_loop: asyncio.AbstractEventLoop | None = None  # the loop publishing
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-publisher-poll", daemon=True)
        self._poller.start()
        self.last_error: str | None = None
        self.last_error_at: float = 0.0
        self.last_success_at: float = 0.0

    def _poll_loop(self) -> None:
        # Delivery callbacks run inside poll(); what they settle is handed to the event loop in
        # one wake-up per poll, not one per message (a wake-up is a syscall and a GIL hand-off).
        while not self._stop.is_set():
            if self._producer.poll(0.1):
                self._hand_over()

    def _hand_over(self) -> None:
        # While a hand-over is still queued on the loop, it will also take what settled since.
        if self._settled and not self._handing_over.is_set() and self._expiry_loop is not None:
            self._handing_over.set()
            try:
                self._expiry_loop.call_soon_threadsafe(self._resolve_settled)
            except RuntimeError:  # the loop is closed: nobody awaits these any more
                self._settled.clear()
                self._handing_over.clear()

    def _resolve_settled(self) -> None:  # on the event loop
        self._handing_over.clear()
        settled = self._settled
        while settled:
            future, outcome = settled.popleft()
            if future.done():  # timed out (cancelled) meanwhile
                continue
            if isinstance(outcome, PublishFailed):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _settle(self, future: asyncio.Future, err, msg) -> None:  # on the polling thread, inside poll()
        if err is not None:
            self._settled.append((future, PublishFailed(str(err))))
        else:
            self._settled.append((future, Delivery(msg.topic(), msg.partition(), msg.offset())))

    def _on_error(self, err: KafkaError) -> None:
        self.last_error = str(err)
        self.last_error_at = time.monotonic()
        if err.fatal():
            log.error("kafka producer fatal error: %s", err)
        else:
            log.warning("kafka producer: %s", err)

    @property
    def queue_depth(self) -> int:
        return len(self._producer)

    async def publish(self, topic: str, key: bytes, value: bytes, *, timeout: float) -> Delivery:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivery] = loop.create_future()
        self._expire_at(loop, future, timeout)  # first: it also names the loop reports go to
        try:
            self._producer.produce(topic, key=key, value=value, on_delivery=partial(self._settle, future))
        except (BufferError, KafkaException) as exc:
            future.cancel()
            raise PublishFailed(f"producer refused the message: {exc}") from exc
        # Awaited directly: a caller cancelled meanwhile cancels the future, and a late outcome is
        # dropped, never left unretrieved.
        delivery = await future
        self.last_success_at = time.monotonic()
        return delivery

    def _expire_at(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, timeout: float) -> None:
        if loop is not self._expiry_loop:  # a new event loop (tests): the old one's futures are gone
            self._deadlines, self._expiry, self._expiry_loop = [], None, loop
        deadline = loop.time() + timeout
        heapq.heappush(self._deadlines, (deadline, next(self._numbers), future, timeout))
        if self._expiry is None or deadline + EXPIRY_SLACK_S < self._expiry.when():
            if self._expiry is not None:
                self._expiry.cancel()
            self._expiry = loop.call_at(deadline + EXPIRY_SLACK_S, self._expire)

    def _expire(self) -> None:  # on the event loop
        self._expiry = None
        loop, deadlines = self._expiry_loop, self._deadlines
        now = loop.time()
        while deadlines and deadlines[0][0] <= now:
            _, _, future, timeout = heapq.heappop(deadlines)
            if not future.done():
                future.set_exception(PublishFailed(f"no acknowledgement within {timeout:g}s"))
        if deadlines:
            self._expiry = loop.call_at(deadlines[0][0] + EXPIRY_SLACK_S, self._expire)

    async def broker_reachable(self, timeout: float = 2.0) -> bool:
        def probe() -> bool:
            try:
                self._producer.list_topics(timeout=timeout)
                return True
            except KafkaException:
                return False

        return await asyncio.to_thread(probe)

    async def close(self, timeout: float = 30.0) -> int:
        """Flushes what is in flight; returns how many messages could not be delivered."""
        remaining = await asyncio.to_thread(self._producer.flush, timeout)
        self._stop.set()
        await asyncio.to_thread(self._poller.join, 2.0)
        self._resolve_settled()  # what flush() settled after the poller's last round
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if remaining:
            log.error("%d messages were not delivered before shutdown", remaining)
        return remaining

