"""`okrate replay --rebuild-stats`: the refold of the decision topics into a fresh application
gives the live figures exactly, and a damaged `rating.stats` is put right by the switch-over."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

from okrate.rebuild_stats import latest_snapshots
from schemas.codec import encode
from schemas.records import StatsSnapshot
from schemas.topics import RATING_STATS
from tests.integration.test_stats import converged, expected_snapshots, feed, history, worker
from tests.streams_harness import Feeder


async def test_rebuild_reproduces_the_live_figures_and_repairs_damage(settings_for, kafka_bootstrap, tmp_path, unique_id):
    settings = settings_for(streams_store="memory://")
    items = history()
    want = expected_snapshots(items, settings.stats_timezone)
    feeder = Feeder(settings, kafka_bootstrap)
    feed(feeder, items)
    async with worker(settings, kafka_bootstrap, tmp_path / "live", f"okrate-live-{unique_id}"):
        await converged(kafka_bootstrap, settings, want)

    # Damage: a wrong snapshot becomes the latest for `all`.
    every = latest_snapshots(kafka_bootstrap, RATING_STATS.full_name(settings))["all"]
    wrong = StatsSnapshot(**{**every.__dict__, "ratings_count": 999, "updated_at": datetime(2030, 1, 1, tzinfo=UTC)})
    feeder.record(RATING_STATS, "all", wrong)

    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": settings.topic_prefix,
           "TOPIC_PARTITIONS": str(settings.topic_partitions), "STREAMS_STORE": "memory://"}
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "okrate.cli", "replay", "--rebuild-stats"],
                                     env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"rebuilt {len(want)} dimensions" in result.stdout
    assert "1 differed from the live figures and were replaced: all" in result.stdout
    repaired = latest_snapshots(kafka_bootstrap, RATING_STATS.full_name(settings))
    assert {d: encode(s) for d, s in repaired.items()} == want
