"""`okrate replay --rebuild-stats`: the batch refold of the decision topics gives the live
worker's figures exactly, and a damaged `rating.stats` is put right by the switch-over."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from okrate.rebuild_stats import latest_snapshots, run_refold
from schemas.codec import encode
from schemas.records import RatingRecorded, StatsSnapshot
from schemas.topics import ISSUE_EVENTS, RATING_RECORDED, RATING_STATS
from tests.chaos.checks import stats_equal_refold
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


def _bench_history(events: int):
    from bench.replay import history as bench_history

    return [(spec, key, record) for key, (spec, record) in bench_history(events)]


async def test_the_batch_refold_gives_the_live_workers_figures(settings_for, kafka_bootstrap, tmp_path, unique_id):
    """The batch job (no Faust, no repartition topic, one partition number at a time) against the
    live worker's fan-out and fold over the same decision topics: a few hundred issues spread over
    the partitions, redelivered decisions at new offsets, a late addressing, a refused send, and
    messages the live worker dead-letters (garbage, a record on the wrong topic)."""
    settings = settings_for(streams_store="memory://")
    items = history() + _bench_history(2_000)
    items += items[::7]  # redelivered, at new offsets
    want = expected_snapshots(items, settings.stats_timezone)
    feeder = Feeder(settings, kafka_bootstrap)
    feed(feeder, items)
    feeder.raw(RATING_RECORDED, "101", b"not avro")
    rating = next(record for _, _, record in items if isinstance(record, RatingRecorded))
    feeder.record(ISSUE_EVENTS, rating.issue_id, rating)  # a rating on issue.events: dead-lettered live
    async with worker(settings, kafka_bootstrap, tmp_path / "live", f"okrate-live-{unique_id}", store="memory://"):
        live = await converged(kafka_bootstrap, settings, want, timeout=180)

    done: list[tuple[int, int]] = []
    result = await asyncio.to_thread(run_refold, settings, kafka_bootstrap, progress=lambda d, t: done.append((d, t)))
    assert {d: encode(s) for d, s in result.snapshots().items()} == live
    assert result.skipped == 2 and result.failed == 0
    assert result.issues_held == 0  # only the dimensions' states outlive their partition
    assert done[-1] == (len(items) + 2, len(items) + 2)
    assert [d for d, _ in done] == sorted(d for d, _ in done)
    check = await asyncio.to_thread(stats_equal_refold, kafka_bootstrap, settings)  # the chaos drill's check
    assert check.ok and check.counts["dimensions differing"] == 0, check.failures


def test_a_rebuild_without_the_decision_topics_fails_with_the_reason(kafka_bootstrap, unique_id):
    from base.settings import load_settings
    from okrate.replay import ReplayError

    settings = load_settings(_env_file=None, kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=f"none{unique_id}-")
    with pytest.raises(ReplayError, match=f"the decision topic none{unique_id}-issue.events does not exist"):
        run_refold(settings, kafka_bootstrap)
