"""Configuration shared by every Kafka client okrate makes, so that they agree on partitions."""

from __future__ import annotations

from typing import Any


def producer_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """confluent-kafka producer settings used everywhere in okrate.

    murmur2_random is the Java client's and aiokafka's (so Faust's) partitioner: with raw UTF-8
    keys, one issue id lands on the same partition number in every topic, whoever wrote it.
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 2,
        "compression.type": "lz4",
        "log_level": 3,
    }
    config.update(extra)
    return config


def consumer_config(bootstrap: str, group_id: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "log_level": 3,
    }
    config.update(extra)
    return config
