"""The signals an operator watches: /metrics moving with a scripted load, `okrate status` showing
lag that grows while the streams worker is stopped, JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import subprocess
import sys

import aiohttp

from base.logs import configure_logging
from streams.app import StreamsConfig
from streams.assembly import create_app
from tests.conftest import free_ports
from tests.integration.test_streams_requests import okdesk_status
from tests.streams_harness import Feeder, running_streams


def status_json(settings, bootstrap, cwd) -> dict:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_PREFIX": settings.topic_prefix,
           "TOPIC_PARTITIONS": str(settings.topic_partitions), "STREAMS_APP_ID": settings.streams_app_id,
           "INGEST_PORT": "1", "STATS_PORT": "1"}
    result = subprocess.run([sys.executable, "-m", "okrate.cli", "status", "--json"], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def metric(port: int, name: str, labels: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    wanted = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return math.nan  # not shown: equal to nothing, so a missing metric fails the test


async def test_metrics_move_and_status_shows_lag(settings_for, kafka_bootstrap, tmp_path, unique_id):
    settings = settings_for(streams_app_id=f"okrate-obs-{unique_id}")
    feed = Feeder(settings, kafka_bootstrap)
    for issue in range(500, 505):
        feed.webhook(str(issue), okdesk_status(issue, "completed", "opened"))
    port = free_ports(1)
    app = create_app(StreamsConfig(settings=settings, bootstrap=kafka_bootstrap, app_id=settings.streams_app_id,
                                   data_dir=tmp_path / "w", store="memory://", metadata_max_age_ms=1000, web_port=port))
    await app.faust.start()
    try:
        for _ in range(120):
            if await metric(port, "okrate_streams_decisions_total", 'record="RatingRequested"') >= 5:
                break
            await asyncio.sleep(0.5)
        assert await metric(port, "okrate_streams_events_total", 'agent="normalise"') >= 5
        # One decision per request: addressed in the step that decided it (no unlinked contact here
        # needs a second one from the contacts' side).
        assert await metric(port, "okrate_streams_decisions_total", 'record="RatingRequested"') == 5
        # the lag falls to 0 once the worker commits what it consumed
        lag = None
        for _ in range(120):
            lag = await metric(port, "okrate_streams_consumer_lag", f'topic="{settings.topic_prefix}okdesk.events"')
            if lag == 0:
                break
            await asyncio.sleep(0.25)
        assert lag == 0, f"the consumer lag stayed at {lag}"
        # alone, the worker owns every partition of its inputs
        assert await metric(port, "okrate_streams_assigned_partitions", "") == settings.topic_partitions * len(app.input_specs)
    finally:
        await app.faust.stop()

    for issue in range(600, 607):
        feed.webhook(str(issue), okdesk_status(issue, "completed", "opened"))
    stopped = await asyncio.to_thread(status_json, settings, kafka_bootstrap, tmp_path)
    assert stopped["lag"]["streams"][f"{settings.topic_prefix}okdesk.events"] == 7
    assert stopped["services"]["streams"].startswith("down")

    async with running_streams(settings, kafka_bootstrap, tmp_path / "again", app_id=settings.streams_app_id):
        for _ in range(60):
            caught_up = await asyncio.to_thread(status_json, settings, kafka_bootstrap, tmp_path)
            if caught_up["lag"]["streams"][f"{settings.topic_prefix}okdesk.events"] == 0:
                break
            await asyncio.sleep(1)
    assert caught_up["lag"]["streams"][f"{settings.topic_prefix}okdesk.events"] == 0


def test_json_logs_are_one_object_a_line_with_secrets_masked(capsys):
    configure_logging("json", "INFO")
    logging.getLogger("okrate.test").info("GET %s", "https://a.okdesk.ru/api/v1/issues/1?api_token=SECRET")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["level"] == "info" and entry["logger"] == "okrate.test"
    assert "SECRET" not in line and "api_token=***" in entry["message"]
    configure_logging("text", "WARNING")
