"""A Kafka consumer for the notifier: confluent-kafka in a thread of its own, handing messages
to asyncio, committing only offsets below the oldest unfinished message of each partition.

Why confluent-kafka in a thread rather than aiokafka: it is what the rest of okrate uses
(`base.kafka_clients`), librdkafka prefetches in the background, and the thread owns the
consumer outright (poll, pause, commit), so the event loop never blocks on it. The notifier runs
as one instance per bot, so each consumer takes every partition by `assign()` (no group
rebalances: a restart after a crash resumes at once) and commits to its own group id.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from base.kafka_clients import consumer_config

log = logging.getLogger("okrate.notifier.consumer")


class OffsetTracker:
    """Per partition: the offsets handed out, in order, and which of them are finished. The
    committable position is the oldest unfinished offset (or one past the last, when all are)."""

    def __init__(self) -> None:
        self._order: dict[int, deque[int]] = {}
        self._done: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}

    def started(self, partition: int, offset: int) -> None:
        self._order.setdefault(partition, deque()).append(offset)
        self._done.setdefault(partition, set())

    def finished(self, partition: int, offset: int) -> None:
        order, done = self._order[partition], self._done[partition]
        done.add(offset)
        while order and order[0] in done:
            done.discard(order[0])
            self._next[partition] = order.popleft() + 1

    def positions(self) -> dict[int, int]:
        out = {}
        for partition, order in self._order.items():
            if order:
                out[partition] = order[0]
            elif partition in self._next:
                out[partition] = self._next[partition]
        return out

    @property
    def in_flight(self) -> int:
        return sum(len(o) for o in self._order.values())


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


Handler = Callable[[Message], Awaitable[None] | None]


class ThreadedConsumer:
    """Reads every partition of `topic` (from the group's committed offsets, else the earliest)
    and calls `handler` for each message, in order, on the event loop. A handler returns None
    when it is done at once, or an awaitable that finishes when the message's work is done; the
    offset is committed only once every earlier message of the partition is done too."""

    def __init__(self, bootstrap: str, topic: str, group_id: str, handler: Handler, *,
                 max_in_flight: int = 10_000, name: str = "consumer", **extra):
        self.topic = topic
        self.name = name
        self.handler = handler
        self.max_in_flight = max_in_flight
        self._config = consumer_config(bootstrap, group_id, **{"fetch.wait.max.ms": 100, **extra})
        self.tracker = OffsetTracker()
        self._stop = threading.Event()
        self._to_commit: dict[int, int] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self._dispatcher: asyncio.Task | None = None
        self._committer: asyncio.Task | None = None
        self._received = 0  # incremented by the consumer thread only
        self._finished = 0  # incremented by the event loop only
        self.ready = threading.Event()
        self.error: BaseException | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, args=(loop,), name=f"kafka-{self.name}", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self.ready.wait, 60)
        if self.error:
            raise self.error
        self._dispatcher = asyncio.create_task(self._dispatch(), name=f"{self.name}-dispatch")
        self._committer = asyncio.create_task(self._commit_loop(), name=f"{self.name}-commit")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        if self._dispatcher:
            self._dispatcher.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=drain_timeout)
        if self._committer:
            self._committer.cancel()
        self._request_commit()
        self._stop.set()
        if self._thread:
            await asyncio.to_thread(self._thread.join, 10)

    # -- the consumer's own thread ------------------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        consumer = Consumer(self._config)
        try:
            meta = consumer.list_topics(self.topic, timeout=30).topics[self.topic]
            if meta.error is not None:
                raise KafkaException(meta.error)
            consumer.assign(self._starting_positions(consumer, sorted(meta.partitions)))
        except BaseException as exc:  # reported to start()
            self.error = exc
            self.ready.set()
            consumer.close()
            return
        self.ready.set()
        paused = False
        try:
            while not self._stop.is_set():
                self._commit_now(consumer)
                if self._received - self._finished >= self.max_in_flight:
                    if not paused:
                        consumer.pause(consumer.assignment())
                        paused = True
                elif paused:
                    consumer.resume(consumer.assignment())
                    paused = False
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("%s: %s", self.name, msg.error())
                    continue
                item = Message(msg.key(), msg.value(), msg.partition(), msg.offset())
                self._received += 1
                loop.call_soon_threadsafe(self._queue.put_nowait, item)
            self._commit_now(consumer)
        except Exception:
            log.exception("%s: the consumer thread failed", self.name)
        finally:
            consumer.close()

    def _starting_positions(self, consumer: Consumer, partitions: list[int]) -> list[TopicPartition]:
        """The group's committed offsets (the earliest where none), asked again while the group
        coordinator is not ready yet (a new group on a fresh broker)."""
        wanted = [TopicPartition(self.topic, p) for p in partitions]
        deadline = time.monotonic() + 60
        while True:
            try:
                committed = consumer.committed(wanted, timeout=10)
                break
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise
                log.info("%s: committed offsets not available yet (%s); asking again", self.name, exc)
                time.sleep(0.2)
        return [TopicPartition(self.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
                for tp in committed]

    def _commit_now(self, consumer: Consumer) -> None:
        with self._lock:
            positions, self._to_commit = self._to_commit, None
        if positions:
            try:
                consumer.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in positions.items()],
                                asynchronous=False)
            except KafkaException as exc:
                log.warning("%s: commit failed: %s", self.name, exc)

    # -- the event loop's side ----------------------------------------------------------------

    def _request_commit(self) -> None:
        positions = self.tracker.positions()
        if positions:
            with self._lock:
                self._to_commit = positions

    async def _commit_loop(self) -> None:
        last: dict[int, int] = {}
        while True:
            await asyncio.sleep(0.5)
            positions = self.tracker.positions()
            if positions != last:
                self._request_commit()
                last = positions

    async def _dispatch(self) -> None:
        while True:
            item = await self._queue.get()
            self.tracker.started(item.partition, item.offset)
            try:
                work = self.handler(item)
            except Exception:
                log.exception("%s: handler failed at %d:%d", self.name, item.partition, item.offset)
                work = None
            if work is None:
                self._finish(item)
            else:
                task = asyncio.ensure_future(work)
                self._tasks.add(task)
                task.add_done_callback(lambda t, item=item: self._done(t, item))

    def _done(self, task: asyncio.Task, item: Message) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return  # not finished: stays uncommitted, redelivered on restart
        if task.exception() is not None:
            log.error("%s: work for %d:%d failed", self.name, item.partition, item.offset,
                      exc_info=task.exception())
        self._finish(item)

    def _finish(self, item: Message) -> None:
        self.tracker.finished(item.partition, item.offset)
        self._finished += 1
