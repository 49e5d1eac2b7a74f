"""What a deployment owns on the cluster is named from TOPIC_PREFIX (base.names); no prefix keeps
the names every existing installation already has on its cluster and disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from base import names
from base.settings import ConfigError, load_settings
from notifier.service import group_id
from okrate.replay import scratch_prefix_for
from okrate.settings_doc import settings_summary
from schemas.topics import ALL_TOPICS, CATALOGUE, INTERNAL_TOPICS
from streams.agents import register_all
from streams.agents.stats import by_dimension_topic
from streams.app import StreamsApp, StreamsConfig


def settings(**values):
    return load_settings(_env_file=None, **values)


def changelogs(s, tmp_path: Path, app_id: str | None = None) -> set[str]:
    """The changelog topics Faust itself gives the app's tables (nothing is started)."""
    app = StreamsApp(StreamsConfig(settings=s, bootstrap="127.0.0.1:1", app_id=app_id, data_dir=tmp_path))
    register_all(app)
    return {table.changelog_topic.get_topic_name() for table in app.faust.tables.values()}


def test_no_prefix_keeps_todays_names_exactly(tmp_path):
    s = settings()
    assert [spec.full_name(s) for spec in CATALOGUE] == [
        "okdesk.events", "telegram.updates", "issue.events", "rating.requested", "rating.received",
        "rating.recorded", "notifier.outcomes", "contact.links", "bot.state", "rating.stats", "okrate.deadletter"]
    assert [spec.full_name(s) for spec in INTERNAL_TOPICS] == [
        "okrate-streams.requests.by-contact", "okrate-streams.requests.by-issue",
        "okrate-streams.ticks.by-issue", "okrate-streams.stats.by-dimension"]
    assert names.streams_app_id(s) == "okrate-streams"
    assert {group_id(s, role) for role in names.NOTIFIER_ROLES} == {
        "okrate-notifier-callbacks", "okrate-notifier-requests", "okrate-notifier-decisions",
        "okrate-notifier-conversations"}
    assert names.group(s, "notifier-rebuild") == "okrate-notifier-rebuild"
    assert names.group(s, "follow-bot-state") == "okrate-follow-bot-state"
    assert names.streams_data_dir(s) == Path("var/streams")
    found = changelogs(s, tmp_path)
    assert "okrate-streams-issues-changelog" in found
    assert all(t.startswith("okrate-streams-") and t.endswith("-changelog") for t in found)
    assert all(names.is_application_topic("okrate-streams", t) for t in found)


def test_a_prefix_names_everything_the_deployment_owns(tmp_path):
    s = settings(topic_prefix="staging-")
    assert names.deployment(s) == "staging"
    assert all(spec.full_name(s).startswith("staging-") for spec in ALL_TOPICS)
    assert names.streams_app_id(s) == "staging-okrate-streams"
    assert all(group.startswith("staging-") for group in names.groups(s).values())
    assert names.reader_group(s, "export").startswith("staging-okrate-export-")
    assert names.streams_data_dir(s) == Path("var/staging/streams")
    found = changelogs(s, tmp_path)
    assert "staging-okrate-streams-issues-changelog" in found
    assert all(t.startswith("staging-okrate-streams-") for t in found)
    # the internal topics are the application's: `<app id>.<what>.by-<by>`, the catalogue's ones
    for spec in INTERNAL_TOPICS:
        assert spec.full_name(s).startswith(f"{names.streams_app_id(s)}.")


def test_the_statistics_repartition_topic_of_the_deployments_application_is_the_catalogues(tmp_path):
    s = settings(topic_prefix="acme-")
    app = StreamsApp(StreamsConfig(settings=s, bootstrap="127.0.0.1:1", data_dir=tmp_path))
    assert app.config.app_id == "acme-okrate-streams"
    assert by_dimension_topic(app).full_name(s) == "acme-okrate-streams.stats.by-dimension"
    # an application id of its own (STREAMS_APP_ID, a test) gets a topic of its own, under the prefix, once
    other = StreamsApp(StreamsConfig(settings=s, bootstrap="127.0.0.1:1", app_id="acme-okrate-v2", data_dir=tmp_path))
    assert by_dimension_topic(other).full_name(s) == "acme-okrate-v2.stats.by-dimension"


