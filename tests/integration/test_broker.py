"""The real broker: confluent-kafka and Faust agree on partitions, and a Faust agent consumes."""

from __future__ import annotations

import asyncio

import faust
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from base.kafka_clients import producer_config

PARTITIONS = 8
KEYS = [str(n) for n in [1380, 1, 2, 95, 147, 9999, 123456]] + [f"issue-{n}" for n in range(40)]


def _create(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, PARTITIONS, 1)]).values():
        future.result(timeout=30)


def _produce_confluent(bootstrap: str, topic: str) -> dict[str, int]:
    placed: dict[str, int] = {}

    def delivered(err, msg) -> None:
        assert err is None, err
        placed[msg.key().decode()] = msg.partition()

    producer = Producer(producer_config(bootstrap))
    for key in KEYS:
        producer.produce(topic, key=key.encode(), value=b"from-confluent", on_delivery=delivered)
    assert producer.flush(30) == 0
    return placed


def _faust_app(bootstrap: str, app_id: str, data_dir) -> faust.App:
    return faust.App(
        app_id, broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False,
        datadir=str(data_dir), key_serializer="raw", value_serializer="raw",
        topic_partitions=PARTITIONS, consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5, consumer_metadata_max_age_ms=2000,
        producer_metadata_max_age_ms=2000,
    )


async def test_faust_and_confluent_agree_on_partitions_and_faust_consumes(kafka_bootstrap, topic_prefix, unique_id, data_dir):
    topic_name = f"{topic_prefix}partitions"
    _create(kafka_bootstrap, topic_name)
    placed_by_confluent = await asyncio.to_thread(_produce_confluent, kafka_bootstrap, topic_name)

    app = _faust_app(kafka_bootstrap, f"okrate-test-{unique_id}", data_dir)
    topic = app.topic(topic_name, partitions=PARTITIONS)
    consumed: dict[str, int] = {}
    done = asyncio.Event()

    @app.agent(topic)
    async def collect(stream):
        async for event in stream.events():
            if event.value == b"from-confluent":
                consumed[event.key.decode()] = event.message.partition
                if len(consumed) == len(KEYS):
                    done.set()

    await app.start()
    try:
        placed_by_faust = {}
        for key in KEYS:
            metadata = await (await topic.send(key=key.encode(), value=b"from-faust"))
            placed_by_faust[key] = metadata.partition
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await app.stop()

    assert consumed == placed_by_confluent
    assert placed_by_faust == placed_by_confluent
    assert len(set(placed_by_confluent.values())) > 1, "keys should spread over partitions"
