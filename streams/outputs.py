"""The agents' outputs: one librdkafka producer (idempotent, acks=all) instead of Faust's send path,
and the at-least-once barrier that makes it safe.

Why. A Faust `topic.send()` costs about 170 µs of the event loop, a confluent-kafka `produce()`
about 25 µs (measured: `bench streams`' bare agents). The agents' outputs go through here, and so
do the changelogs of the agents' own tables (`streams.app.OutputTable`): their records are
produced with the outputs of the event that wrote them, inside the same barrier.

The barrier. An agent's stream does not ack by itself (`noack`). After an event is processed its
outputs are handed to `emit`, which produces them and queues the event behind every event of the
same input partition still waiting. The event is acked only when the broker has acknowledged all
of its outputs *and* every event before it in its partition has been acked, so Faust never
commits an input offset past an output that is not stored (Faust commits the acked prefix of a
partition, but may skip over a hole at the very start: acks are therefore given strictly in
order). A kill at any point leaves the unacked events to be delivered again, and the deciders
make a redelivery emit what it emitted before, with the same ids. A delivery that fails after
librdkafka's own retries stops the worker: a later output must not be stored past a lost one.

Two producers. What a client or Okdesk waits on (`prompt_topics`: requests, presses, recorded
ratings) lingers 20 ms; everything else (table changelogs, issue events, the contacts' side's
copies, statistics, ticks) lingers 100 ms. librdkafka sends a produce request per partition whose
batch is due, and the broker's cost is per request. Measured during `bench streams` (the broker's
JMX counters): at 20 ms for every topic a worker made 144 produce requests per 1,000 events (the
contacts' copies alone, spread over every partition, 80), and with two workers on 2 cores the
broker's request threads took 27 % of a core; split, 52 per 1,000 events and 14 % (README, "Known
limits"). A topic always goes through the same producer, so each partition keeps its order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Producer

from base.kafka_clients import producer_config

log = logging.getLogger("okrate.streams.outputs")

POLL_EVERY_S = 0.005
PROMPT_LINGER_MS = 20
BATCH_LINGER_MS = 100


def _new_producer(bootstrap: str, linger_ms: int, config: dict[str, Any]) -> Producer:
    return Producer(producer_config(bootstrap, **{
        "linger.ms": linger_ms, "batch.num.messages": 10_000, "message.max.bytes": 8 * 1024 * 1024,
        "queue.buffering.max.messages": 200_000, **config}))


@dataclass
class Waiting:
    """An input event whose outputs are in flight."""

    event: Any
    outstanding: int
    failed: str | None = None


@dataclass
class OrderedAcks:
    """Per input partition, the events in the order they were processed; `ready` pops the
    prefix whose outputs have all been delivered (pure: no Kafka, unit-tested)."""

    queues: dict[Any, deque[Waiting]] = field(default_factory=dict)

    def add(self, tp: Any, waiting: Waiting) -> None:
        self.queues.setdefault(tp, deque()).append(waiting)

    def ready(self) -> list[Waiting]:
        out: list[Waiting] = []
        for queue in self.queues.values():
            while queue and queue[0].outstanding == 0:
                out.append(queue.popleft())
        return out

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())


Output = tuple[str, bytes | None, bytes]  # topic name, key, value


class Outputs:
    """One per worker. `emit(stream, event, outputs)` from the agents; `drain()` before Faust waits
    for in-flight events (a rebalance, a shutdown); `start()`/`stop()` with the app."""

    def __init__(self, bootstrap: str, *, crash: Callable[[BaseException], Awaitable[None]],
                 prompt_topics: Collection[str], **config: Any):
        # 20 ms of batching for what someone waits on. A produce() into a partition queue that
        # librdkafka's broker thread just emptied costs the event loop far more than one into a
        # filling batch: measured on a paced loop (one produce per 150 µs, as here), about 30 µs a
        # call at 5 ms, 4-20 µs at 20 ms; `bench streams` one worker +8 % (0.57-0.60 × the bare
        # step against 0.49-0.53 at 5 ms). The cost is latency: up to 20 ms (`bench e2e`).
        self._prompt = _new_producer(bootstrap, PROMPT_LINGER_MS, config)
        self._batch = _new_producer(bootstrap, BATCH_LINGER_MS, config)  # the rest: see the module's doc
        self._prompt_topics = frozenset(prompt_topics)
        self._crash = crash
        self._acks = OrderedAcks()
        self._streams: dict[Any, Any] = {}  # tp -> the stream that acks its events
        # Table changelog records written while an event is processed, by id(event): produced with
        # the event's outputs (`stage`).
        self._staged: dict[int, tuple[Any, list[tuple[str, int, bytes, bytes | None, Callable[[Any], None]]]]] = {}
        self._poller: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        if self._poller is None:
            self._poller = asyncio.ensure_future(self._poll_forever())

    async def stop(self) -> None:
        self._stopping = True
        await self.drain()
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None

    def produce(self, topic: str, key: bytes | None, value: bytes | None, waiting: Waiting | None = None,
                then: Callable[[], None] | None = None, *, partition: int = -1,
                stored: Callable[[Any], None] | None = None) -> None:
        """`partition` -1: the partitioner's choice; `stored(message)` once the broker stored it."""
        def delivered(err: KafkaError | None, msg: Any) -> None:
            if stored is not None and err is None:
                stored(msg)
            if waiting is None:
                return
            waiting.outstanding -= 1
            if err is not None:
                waiting.failed = f"{topic}: {err}"
            if then is not None and waiting.outstanding == 0:
                then()

        producer = self._prompt if topic in self._prompt_topics else self._batch
        while True:
            try:
                producer.produce(topic, key=key, value=value, partition=partition, on_delivery=delivered)
                return
            except BufferError:  # librdkafka's queue is full: let deliveries drain it
                producer.poll(0.05)

    def stage(self, event: Any, topic: str, partition: int, key: bytes, value: bytes | None,
              stored: Callable[[Any], None]) -> None:
        """A table's changelog record, written while `event` is processed (`streams.app.
        OutputTable`): produced by the event's `emit`, so that the event is acked only once its
        table writes are stored as well as its outputs."""
        entry = self._staged.get(id(event))
        if entry is None or entry[0] is not event:
            entry = self._staged[id(event)] = (event, [])
        entry[1].append((topic, partition, key, value, stored))

    async def emit(self, stream: Any, event: Any, outputs: Iterable[Output], *, held: bool = False) -> Waiting:
        """Produce the event's outputs (and its staged table writes); the event is acked on
        `stream` once they are stored. With `held`, also once `release` was called for it
        (outputs batched elsewhere: statistics)."""
        tp = event.message.tp
        self._streams[tp] = stream
        waiting = Waiting(event, 1 if held else 0)
        staged = self._staged.pop(id(event), None)
        if staged is not None and staged[0] is event:
            for topic, partition, key, value, stored in staged[1]:
                waiting.outstanding += 1
                self.produce(topic, key, value, waiting, partition=partition, stored=stored)
        for topic, key, value in outputs:
            waiting.outstanding += 1
            self.produce(topic, key, value, waiting)
        self._acks.add(tp, waiting)
        self._poll()
        await self._settle()
        return waiting

    def release(self, held: list[Waiting], outputs: list[Output]) -> None:
        """Produce a batch of outputs made on behalf of `held` events; each is released (and
        acked in its turn) once the whole batch is stored."""
        if not outputs:
            for waiting in held:
                waiting.outstanding -= 1
            return
        batch = Waiting(None, len(outputs))

        def stored(_: Waiting = batch) -> None:
            for waiting in held:
                waiting.failed = waiting.failed or batch.failed
                waiting.outstanding -= 1

        for topic, key, value in outputs:
            self.produce(topic, key, value, batch, then=stored)

    async def _settle(self) -> None:
        for waiting in self._acks.ready():
            if waiting.failed is not None:
                exc = RuntimeError(f"an output was not stored ({waiting.failed})")
                log.critical("%s: stopping the worker; its unacked inputs are delivered again", exc)
                await self._crash(exc)
                return
            await self._streams[waiting.event.message.tp].ack(waiting.event)

    async def drain(self, timeout: float = 60.0) -> None:
        """Every output delivered and every event acked (or the worker stopped)."""
        remaining = await asyncio.to_thread(self._flush, timeout)
        if remaining:
            log.error("%d outputs not acknowledged by the broker in %.0f s", remaining, timeout)
        await self._settle()

    def _poll(self) -> None:
        self._prompt.poll(0)
        self._batch.poll(0)

    def _flush(self, timeout: float) -> int:
        """Messages still undelivered after flushing both producers, within `timeout` in all."""
        deadline = time.monotonic() + timeout
        first = self._prompt.flush(timeout)
        return first + self._batch.flush(max(0.0, deadline - time.monotonic()))

    def pending(self) -> int:
        return len(self._acks)

    async def _poll_forever(self) -> None:
        # The agents poll after every event; this covers the idle moments in between.
        while not self._stopping:
            await asyncio.sleep(POLL_EVERY_S)
            try:
                self._poll()
                await self._settle()
            except Exception as exc:  # the poller must not die silently: nothing would be acked
                log.exception("outputs poller failed: stopping the worker")
                await self._crash(exc)
                return
