"""`okrate send-test-webhook` against a running `okrate ingest`, both dialects, signed."""

from __future__ import annotations

import os
import subprocess
import sys

from schemas.codec import decode
from schemas.topics import OKDESK_EVENTS
from tests.conftest import _free_port_pair
from tests.integration.test_ingest_durability import _wait_port
from tests.kafka_helpers import read_topic


def test_send_test_webhook_reaches_kafka_in_both_dialects(settings_for, kafka_bootstrap, topic_prefix, tmp_path):
    settings = settings_for()
    port = _free_port_pair()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": topic_prefix,
           "TOPIC_PARTITIONS": str(settings.topic_partitions), "INGEST_PORT": str(port),
           "INGEST_HOST": "127.0.0.1", "WEBHOOK_SECRET": "cli-secret"}
    ingest = subprocess.Popen([sys.executable, "-m", "okrate.cli", "ingest"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        for dialect, issue in (("seed", "1380"), ("okdesk", "1381")):
            result = subprocess.run(
                [sys.executable, "-m", "okrate.cli", "send-test-webhook", "--dialect", dialect, "--issue", issue],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
            assert result.returncode == 0, result.stdout + result.stderr
            assert result.stdout.startswith("200 ")
        unsigned = subprocess.run(
            [sys.executable, "-m", "okrate.cli", "send-test-webhook", "--secret", "wrong"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert unsigned.returncode == 1 and unsigned.stdout.startswith("401 ")
    finally:
        ingest.terminate()
        ingest.wait(30)
    stored = read_topic(kafka_bootstrap, OKDESK_EVENTS.full_name(settings))
    assert sorted(r.key for r in stored) == [b"1380", b"1381"]
    bodies = {r.key: decode(r.value).body for r in stored}
    assert b'"issue.status_changed"' in bodies[b"1380"]
    assert b'"new_ticket_status"' in bodies[b"1381"]
