"""Creates the catalogue's topics on a broker, and refuses existing ones that disagree with it."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from schemas.topics import ALL_TOPICS, Cleanup, TopicSpec

if TYPE_CHECKING:
    from base.settings import Settings


class TopicMismatch(RuntimeError):
    """An existing topic disagrees with the catalogue; okrate refuses to start on it."""

    def __init__(self, topic: str, setting: str, expected: object, actual: object):
        self.topic, self.setting, self.expected, self.actual = topic, setting, expected, actual
        hint = " (changing it re-homes keys: migrate to new topics instead)" if setting == "partitions" else ""
        super().__init__(
            f"topic {topic!r} has {setting}={actual}, but okrate's catalogue says {expected}{hint}"
        )


class TopicCreationFailed(RuntimeError):
    def __init__(self, topic: str, error: object):
        self.topic = topic
        super().__init__(f"could not create topic {topic!r}: {error}")


def ensure_topics(
    bootstrap_servers: str, settings: Settings, topics: Sequence[TopicSpec] = ALL_TOPICS,
    *, timeout: float = 30.0,
) -> list[str]:
    """Creates the missing topics; raises `TopicMismatch` naming an existing topic whose partition
    count or cleanup policy disagrees. Returns the names created (with prefix)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    wanted = {spec.full_name(settings): spec for spec in topics}
    existing = _partition_counts(admin, timeout)
    present = [name for name in wanted if name in existing]
    for name in present:
        _check_partitions(name, wanted[name], existing[name], settings)
    _check_cleanup_policies(admin, {name: wanted[name] for name in present}, timeout)

    missing = [name for name in wanted if name not in existing]
    if not missing:
        return []
    new_topics = [
        # replication_factor=-1: the broker's default.replication.factor (1 on the local broker).
        NewTopic(name, num_partitions=wanted[name].partitions(settings), replication_factor=-1,
                 config=wanted[name].configs(settings))
        for name in missing
    ]
    created: list[str] = []
    raced: list[str] = []
    for name, future in admin.create_topics(
        new_topics, operation_timeout=timeout, request_timeout=timeout
    ).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                raced.append(name)  # another service created it meanwhile: check it like any other
            else:
                raise TopicCreationFailed(name, exc.args[0] if exc.args else exc) from exc
    # Wait until the new topics are in the metadata, so that producing to them works at once.
    counts = _partition_counts(admin, timeout, awaited=created + raced)
    for name in raced:
        _check_partitions(name, wanted[name], counts.get(name, 0), settings)
    return [name for name in wanted if name in created]


def _partition_counts(
    admin: AdminClient, timeout: float, awaited: Collection[str] = ()
) -> dict[str, int]:
    """Partition counts by topic. A topic just created (here or by another service) may show no
    partitions for a moment: wait until the `awaited` ones and every listed one have theirs."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        counts = {name: len(t.partitions) for name, t in topics.items() if t.error is None}
        settling = [n for n in topics if counts.get(n, 0) == 0] + [n for n in awaited if n not in counts]
        if not settling or time.monotonic() > deadline:
            return counts
        time.sleep(0.1)


def _check_partitions(name: str, spec: TopicSpec, actual: int, settings: Settings) -> None:
    if actual != spec.partitions(settings):
        raise TopicMismatch(name, "partitions", spec.partitions(settings), actual)


def _check_cleanup_policies(admin: AdminClient, specs: dict[str, TopicSpec], timeout: float) -> None:
    # A compacted topic that deletes would lose the latest state of old keys; one that compacts an
    # event topic would lose history.
    if not specs:
        return
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in specs]
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entry = future.result().get("cleanup.policy")
        actual = entry.value if entry is not None else Cleanup.DELETE.value
        expected = specs[resource.name].cleanup
        compacts = "compact" in (actual or "").split(",")
        if compacts != (expected is Cleanup.COMPACT):
            raise TopicMismatch(resource.name, "cleanup.policy", expected.value, actual)
