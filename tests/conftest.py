"""The test session's real Kafka broker, and per-test isolation (topic prefix, group ids, dirs).

`KAFKA_BOOTSTRAP_SERVERS`, when set and reachable, is used as it is; otherwise a broker is
started for the session from the cached jars (`okrate kafka up`'s code) on a free port with a
throw-away data folder. A broker that cannot start fails the run: no Kafka test is ever skipped.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from bench.common import free_ports


def _free_port_pair() -> int:
    return free_ports(2)


@pytest.fixture(scope="session")
def local_broker(tmp_path_factory: pytest.TempPathFactory):
    """The broker this session started, or None when KAFKA_BOOTSTRAP_SERVERS named one."""
    from okrate.local_kafka import KafkaLaunchError, LocalKafka, broker_answers

    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        if not broker_answers(given, timeout=10):
            pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={given} does not answer", pytrace=False)
        yield None
        return
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), _free_port_pair())
    try:
        broker.up(log=lambda _msg: None)
    except KafkaLaunchError as exc:
        pytest.fail(f"the test broker could not start: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        import gc

        gc.collect()  # producers left to the collector disconnect while the broker still answers
        broker.down(log=lambda _msg: None)


@pytest.fixture(scope="session")
def kafka_bootstrap(local_broker) -> str:
    return local_broker.bootstrap if local_broker else os.environ["KAFKA_BOOTSTRAP_SERVERS"]


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def unique_id() -> str:
    """For group ids and Faust app ids."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings_for(kafka_bootstrap, topic_prefix):
    """Settings of an isolated test: its own topic prefix, the catalogue's topics created."""
    from base.settings import load_settings
    from base.topic_admin import ensure_topics

    def make(**overrides):
        # Fewer partitions than production's 8 keep the session broker light; still several, so
        # that keys spread and co-partitioning matters.
        overrides.setdefault("topic_partitions", 4)
        settings = load_settings(
            _env_file=None, kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix, **overrides
        )
        ensure_topics(kafka_bootstrap, settings)
        return settings

    yield make
    _delete_topics_with_prefix(kafka_bootstrap, topic_prefix)


def _delete_topics_with_prefix(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    names = [t for t in admin.list_topics(timeout=20).topics if t.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            try:
                future.result()
            except Exception:
                pass  # best effort: a leftover topic harms no other test (prefixes are unique)
