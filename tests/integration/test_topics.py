"""The catalogue's topics on the real broker: created with the documented settings, a partition
count or cleanup policy that disagrees refused by name, and records through a topic."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from base.kafka_clients import consumer_config, producer_config
from base.settings import load_settings
from base.topic_admin import TopicMismatch, ensure_topics
from schemas.codec import encode
from schemas.deadletter import dead_letter_message, decode_or_deadletter
from schemas.keys import issue_key
from schemas.records import DeadLetter, IssueEvent, utc_now
from schemas.topics import (
    ALL_TOPICS,
    CONTACT_LINKS,
    DEADLETTER,
    INTERNAL_TOPICS,
    ISSUE_EVENTS,
    Cleanup,
)

pytestmark = pytest.mark.kafka


def _describe(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in names])
    return {r.name: {k: v.value for k, v in f.result().items()} for r, f in futures.items()}


def _partitions(bootstrap: str) -> dict[str, int]:
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
    return {name: len(t.partitions) for name, t in topics.items()}


def _await_partitions(bootstrap: str, name: str) -> None:
    deadline = time.monotonic() + 30
    while _partitions(bootstrap).get(name, 0) == 0:
        assert time.monotonic() < deadline, f"{name} never showed its partitions"
        time.sleep(0.1)


def _create(bootstrap: str, name: str, partitions: int, config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1, config=config or {})]).values():
        future.result(timeout=30)
    _await_partitions(bootstrap, name)


def test_the_catalogue_is_created_with_the_documented_settings(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = load_settings(topic_prefix=topic_prefix)
    created = ensure_topics(kafka_bootstrap, settings)
    names = [spec.full_name(settings) for spec in ALL_TOPICS]
    assert created == names
    partitions = _partitions(kafka_bootstrap)
    configs = _describe(kafka_bootstrap, names)
    for spec in ALL_TOPICS:
        name = spec.full_name(settings)
        assert partitions[name] == settings.topic_partitions == 8
        assert configs[name]["cleanup.policy"] == spec.cleanup.value
        for key, value in spec.configs(settings).items():
            assert configs[name][key] == value, (name, key)
        if spec.cleanup is Cleanup.DELETE and spec not in INTERNAL_TOPICS:
            assert configs[name]["retention.ms"] == "-1"  # the event topics keep everything
    assert configs[DEADLETTER.full_name(settings)]["max.message.bytes"] == str(4 * 1024 * 1024)
    assert ensure_topics(kafka_bootstrap, settings) == []  # a second start creates nothing


def test_retention_and_partitions_are_configurable(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = load_settings(topic_prefix=topic_prefix, topic_partitions=3,
                             topic_retention=timedelta(days=3))
    ensure_topics(kafka_bootstrap, settings, [ISSUE_EVENTS, CONTACT_LINKS])
    name = ISSUE_EVENTS.full_name(settings)
    assert _partitions(kafka_bootstrap)[name] == 3
    assert _describe(kafka_bootstrap, [name])[name]["retention.ms"] == str(3 * 24 * 3600 * 1000)


def test_a_partition_count_that_disagrees_is_refused_by_name(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = load_settings(topic_prefix=topic_prefix)
    wrong = ISSUE_EVENTS.full_name(settings)
    _create(kafka_bootstrap, wrong, 3)
    with pytest.raises(TopicMismatch, match=f"'{wrong}' has partitions=3") as error:
        ensure_topics(kafka_bootstrap, settings)
    assert (error.value.topic, error.value.expected, error.value.actual) == (wrong, 8, 3)
    # refused before anything was created
    assert not [n for n in _partitions(kafka_bootstrap) if n.startswith(topic_prefix) and n != wrong]


def test_a_compacted_topic_that_deletes_is_refused_by_name(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = load_settings(topic_prefix=topic_prefix)
    wrong = CONTACT_LINKS.full_name(settings)
    _create(kafka_bootstrap, wrong, 8, {"cleanup.policy": "delete"})
    with pytest.raises(TopicMismatch, match=f"'{wrong}' has cleanup.policy=delete"):
        ensure_topics(kafka_bootstrap, settings)


def test_a_record_and_an_undecodable_message_through_the_broker(kafka_bootstrap: str, topic_prefix: str, unique_id: str) -> None:
    settings = load_settings(topic_prefix=topic_prefix)
    ensure_topics(kafka_bootstrap, settings, [ISSUE_EVENTS, DEADLETTER])
    topic = ISSUE_EVENTS.full_name(settings)
    event = IssueEvent(event_id="okdesk.events:0:1", kind="status_changed", dialect="okdesk",
                       issue_id="1380", event_time=utc_now(), delivery_id="d-1",
                       source_topic="okdesk.events", source_partition=0, source_offset=1,
                       new_status_code="completed")
    producer = Producer(producer_config(kafka_bootstrap))
    producer.produce(topic, key=issue_key("1380"), value=b"\xc3\x01garbage")
    producer.produce(topic, key=issue_key("1380"), value=encode(event))
    assert producer.flush(30) == 0

    consumer = Consumer(consumer_config(kafka_bootstrap, f"g-{unique_id}"))
    consumer.subscribe([topic])
    outcomes = []
    try:
        while len(outcomes) < 2:
            message = consumer.poll(30)
            assert message is not None, "nothing consumed within 30 s"
            assert message.error() is None, message.error()
            outcomes.append(decode_or_deadletter(
                message.value(), key=message.key(), topic=message.topic(),
                partition=message.partition(), offset=message.offset(), expected=(IssueEvent,)))
    finally:
        consumer.close()
    letter, good = outcomes[0].dead_letter, outcomes[1].record
    assert good == event
    assert isinstance(letter, DeadLetter) and letter.reason == "truncated"
    assert (letter.source_topic, letter.source_offset, letter.source_key) == (topic, 0, b"1380")
    key, value = dead_letter_message(letter)
    producer.produce(DEADLETTER.full_name(settings), key=key, value=value)
    assert producer.flush(30) == 0
