"""Reading and writing topics in tests, with plain confluent-kafka clients."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


@dataclass(frozen=True)
class Read:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


def create_topics(bootstrap: str, *names: str, partitions: int = 8) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(30)


def _watermarks(consumer: Consumer, topic: str, partition: int, timeout: float) -> tuple[int, int]:
    """A topic created a moment ago may have no leader yet: ask again for a while."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
        except KafkaException as exc:
            if (not exc.args[0].retriable() and "leader" not in str(exc).lower()) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_topic(bootstrap: str, topic: str, timeout: float = 20.0) -> list[Read]:
    """Everything in `topic` up to its current end, in partition then offset order."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "okrate-tests-reader",
                         "enable.auto.commit": False, "log_level": 3})
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
        ends = {}
        for p in meta.partitions:
            low, high = _watermarks(consumer, topic, p, timeout)
            if high > low:
                ends[p] = (low, high)
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items()])
        out: list[Read] = []
        remaining = {p: high for p, (_, high) in ends.items()}
        while remaining:
            msg = consumer.poll(timeout)
            assert msg is not None, f"timed out reading {topic}"
            if msg.error():
                continue
            out.append(Read(msg.key(), msg.value(), msg.partition(), msg.offset()))
            if msg.offset() + 1 >= remaining.get(msg.partition(), 0):
                remaining.pop(msg.partition(), None)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def count_messages(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "okrate-tests-counter", "log_level": 3})
    try:
        meta = consumer.list_topics(topic, timeout=20).topics[topic]
        total = 0
        for p in meta.partitions:
            low, high = _watermarks(consumer, topic, p, 20)
            total += high - low
        return total
    finally:
        consumer.close()


def group_behind(bootstrap: str, group: str, topics: set[str] | None = None,
                 timeout: float = 20.0, own: bool = True) -> dict[tuple[str, int], int]:
    """Per partition of `topics` (and of the group's own repartition topics, whose names start with
    the group id, unless `own` is False; None: every topic the group has committed on): how far the group's committed
    offset is behind the partition's end. Empty when the group has consumed (and committed)
    everything there is."""
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]).values()
    committed = {(tp.topic, tp.partition): tp.offset for tp in future.result(timeout).topic_partitions}
    wanted = {key for key in committed
              if topics is None or key[0] in topics or (own and key[0].startswith(group))}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "okrate-tests-reader", "log_level": 3})
    try:
        for topic in topics or ():
            meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
            wanted |= {(topic, p) for p in meta.partitions}
        behind = {}
        for topic, partition in sorted(wanted):
            _, high = _watermarks(consumer, topic, partition, timeout)
            offset = committed.get((topic, partition), -1)
            if high > 0 and offset < high:
                behind[(topic, partition)] = high - max(offset, 0)
        return behind
    finally:
        consumer.close()


async def caught_up(bootstrap: str, group: str, topics: set[str] | None = None, within: float = 60.0,
                    own: bool = True) -> None:
    """Waits until `group` has consumed and committed everything in `topics` (see `group_behind`);
    fails the test, saying what is left, if it has not within `within` seconds."""
    import asyncio

    behind: dict[tuple[str, int], int] = {}
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        behind = await asyncio.to_thread(group_behind, bootstrap, group, topics, 20.0, own)
        if not behind:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"group {group} did not reach the end of its topics within {within} s: {behind}")


def raw_topics(settings) -> set[str]:
    """The topics a rewind moves the streams back on (what `okrate replay` re-reads)."""
    from okrate.replay import RAW_TOPICS

    return {spec.full_name(settings) for spec in RAW_TOPICS}
