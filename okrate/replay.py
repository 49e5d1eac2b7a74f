"""`okrate replay`: the log put to work. Reprocess the raw topics with the current rules into a
scratch prefix and show what would change; switch the live application over to a fresh start;
rewind the live application after an outage. None of it touches a client or Okdesk: only the
notifier does, and it skips every step it already took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from base import names
from base.consumer_lag import committed, end_offsets
from base.kafka_clients import consumer_config
from base.settings import Settings
from base.topic_admin import ensure_topics
from base.topic_reader import read_to_end
from schemas.codec import DecodeError, decode
from schemas.records import RatingClosed, RatingRecorded, RatingRejected, RatingRequested, Record
from schemas.topics import (
    CATALOGUE,
    INTERNAL_TOPICS,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    TELEGRAM_UPDATES,
)

RAW_TOPICS = (OKDESK_EVENTS, TELEGRAM_UPDATES)


class ReplayError(RuntimeError):
    pass


# -- what would change --------------------------------------------------------------------------

@dataclass
class Change:
    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def none(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _compare(live: dict[str, str], fresh: dict[str, str]) -> Change:
    return Change(
        added={k: v for k, v in fresh.items() if k not in live},
        removed={k: v for k, v in live.items() if k not in fresh},
        changed={k: (live[k], fresh[k]) for k in live.keys() & fresh.keys() if live[k] != fresh[k]},
    )


def decisions(requested: Iterable[Record], recorded: Iterable[Record]) -> dict[str, dict[str, str]]:
    """The decisions a reprocess is judged by, each as id → what was decided. A request's value is
    its fate: whom it went to, or how it was closed (a request closed as reopened before its
    addressing came back never went out in a fast reprocess, but was sent and closed live: the
    same decision)."""
    requests: dict[str, str] = {}
    closed: dict[str, str] = {}
    for r in requested:
        if isinstance(r, RatingRequested) and r.addressed_at is not None:
            requests[r.request_id] = f"to {r.recipient_user_id}" if r.deliverable else "undeliverable"
        elif isinstance(r, RatingClosed):
            closed[r.request_id] = f"closed ({r.reason})"
    requests.update(closed)
    ratings = {r.event_id: f"score {r.score}" for r in recorded if isinstance(r, RatingRecorded)}
    rejections = {r.event_id: r.reason for r in recorded if isinstance(r, RatingRejected)}
    return {"requests": requests, "recorded ratings": ratings, "rejections": rejections}


def compare(live: dict[str, dict[str, str]], fresh: dict[str, dict[str, str]]) -> dict[str, Change]:
    return {what: _compare(live[what], fresh[what]) for what in live}


def describe(changes: dict[str, Change], limit: int = 10) -> str:
    lines = []
    for what, change in changes.items():
        lines.append(f"{what}: {len(change.added)} added, {len(change.removed)} removed, {len(change.changed)} changed")
        for key, value in list(change.added.items())[:limit]:
            lines.append(f"  + {key}: {value}")
        for key, value in list(change.removed.items())[:limit]:
            lines.append(f"  - {key}: {value}")
        for key, (old, new) in list(change.changed.items())[:limit]:
            lines.append(f"  ~ {key}: {old} -> {new}")
    return "\n".join(lines)


def _records(bootstrap: str, topic: str, group: str | None = None) -> list[Record]:
    out = []
    for message in read_to_end(bootstrap, topic, group=group):
        try:
            out.append(decode(message.value))
        except DecodeError:
            continue
    return out


def read_decisions(bootstrap: str, settings: Settings) -> dict[str, dict[str, str]]:
    group = names.reader_group(settings, "replay")
    return decisions(_records(bootstrap, RATING_REQUESTED.full_name(settings), group),
                     _records(bootstrap, RATING_RECORDED.full_name(settings), group))


# -- consumer groups -----------------------------------------------------------------------------

def group_is_empty(bootstrap: str, group: str) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        description = admin.describe_consumer_groups([group])[group].result()
    except KafkaException:
        return True
    return not description.members


def _require_stopped(bootstrap: str, group: str) -> None:
    if not group_is_empty(bootstrap, group):
        raise ReplayError(f"the streams application {group!r} is running: stop its workers first "
                          "(a consumer group's offsets can only be moved while it has no members)")


# -- reprocess -----------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


async def _run_until_caught_up(app, bootstrap: str, group: str, inputs: list[str], raw_ends: dict[TopicPartition, int],
                               progress: Progress | None, timeout: float) -> None:
    total = sum(raw_ends.values())
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        if app.faust.crashed:  # its consumer has left the group: nothing would move any more
            raise ReplayError(f"the worker crashed: {app.faust.crash_reason!r}")
        done = await asyncio.to_thread(committed, bootstrap, group, raw_ends)
        raw_done = sum(min(done.get((tp.topic, tp.partition), 0), end) for tp, end in raw_ends.items())
        if progress is not None:
            progress(raw_done, total)
        if raw_done < total:
            quiet = 0
            continue
        # The raw topics are consumed: wait until the derived ones are drained too.
        ends = await asyncio.to_thread(end_offsets, bootstrap, inputs)
        at = await asyncio.to_thread(committed, bootstrap, group, ends)
        lag = sum(max(0, end - at.get((tp.topic, tp.partition), 0)) for tp, end in ends.items())
        quiet = quiet + 1 if lag == 0 else 0
        if quiet >= 2:
            return
    raise ReplayError(f"the reprocess did not catch up within {timeout:.0f}s")


def reprocess(settings: Settings, bootstrap: str, scratch_prefix: str, data_dir: Path, *,
              store: str = "rocksdb://", progress: Progress | None = None, timeout: float = 24 * 3600) -> dict[str, Change]:
    """Runs the streams from offset 0 of the live raw topics into `scratch_prefix` (a scratch
    deployment: its topics, its application `<scratch_prefix>okrate-streams`, its changelogs);
    returns what differs."""
    from streams.app import StreamsConfig
    from streams.assembly import create_app

    scratch = names.scratch_settings(settings, scratch_prefix)
    ensure_topics(bootstrap, scratch)
    group = names.streams_app_id(scratch)
    raw_ends = end_offsets(bootstrap, [spec.full_name(settings) for spec in RAW_TOPICS],
                           names.reader_group(settings, "offsets"))
    inputs = [spec.full_name(scratch) for spec in (RATING_RECEIVED, *INTERNAL_TOPICS)]

    async def run() -> None:
        app = create_app(StreamsConfig(settings=scratch, bootstrap=bootstrap, app_id=group, data_dir=data_dir,
                                       store=store, source_prefix=settings.topic_prefix, metadata_max_age_ms=5000))
        await app.faust.start()
        try:
            await _run_until_caught_up(app, bootstrap, group, inputs, raw_ends, progress, timeout)
        finally:
            await app.faust.stop()

    asyncio.run(run())
    return compare(read_decisions(bootstrap, settings), read_decisions(bootstrap, scratch))


# -- switch and rewind ---------------------------------------------------------------------------

def switch(settings: Settings, bootstrap: str) -> list[str]:
    """The live streams application starts afresh: its offsets, tables and internal topics are
    dropped, so its next start reprocesses the raw topics from offset 0 with the current rules.
    Decisions keep their ids, so the notifier skips what it already did and stats count once."""
    group = names.streams_app_id(settings)
    _require_stopped(bootstrap, group)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.delete_consumer_groups([group])[group].result()
    except KafkaException as exc:
        if "GROUP_ID_NOT_FOUND" not in str(exc):
            raise
    topics = admin.list_topics(timeout=30).topics
    # Its changelogs, Faust's leader topic and its repartition topics: exactly the application's
    # (`base.names.owned_topics`), never another deployment's that merely starts alike.
    kept = {spec.full_name(settings) for spec in CATALOGUE}
    dropped = [name for name in names.owned_topics(settings, topics) if name not in kept]
    if dropped:
        for future in admin.delete_topics(dropped, operation_timeout=60).values():
            future.result()
        time.sleep(2)  # deletion is asynchronous on the broker
    ensure_topics(bootstrap, settings)
    return dropped


def rewind(settings: Settings, bootstrap: str, *, from_offset: int | None = None,
           from_time: datetime | None = None) -> dict[str, int]:
    """Moves the live application's position on the raw topics back; its state is kept, and
    idempotence absorbs what it had already processed. Returns how many events each topic re-reads."""
    if (from_offset is None) == (from_time is None):
        raise ReplayError("give exactly one of --from-offset and --from-time")
    group = names.streams_app_id(settings)
    _require_stopped(bootstrap, group)
    ends = end_offsets(bootstrap, [spec.full_name(settings) for spec in RAW_TOPICS], names.reader_group(settings, "offsets"))
    if from_time is not None:
        consumer = Consumer(consumer_config(bootstrap, names.reader_group(settings, "offsets")))
        try:
            stamp = int(from_time.timestamp() * 1000)
            found = consumer.offsets_for_times([TopicPartition(tp.topic, tp.partition, stamp) for tp in ends], timeout=30)
        finally:
            consumer.close()
        targets = {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else ends[TopicPartition(tp.topic, tp.partition)])
                   for tp in found}
    else:
        targets = {(tp.topic, tp.partition): min(from_offset, end) for tp, end in ends.items()}
    current = committed(bootstrap, group, ends)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, o) for (t, p), o in targets.items()])]
    admin.alter_consumer_group_offsets(request)[group].result()
    rereads: dict[str, int] = {}
    for (topic, partition), offset in targets.items():
        rereads[topic] = rereads.get(topic, 0) + max(0, current.get((topic, partition), 0) - offset)
    return rereads


def scratch_prefix_for(settings: Settings) -> str:
    return names.scratch_prefix(settings, "reprocess")

