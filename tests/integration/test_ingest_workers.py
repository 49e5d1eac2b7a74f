"""`okrate ingest --workers 2`: two processes on one port, both serving, each webhook stored once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from schemas.codec import decode
from schemas.topics import OKDESK_EVENTS
from tests.conftest import _free_port_pair
from tests.kafka_helpers import read_topic

CONNECTIONS = 16
PER_CONNECTION = 15


def _body(issue_id: int) -> bytes:
    return json.dumps({"event": {"event_type": "issue.status_changed"},
                       "issue": {"id": issue_id, "status": {"code": "resolved"}}}).encode()


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.add(child)
            todo.append(child)
    return found


def _socket_owners(port: int, state: str, pids: set[int]) -> Counter[int]:
    """How many sockets on local `port` in TCP `state` (0A listening, 01 established) each pid holds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    owners: Counter[int] = Counter()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    owners[pid] += 1
        except OSError:
            continue
    return owners


def _accepted(exposition: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(exposition)
               for sample in family.samples
               if sample.name == "okrate_ingest_requests_total" and sample.labels == {"source": "okdesk", "outcome": "accepted"})


def _wait_for(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_two_workers_both_serve_and_each_webhook_is_stored_once(settings_for, kafka_bootstrap, topic_prefix, tmp_path):
    settings = settings_for()
    port = _free_port_pair()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": topic_prefix,
           "TOPIC_PARTITIONS": str(settings.topic_partitions), "INGEST_PORT": str(port),
           "INGEST_HOST": "127.0.0.1", "WEBHOOK_SECRET": ""}
    log_path = tmp_path / "ingest.log"
    log_file = log_path.open("wb")
    workers: set[int] = set()
    proc = subprocess.Popen([sys.executable, "-m", "okrate.cli", "ingest", "--workers", "2"], env=env, cwd=tmp_path,
                            stdout=log_file, stderr=subprocess.STDOUT)
    try:
        listening = await asyncio.to_thread(
            _wait_for, lambda: len(owners := _socket_owners(port, "0A", _descendants(proc.pid))) == 2 and owners,
            "two worker processes listening on the port")
        workers.update(listening)
        assert proc.pid not in workers  # the parent only supervises

        url = f"http://127.0.0.1:{port}/okdesk-webhook"
        sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(CONNECTIONS)]
        statuses: Counter[int] = Counter()
        accepted: list[int] = []
        try:
            async def post(session: aiohttp.ClientSession, issue_id: int) -> None:
                async with session.post(url, data=_body(issue_id)) as response:
                    statuses[response.status] += 1
                    if response.status == 200:
                        accepted.append(issue_id)

            # One request on each connection first: the kernel has spread the connections over the
            # workers; see which worker holds which, while they are open.
            await asyncio.gather(*(post(s, 1_000_000 + k) for k, s in enumerate(sessions)))
            serving = _socket_owners(port, "01", workers)
            await asyncio.gather(*(post(s, 1_000_000 + k + n * CONNECTIONS)
                                   for k, s in enumerate(sessions) for n in range(1, PER_CONNECTION)))
        finally:
            await asyncio.gather(*(s.close() for s in sessions))
        # Every connection is held by one of the two workers, and each holds some: both served.
        assert sum(serving.values()) == CONNECTIONS
        assert set(serving) == workers, serving
        assert statuses == {200: CONNECTIONS * PER_CONNECTION}
        # Whichever worker a scrape reaches, /metrics counts what both accepted.
        for _ in range(6):
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert _accepted(await response.text()) == CONNECTIONS * PER_CONNECTION

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 60) == 0, log_path.read_text()[-3000:]
        stored = await asyncio.to_thread(read_topic, kafka_bootstrap, OKDESK_EVENTS.full_name(settings))
        envelopes = [decode(m.value) for m in stored]
        issue_ids = Counter(json.loads(e.body)["issue"]["id"] for e in envelopes)
        assert issue_ids == Counter(accepted)  # each accepted webhook exactly once, nothing else
        assert len({e.delivery_id for e in envelopes}) == len(envelopes)
    finally:
        if proc.poll() is None:  # the test failed midway: leave no worker behind
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait(10)
        log_file.close()
