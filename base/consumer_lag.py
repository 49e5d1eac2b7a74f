"""How far a consumer group is behind: per topic, the messages between its committed offsets and
the topics' ends (what `okrate status` and the `/metrics` pages report)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from base.kafka_clients import consumer_config


def _high_watermark(consumer: Consumer, topic: str, partition: int, timeout: float = 30.0) -> int:
    """A partition's end; retried while a new topic's leadership settles (NOT_LEADER_FOR_PARTITION)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1]
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def end_offsets(bootstrap: str, topics: Iterable[str], reader: str | None = None) -> dict[TopicPartition, int]:
    """`reader`: the group id of the one-off consumer that asks (it commits nothing), the
    deployment's (`base.names.reader_group`); `okrate-offsets-<random>` when not given."""
    consumer = Consumer(consumer_config(bootstrap, reader or f"okrate-offsets-{uuid.uuid4().hex[:8]}"))
    try:
        ends = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
            if metadata is None or metadata.error is not None:
                continue
            for partition in metadata.partitions:
                ends[TopicPartition(topic, partition)] = _high_watermark(consumer, topic, partition)
        return ends
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, partitions: Iterable[TopicPartition]) -> dict[tuple[str, int], int]:
    """The group's committed offsets (0 where it has none)."""
    wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
    if not wanted:
        return {}
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, wanted)])[group].result()
    return {(tp.topic, tp.partition): max(tp.offset, 0) for tp in result.topic_partitions}


def group_lag(bootstrap: str, group: str, topics: Iterable[str], reader: str | None = None) -> dict[str, int]:
    """Per topic, how many messages the group has not committed yet."""
    ends = end_offsets(bootstrap, topics, reader)
    try:
        done = committed(bootstrap, group, ends)
    except KafkaException:
        done = {}
    lag: dict[str, int] = {}
    for tp, end in ends.items():
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - done.get((tp.topic, tp.partition), 0))
    return lag
