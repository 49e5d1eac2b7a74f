"""Appends to Kafka and tells asyncio when the broker acknowledged: confluent-kafka's delivery
callbacks, which run on a polling thread, are bridged to asyncio futures."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

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
        self._settled: list[tuple[asyncio.Future, Delivery | PublishFailed]] = []
        self._settled_lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-publisher-poll", daemon=True)
        self._poller.start()
        self.last_error: str | None = None
        self.last_error_at: float = 0.0
        self.last_success_at: float = 0.0

    def _poll_loop(self) -> None:
        # Delivery callbacks run inside poll(); what they settle is handed to the event loop in
        # one wake-up per poll, not one per message (a wake-up is a syscall).
        while not self._stop.is_set():
            self._producer.poll(0.1)
            self._hand_over()

    def _hand_over(self) -> None:
        with self._settled_lock:
            batch, self._settled = self._settled, []
        if batch:
            batch[0][0].get_loop().call_soon_threadsafe(_resolve_all, batch)

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
        # After a timeout nobody awaits the future any more: retrieve its outcome all the same.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

        def settle(err, msg) -> None:  # runs on the polling thread, inside poll()
            if err is not None:
                outcome: Delivery | PublishFailed = PublishFailed(str(err))
            else:
                outcome = Delivery(msg.topic(), msg.partition(), msg.offset())
            with self._settled_lock:
                self._settled.append((future, outcome))

        try:
            self._producer.produce(topic, key=key, value=value, on_delivery=settle)
        except (BufferError, KafkaException) as exc:
            raise PublishFailed(f"producer refused the message: {exc}") from exc
        try:
            async with asyncio.timeout(timeout):  # cheaper than wait_for(shield(...)): no extra tasks
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
        self._hand_over()  # what flush() settled after the poller's last round
        if remaining:
            log.error("%d messages were not delivered before shutdown", remaining)
        return remaining


def _resolve_all(batch: list[tuple[asyncio.Future, Delivery | PublishFailed]]) -> None:
    for future, outcome in batch:
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
