"""The topic catalogue, without a broker: names, keys, configs, and the README's table."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from base.settings import load_settings
from schemas import keys
from schemas.records import RECORD_TYPES
from schemas.topics import (
    ALL_TOPICS,
    CATALOGUE,
    CONTACT_LINKS,
    DEADLETTER,
    INTERNAL_TOPICS,
    ISSUE_EVENTS,
    OKDESK_EVENTS,
    REQUESTS_BY_CONTACT,
    Cleanup,
    carriers_of,
    catalogue_markdown,
    repartition_topic,
    retention_ms,
    topic_spec,
)

REPO = Path(__file__).resolve().parents[2]

ISSUE_TABLE = {  # the issue's table: topic -> key
    "okdesk.events": "issue id",
    "telegram.updates": "chat id",
    "issue.events": "issue id",
    "rating.requested": "issue id",
    "rating.received": "issue id",
    "rating.recorded": "issue id",
    "notifier.outcomes": "issue id",
    "contact.links": "contact id",
    "bot.state": "`chat:<id>` / `invite:<token>`",
    "rating.stats": "dimension",
    "okrate.deadletter": "source key",
}
COMPACTED = {"contact.links", "bot.state", "rating.stats"}


def test_the_catalogue_is_the_issues_table() -> None:
    assert {spec.name: spec.key for spec in CATALOGUE} == ISSUE_TABLE
    assert {spec.name for spec in CATALOGUE if spec.cleanup is Cleanup.COMPACT} == COMPACTED
    assert len({spec.name for spec in ALL_TOPICS}) == len(ALL_TOPICS)


def test_every_record_type_has_a_topic_and_every_topic_a_record_type() -> None:
    for record_type in RECORD_TYPES:
        assert carriers_of(record_type), record_type.__name__
    assert all(spec.carries for spec in ALL_TOPICS)


def test_event_topics_keep_their_data_forever_by_default() -> None:
    settings = load_settings(topic_prefix="")
    for spec in CATALOGUE:
        configs = spec.configs(settings)
        assert configs["cleanup.policy"] == spec.cleanup.value
        if spec.cleanup is Cleanup.DELETE:
            assert configs["retention.ms"] == "-1"
        else:
            assert "retention.ms" not in configs


def test_retention_and_partitions_come_from_the_settings() -> None:
    settings = load_settings(topic_prefix="scratch-", topic_partitions=12, topic_retention="30d")
    assert ISSUE_EVENTS.configs(settings)["retention.ms"] == str(30 * 24 * 3600 * 1000)
    assert ISSUE_EVENTS.full_name(settings) == "scratch-issue.events"
    assert {spec.partitions(settings) for spec in ALL_TOPICS} == {12}
    assert retention_ms(None) == -1 and retention_ms(timedelta(milliseconds=1500)) == 1500


def test_raw_topics_take_a_whole_webhook_body() -> None:
    settings = load_settings()
    for spec in (OKDESK_EVENTS, DEADLETTER):
        assert int(spec.configs(settings)["max.message.bytes"]) > 2 * settings.webhook_max_bytes


def test_repartition_topics_follow_the_naming_and_partition_rule() -> None:
    settings = load_settings(topic_prefix="p-", topic_partitions=5)
    assert REQUESTS_BY_CONTACT.full_name(settings) == "p-okrate-streams.requests.by-contact"
    rebuild = repartition_topic("stats", "dimension", carries=(), key="dimension",
                                application="okrate-rebuild-7")
    assert rebuild.name == "okrate-rebuild-7.stats.by-dimension"
    assert rebuild.partitions(settings) == CONTACT_LINKS.partitions(settings) == 5
    assert all(int(t.configs(settings)["retention.ms"]) > 0 for t in INTERNAL_TOPICS)


def test_topic_spec_finds_a_topic_by_name() -> None:
    assert topic_spec("issue.events") is ISSUE_EVENTS
    with pytest.raises(KeyError, match="not in okrate's topic catalogue"):
        topic_spec("issue.event")


def test_the_readme_shows_the_catalogue_as_it_is() -> None:
    readme = (REPO / "schemas" / "README.md").read_text(encoding="utf-8")
    assert catalogue_markdown() in readme
    for spec in ALL_TOPICS:
        assert f"| `{spec.name}` |" in catalogue_markdown()


def test_keys_are_raw_utf8_strings() -> None:
    assert keys.issue_key(1380) == keys.issue_key("1380") == keys.issue_key(" 1380 ") == b"1380"
    assert keys.contact_key("95") == b"95"
    assert keys.chat_key(-100123) == b"-100123"
    assert keys.conversation_key(42) == b"chat:42"
    assert keys.invite_key("Ab_9-x") == b"invite:Ab_9-x"
    assert keys.dimension_key("week:2026-W48") == b"week:2026-W48"
    with pytest.raises(TypeError):
        keys.okdesk_id(True)
