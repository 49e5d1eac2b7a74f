"""The local broker's settings, its launcher's bookkeeping, and the compose file's agreement."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import yaml

from okrate.local_kafka import LocalKafka, new_cluster_id, pinned_kafka_version, server_properties

ROOT = Path(__file__).resolve().parents[2]


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_cluster_id_is_a_base64url_uuid():
    for _ in range(200):
        cid = new_cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_one_node_settings(tmp_path):
    props = _props(server_properties(9092, 9093, tmp_path))
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "share.coordinator.state.topic.replication.factor",
                "share.coordinator.state.topic.min.isr"):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:9092")


def test_compose_file_agrees_with_the_local_broker(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.kafka.yml").read_text())
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{pinned_kafka_version()}"
    env = {k.removeprefix("KAFKA_").lower().replace("_", "."): str(v) for k, v in kafka["environment"].items()}
    local = _props(server_properties(9092, 9093, tmp_path))
    for key in ("process.roles", "node.id", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
                "share.coordinator.state.topic.replication.factor",
                "share.coordinator.state.topic.min.isr", "group.initial.rebalance.delay.ms",
                "auto.create.topics.enable", "controller.listener.names"):
        assert env[key] == local[key], key
    assert "9092:9092" in kafka["ports"]


def test_a_stale_pid_file_is_not_taken_for_a_running_broker(tmp_path):
    broker = LocalKafka(tmp_path, port=1)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        broker.pid_file.write_text(str(sleeper.pid))  # a live process, but not Kafka
        assert broker.status().running is False
        broker.pid_file.write_text("999999999")  # a dead one
        assert broker.status().running is False
    finally:
        sleeper.kill()
        sleeper.wait()


def test_kafka_version_is_pinned_in_the_pom():
    assert re.fullmatch(r"4\.\d+\.\d+", pinned_kafka_version())


def test_make_test_and_ci_agree():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
