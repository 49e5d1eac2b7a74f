"""`okrate rename --from-prefix OLD`: a stopped deployment's topics copied under new names, each
message on its partition number with its key, value and timestamp; refused over used names."""

from __future__ import annotations

import pytest

from base.settings import load_settings
from base.topic_reader import read_to_end
from okrate.rename import copy_deployment
from okrate.replay import ReplayError
from schemas.topics import CATALOGUE, CONTACT_LINKS, OKDESK_EVENTS, RATING_REQUESTED
from tests.conftest import _delete_topics_with_prefix
from tests.integration.test_streams_requests import link, okdesk_status
from tests.notifier.conftest import request
from tests.streams_harness import Feeder


def contents(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes | None, int]]:
    return sorted((m.partition, m.key, m.value, m.timestamp_ms) for m in read_to_end(bootstrap, topic))


@pytest.fixture
def renamed(settings_for, kafka_bootstrap, topic_prefix):
    new_prefix = f"{topic_prefix}new-"  # cleaned with the test's own prefix
    yield load_settings(_env_file=None, kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=new_prefix,
                        topic_partitions=4)
    _delete_topics_with_prefix(kafka_bootstrap, new_prefix)


def test_a_rename_copies_every_topic_partition_by_partition(settings_for, kafka_bootstrap, renamed):
    old = settings_for()
    feed = Feeder(old, kafka_bootstrap)
    for issue in range(300, 320):
        feed.webhook(str(issue), okdesk_status(issue, "completed", "opened"))
    feed.record(CONTACT_LINKS, "95", link("95", 555))
    feed.record(RATING_REQUESTED, "300", request(300))

    copied = copy_deployment(renamed, kafka_bootstrap, old.topic_prefix)

    assert copied[OKDESK_EVENTS.full_name(renamed)] == 20
    assert copied[CONTACT_LINKS.full_name(renamed)] == 1
    for spec in CATALOGUE:
        before, after = contents(kafka_bootstrap, spec.full_name(old)), contents(kafka_bootstrap, spec.full_name(renamed))
        assert before == after, spec.name
    # a second run would copy everything twice: refused, by the names that hold messages
    with pytest.raises(ReplayError, match="already hold messages"):
        copy_deployment(renamed, kafka_bootstrap, old.topic_prefix)
