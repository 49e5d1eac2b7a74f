"""`okrate replay --rebuild-stats`: every statistic refolded from offset 0 of the decision topics
into a fresh application (only the statistics agents, under a scratch prefix), compared with the
live figures, then switched over: the rebuilt snapshots become the latest in `rating.stats`.

Use it when `rating.stats` was damaged or lost, or to prove the live figures: the refold of the
same decisions gives the same figures. (After a fix in the statistics' rules, the live worker's
own tables must start afresh too: that is `okrate replay --switch`.)
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from confluent_kafka import Producer

from okrate import names
from okrate.consumer_lag import end_offsets
from okrate.kafka_clients import producer_config
from okrate.replay import _run_until_caught_up
from okrate.settings import Settings
from okrate.topic_reader import read_to_end
from schemas.codec import DecodeError, decode, encode
from schemas.keys import dimension_key
from schemas.records import StatsSnapshot
from schemas.topics import (
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    ensure_topics,
)

DECISION_TOPICS = (ISSUE_EVENTS, RATING_REQUESTED, RATING_RECORDED, NOTIFIER_OUTCOMES)


def latest_snapshots(bootstrap: str, topic: str, group: str | None = None) -> dict[str, StatsSnapshot]:
    latest: dict[str, StatsSnapshot] = {}
    for message in read_to_end(bootstrap, topic, group=group):
        try:
            snapshot = decode(message.value, (StatsSnapshot,))
        except DecodeError:
            continue
        latest[snapshot.dimension] = snapshot
    return latest


def refold(settings: Settings, bootstrap: str, scratch_prefix: str, data_dir: Path, *, store: str = "rocksdb://",
           timeout: float = 24 * 3600, progress=None) -> dict[str, StatsSnapshot]:
    from streams.agents.stats import by_dimension_topic
    from streams.app import REFOLD_STATS_BATCHING, StreamsConfig, create_app

    # A scratch deployment: its topics, its application `<scratch_prefix>okrate-streams` (so its
    # group and changelogs) and its repartition topic all under the scratch prefix.
    scratch = names.scratch_settings(settings, scratch_prefix)
    ensure_topics(bootstrap, scratch)
    group = names.streams_app_id(scratch)
    ends = end_offsets(bootstrap, [spec.full_name(settings) for spec in DECISION_TOPICS],
                       names.reader_group(settings, "offsets"))

    async def run() -> None:
        app = create_app(StreamsConfig(
            settings=scratch, bootstrap=bootstrap, app_id=group, data_dir=data_dir, store=store,
            source_prefix=settings.topic_prefix, source_topics=DECISION_TOPICS, agents=("stats",),
            metadata_max_age_ms=5000, stats_batching=REFOLD_STATS_BATCHING,
        ))
        inputs = [by_dimension_topic(app).full_name(app.settings)]
        await app.faust.start()
        try:
            await _run_until_caught_up(app, bootstrap, group, inputs, ends, progress, timeout)
        finally:
            await app.faust.stop()

    asyncio.run(run())
    return latest_snapshots(bootstrap, RATING_STATS.full_name(scratch), names.reader_group(settings, "stats-rebuild"))


def publish(settings: Settings, bootstrap: str, snapshots: dict[str, StatsSnapshot]) -> None:
    producer = Producer(producer_config(bootstrap))
    topic = RATING_STATS.full_name(settings)
    for dimension, snapshot in snapshots.items():
        producer.produce(topic, key=dimension_key(dimension), value=encode(snapshot))
        producer.poll(0)
    if producer.flush(60):
        raise RuntimeError("Kafka did not acknowledge every rebuilt snapshot")


def differing(live: dict[str, StatsSnapshot], rebuilt: dict[str, StatsSnapshot]) -> list[str]:
    return sorted(d for d in live.keys() | rebuilt.keys() if live.get(d) != rebuilt.get(d))


def rebuild_stats(settings: Settings, bootstrap: str, progress=None) -> str:
    """`progress(done, total)` is told how many decision events were folded so far."""
    scratch_prefix = names.scratch_prefix(settings, "stats-rebuild")
    with tempfile.TemporaryDirectory(prefix="okrate-stats-rebuild-") as tmp:
        rebuilt = refold(settings, bootstrap, scratch_prefix, Path(tmp), store=settings.streams_store, progress=progress)
    live = latest_snapshots(bootstrap, RATING_STATS.full_name(settings), names.reader_group(settings, "stats-rebuild"))
    changed = differing(live, rebuilt)
    publish(settings, bootstrap, rebuilt)
    summary = f"rebuilt {len(rebuilt)} dimensions from offset 0 of the decision topics; "
    if not changed:
        return summary + "identical to the live figures"
    return summary + f"{len(changed)} differed from the live figures and were replaced: {', '.join(changed[:20])}"
