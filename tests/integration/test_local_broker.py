"""`okrate kafka up|status|down` on the session's own broker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _okrate(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "okrate.cli", *args], capture_output=True, text=True,
        env={**os.environ, **env}, timeout=180, check=False,
    )


@pytest.fixture
def started_here(local_broker):
    if local_broker is None:
        pytest.fail("these tests manage the local broker; unset KAFKA_BOOTSTRAP_SERVERS to run them")
    return local_broker


def test_up_on_a_running_broker_changes_nothing(started_here):
    pid_before = started_here.status().pid
    assert started_here.up(log=lambda _m: None) is False
    assert started_here.status().pid == pid_before


def test_status_command_shows_a_running_broker_and_its_topics(started_here, kafka_bootstrap, topic_prefix):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(f"{topic_prefix}shown", 3, 1)]).values():
        future.result(30)
    result = _okrate("kafka", "status", "--port", str(started_here.port), "--data-dir", str(started_here.data_dir))
    assert result.returncode == 0, result.stderr
    assert "running" in result.stdout and "not running" not in result.stdout
    assert f"127.0.0.1:{started_here.port}" in result.stdout
    assert str(started_here.log_file) in result.stdout
    assert f"{topic_prefix}shown" in result.stdout and "3 partitions" in result.stdout


def test_status_of_a_broker_that_is_not_there(tmp_path):
    result = _okrate("kafka", "status", "--port", "1", "--data-dir", str(tmp_path))
    assert result.returncode == 3
    assert "not running" in result.stdout