def test_streams_app_id_and_data_dir_stay_explicit_overrides():
    s = settings(topic_prefix="staging-", streams_app_id="legacy-app", streams_data_dir="/srv/okrate/tables")
    assert names.streams_app_id(s) == "legacy-app"
    assert names.groups(s)["streams"] == "legacy-app"
    assert names.streams_data_dir(s) == Path("/srv/okrate/tables")
    assert names.streams_app_id(settings(topic_prefix="staging-", streams_app_id="")) == "staging-okrate-streams"


def test_scratch_runs_are_deployments_inside_the_live_one():
    s = settings(topic_prefix="staging-", streams_app_id="legacy-app")
    prefix = scratch_prefix_for(s)
    assert prefix.startswith("staging-reprocess-") and prefix.endswith("-")
    assert prefix != scratch_prefix_for(s)  # two runs in one second do not meet
    scratch = names.scratch_settings(s, prefix)
    assert names.streams_app_id(scratch) == f"{prefix}okrate-streams"  # not the live override
    assert names.scratch_prefix(s, "stats-rebuild").startswith("staging-stats-rebuild-")


def test_ownership_is_exact_not_by_a_bare_prefix():
    staging = settings(topic_prefix="staging-")
    eu = settings(topic_prefix="staging-eu-")
    cluster = {spec.full_name(x) for x in (staging, eu) for spec in ALL_TOPICS}
    cluster |= {"staging-okrate-streams-issues-changelog", "staging-eu-okrate-streams-issues-changelog",
                "staging-okrate-streams-__assignor-__leader", "staging-reprocess-20261203-ab12-okdesk.events"}
    mine = names.owned_topics(staging, cluster)
    theirs = names.owned_topics(eu, cluster)
    assert not set(mine) & set(theirs)
    assert "staging-okrate-streams-issues-changelog" in mine and "staging-okrate-streams-__assignor-__leader" in mine
    assert names.scratch_topics(staging, cluster) == ["staging-reprocess-20261203-ab12-okdesk.events"]
    assert names.scratch_topics(eu, cluster) == []


@pytest.mark.parametrize("bad", ["with space-", "ütf-", "a/b-", "--"])
def test_a_prefix_kafka_cannot_name_is_refused_by_its_variable(bad):
    with pytest.raises(ConfigError) as caught:
        settings(topic_prefix=bad)
    assert "TOPIC_PREFIX" in str(caught.value)


def test_okrate_settings_shows_the_derived_names():
    text = settings_summary(settings(topic_prefix="acme-"))
    assert "deployment                         acme" in text
    for name in ("acme-okrate-streams", "acme-okrate-streams-<table>-changelog", "acme-okrate-notifier-requests",
                 "var/acme/streams", "acme-okdesk.events", "acme-okrate-streams.stats.by-dimension"):
        assert name in text


def test_okrate_status_shows_the_deployment_its_groups_and_topics():
    from okrate.status import Status, render

    text = render(Status(
        deployment="staging", topic_prefix="staging-",
        groups={"streams": {"group": "staging-okrate-streams", "state": "stable, 2 members"}},
        topics={"staging-okdesk.events": 8, "staging-okrate-streams-issues-changelog": 8},
        missing_topics=["staging-bot.state"], scratch_topics=3))
    lines = text.splitlines()
    assert lines[0] == "deployment: staging (TOPIC_PREFIX=staging-)"
    assert any("staging-okrate-streams" in line and "stable, 2 members" in line for line in lines)
    assert any("staging-okrate-streams-issues-changelog" in line and "8 partitions" in line for line in lines)
    assert "  not created yet: staging-bot.state" in lines
    assert "  scratch topics left by replays and rebuilds: 3" in lines
    assert render(Status(deployment=names.deployment(settings()))).startswith("deployment: the default one")
