"""Appends to Kafka and tells asyncio when the broker acknowledged: confluent-kafka's delivery
callbacks, which run on a polling thread, are bridged to asyncio futures in batches: whatever one
`poll` settled reaches the event loop in one wake-up (one `call_soon_threadsafe`), not one per
message."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Producer

from okrate.kafka_clients import producer_config
from schemas.topics import LARGE_MESSAGE_BYTES

log = logging.getLogger(__name__)


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
        if self._settled and not self._handing_over.is_set():
            self._handing_over.set()
            self._settled[0][0].get_loop().call_soon_threadsafe(self._resolve_settled)

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
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        try:
            self._producer.produce(topic, key=key, value=value, on_delivery=partial(self._settle, future))
        except (BufferError, KafkaException) as exc:
            raise PublishFailed(f"producer refused the message: {exc}") from exc
        try:
            # A timeout cancels the future itself (it is awaited directly): its late outcome is
            # then dropped, never left unretrieved. Cheaper than wait_for(shield(...)).
            async with asyncio.timeout(timeout):
                delivery = await future
        except TimeoutError:
            raise PublishFailed(f"no acknowledgement within {timeout:g}s") from None
        self.last_success_at = time.monotonic()
        return delivery

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
        if remaining:
            log.error("%d messages were not delivered before shutdown", remaining)
        return remaining

