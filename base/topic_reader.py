"""Reading a topic from its beginning to its current end: for operators' commands and exports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from base.kafka_clients import consumer_config


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp_ms: int


def watermarks(consumer: Consumer, topic: str, partition: int, timeout: float) -> tuple[int, int]:
    """(low, high) of a partition; retried while the broker is not answering, for `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_to_end(bootstrap: str, topic: str, *, timeout: float = 30.0,
                progress: Callable[[int, int], None] | None = None, group: str | None = None) -> Iterator[Message]:
    """Every message now in `topic`, partition by partition; `progress(done, total)` as it goes.
    Uses no consumer group offsets: it assigns partitions itself and commits nothing. `group`: the
    deployment's reader id (`base.names.reader_group`), `okrate-reader-<random>` when not given."""
    consumer = Consumer(consumer_config(bootstrap, group or f"okrate-reader-{uuid.uuid4().hex[:8]}"))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise KafkaException(f"topic {topic} does not exist")
        ranges = {}
        for partition in metadata.partitions:
            low, high = watermarks(consumer, topic, partition, timeout)
            if high > low:
                ranges[partition] = (low, high)
        total, done = sum(h - lo for lo, h in ranges.values()), 0
        if not ranges:
            return
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ranges.items()])
        remaining = {p: high for p, (_, high) in ranges.items()}
        while remaining:
            msg = consumer.poll(timeout)
            if msg is None:
                raise TimeoutError(f"no message from {topic} within {timeout:g}s")
            if msg.error():
                continue
            if msg.partition() not in remaining:
                continue
            done += 1
            yield Message(msg.key(), msg.value(), msg.partition(), msg.offset(), msg.timestamp()[1])
            if progress is not None and (done % 1000 == 0 or done == total):
                progress(done, total)
            if msg.offset() + 1 >= remaining[msg.partition()]:
                del remaining[msg.partition()]
    finally:
        consumer.close()
