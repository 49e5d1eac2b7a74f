"""`okrate replay --rebuild-stats`: every statistic refolded from offset 0 of the decision topics
by a batch job in this process, compared with the live figures, then switched over: the rebuilt
snapshots become the latest in `rating.stats`.

Use it when `rating.stats` was damaged or lost, or to prove the live figures: the refold of the
same decisions gives the same figures. (After a fix in the statistics' rules, the live worker's
own tables must start afresh too: that is `okrate replay --switch`.)

The job is a plain confluent-kafka consumer, no Faust, no repartition topic: it reads the four
decision topics up to their end offsets taken at the start, one partition number at a time (the
topics are co-partitioned by issue id), decodes them in batches, and folds them through the live
worker's own pure rules (`streams.stats.refold`). Memory holds one partition's issues and the
dimensions' states, whatever the history's length.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from base import names
from base.kafka_clients import consumer_config, producer_config
from base.settings import Settings
from base.topic_reader import read_to_end
from okrate.replay import ReplayError
from schemas.codec import HEADER_SIZE, MARKER, DecodeError, decode, default_codec, encode
from schemas.keys import dimension_key
from schemas.records import StatsSnapshot
from schemas.topics import (
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    TopicSpec,
)
from streams.stats.facts import FACT_SOURCES
from streams.stats.refold import Refold

DECISION_TOPICS = (ISSUE_EVENTS, RATING_REQUESTED, RATING_RECORDED, NOTIFIER_OUTCOMES)
CONSUME_BATCH = 5_000  # messages per consume() call
# consume() waits this long for a full batch before it returns what it has (a partition's tail)
CONSUME_WAIT_S = 0.05
STALL_S = 60.0  # no message and no end of partition for this long: the broker is gone

Progress = Callable[[int, int], None]


def latest_snapshots(bootstrap: str, topic: str, group: str | None = None) -> dict[str, StatsSnapshot]:
    latest: dict[str, StatsSnapshot] = {}
    for message in read_to_end(bootstrap, topic, group=group):
        try:
            snapshot = decode(message.value, (StatsSnapshot,))
        except DecodeError:
            continue
        latest[snapshot.dimension] = snapshot
    return latest


@dataclass(frozen=True)
class _Source:
    spec: TopicSpec
    name: str  # with the prefix
    expected: tuple[type, ...]


def _sources(settings: Settings) -> dict[str, _Source]:
    # What each topic carries, per the catalogue (the live fan-out dead-letters anything else).
    return {spec.full_name(settings): _Source(spec, spec.full_name(settings), spec.carries) for spec in DECISION_TOPICS}


def _ranges(consumer: Consumer, sources: dict[str, _Source], timeout: float) -> dict[int, dict[str, tuple[int, int]]]:
    """Per partition number, per topic: (low, end) offsets, the ends taken now. Fails when the
    topics are not co-partitioned (the refold folds one partition number of all four at a time)."""
    counts: dict[str, int] = {}
    for name in sources:
        metadata = consumer.list_topics(name, timeout=timeout).topics.get(name)
        if metadata is None or metadata.error is not None:
            raise ReplayError(f"the decision topic {name} does not exist "
                              f"({metadata.error if metadata is not None else 'no metadata'})")
        counts[name] = len(metadata.partitions)
    if len(set(counts.values())) != 1:
        raise ReplayError("the decision topics are not co-partitioned (partitions: "
                          + ", ".join(f"{n} {c}" for n, c in counts.items()) + "): a refold cannot fold them")
    out: dict[int, dict[str, tuple[int, int]]] = {}
    for partition in range(next(iter(counts.values()))):
        for name in sources:
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=timeout)
            if high > low:
                out.setdefault(partition, {})[name] = (low, high)
    return out


def run_refold(settings: Settings, bootstrap: str, *, progress: Progress | None = None,
               trace: str | None = None, stall_timeout: float = STALL_S, processes: int | None = None) -> Refold:
    """The decision topics, from offset 0 to their ends at the start, folded by this process and
    (`processes`, default one per core, at most 2) others: each folds its own partition numbers,
    and the results are merged (`Refold.merge`), which gives the figures of one refold.
    `progress(done, total)` is told how many decision events were read so far; `trace` names a
    dimension whose folded positions the result keeps (`Refold.traced`)."""
    consumer = _consumer(settings, bootstrap)
    try:
        try:
            ranges = _ranges(consumer, _sources(settings), 30.0)
        except KafkaException as exc:
            raise ReplayError(f"reading the decision topics failed: {exc}") from exc
    finally:
        consumer.close()
    total = sum(end - low for topics in ranges.values() for low, end in topics.values())
    partitions = sorted(ranges)
    wanted = processes if processes is not None else default_processes()
    chunks = [chunk for chunk in _split(partitions, max(1, wanted)) if chunk]
    if len(chunks) <= 1:
        refold = _refold_partitions(settings, bootstrap, ranges, partitions, trace, stall_timeout,
                                    lambda done: progress(done, total) if progress is not None else None)
    else:
        refold = _refold_in_processes(settings, bootstrap, ranges, chunks, trace, stall_timeout, progress, total)
    if progress is not None:
        progress(total, total)
    return refold


def default_processes() -> int:
    """One refold process per core, at most 2."""
    return min(2, os.cpu_count() or 1)


def _split(partitions: list[int], parts: int) -> list[list[int]]:
    """Contiguous runs (merged in order, the trace stays in partition order)."""
    size = -(-len(partitions) // parts)
    return [partitions[i:i + size] for i in range(0, len(partitions), size)]


def _consumer(settings: Settings, bootstrap: str) -> Consumer:
    # Assigned partitions, nothing committed: the group only names the reader after its deployment.
    # fetch.wait.max.ms: a fetch that finds a partition drained (its end, each partition number's
    # start) is answered within 10 ms rather than librdkafka's 500 ms; with one partition number
    # read at a time those waits were most of a refold's wall time (100,000 events: consume alone
    # 8.3 s -> 1.3 s, same CPU).
    return Consumer(consumer_config(
        bootstrap, names.reader_group(settings, "stats-rebuild"),
        **{"enable.partition.eof": True, "max.partition.fetch.bytes": 8 * 1024 * 1024,
           "fetch.max.bytes": 64 * 1024 * 1024, "fetch.wait.max.ms": 10}))


def _refold_partitions(settings: Settings, bootstrap: str, ranges: dict[int, dict[str, tuple[int, int]]],
                       partitions: list[int], trace: str | None, stall_timeout: float,
                       report: Callable[[int], None]) -> Refold:
    sources = _sources(settings)
    refold = Refold(settings.stats_timezone, trace=trace)
    consumer = _consumer(settings, bootstrap)
    codec = default_codec()
    try:
        done = 0
        for partition in partitions:
            done = _fold_partition(consumer, refold, partition, ranges[partition], sources, codec, stall_timeout,
                                   report, done)
            refold.end_partition()
    except KafkaException as exc:
        raise ReplayError(f"reading the decision topics failed: {exc}") from exc
    finally:
        consumer.close()
    return refold


def _refold_child(index: int, settings: Settings, bootstrap: str, ranges, partitions: list[int], trace: str | None,
                  stall_timeout: float, out) -> None:
    try:
        last = 0

        def report(done: int) -> None:
            nonlocal last
            if done - last >= 10_000:
                out.put(("progress", done - last))
                last = done

        refold = _refold_partitions(settings, bootstrap, ranges, partitions, trace, stall_timeout, report)
        out.put(("progress", refold.events - last))
        out.put(("result", (index, refold)))
    except Exception as exc:  # told to the parent, which fails with it
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _refold_in_processes(settings: Settings, bootstrap: str, ranges, chunks: list[list[int]], trace: str | None,
                         stall_timeout: float, progress: Progress | None, total: int) -> Refold:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    children = [context.Process(target=_refold_child, daemon=True,
                                args=(index, settings, bootstrap, {p: ranges[p] for p in chunk}, chunk, trace,
                                      stall_timeout, out)) for index, chunk in enumerate(chunks)]
    for child in children:
        child.start()
    results: dict[int, Refold] = {}
    done = 0
    try:
        while len(results) < len(children):
            try:
                kind, value = out.get(timeout=stall_timeout + 30)
            except queue.Empty:
                dead = [c for c in children if not c.is_alive() and c.exitcode not in (0, None)]
                if dead:
                    raise ReplayError(f"a refold process died (exit {dead[0].exitcode})") from None
                continue
            if kind == "error":
                raise ReplayError(f"a refold process failed: {value}")
            if kind == "progress":
                done += value
                if progress is not None:
                    progress(min(done, total), total)
            else:
                index, refold = value
                results[index] = refold
    finally:
        for child in children:
            child.join(5)
            if child.is_alive():
                child.kill()
    merged_refold, *rest = [results[k] for k in sorted(results)]
    for other in rest:
        merged_refold.merge(other)
    return merged_refold


def _fold_partition(consumer: Consumer, refold: Refold, partition: int, topics: dict[str, tuple[int, int]],
                    sources: dict[str, _Source], codec, stall_timeout: float, report: Callable[[int], None],
                    done: int) -> int:
    ends = {name: end for name, (_, end) in topics.items()}
    source = {name: f"{sources[name].spec.name}:{partition}" for name in topics}
    expected = {name: sources[name].expected for name in topics}
    # Per topic, the fingerprints of the types it carries that no fact comes from: not decoded.
    unused = {name: codec.fingerprints(set(expected[name]) - set(FACT_SOURCES)) for name in topics}
    consumer.assign([TopicPartition(name, partition, OFFSET_BEGINNING) for name in topics])
    remaining = set(topics)
    add, decode_one = refold.add_at, codec.decode
    moved, last_error = time.monotonic(), None
    while remaining:
        messages = consumer.consume(num_messages=CONSUME_BATCH, timeout=CONSUME_WAIT_S)
        if not messages:
            if time.monotonic() - moved > stall_timeout:
                raise ReplayError(f"no message from partition {partition} of {', '.join(sorted(remaining))} "
                                  f"within {stall_timeout:.0f}s" + (f" (last error: {last_error})" if last_error else ""))
            continue
        moved = time.monotonic()
        for msg in messages:
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(msg.topic())
                elif error.fatal():
                    raise ReplayError(f"the consumer failed: {error}")
                else:
                    last_error = error
                continue
            name, offset = msg.topic(), msg.offset()
            end = ends[name]
            if offset >= end:  # written after the start: not this refold's
                remaining.discard(name)
                continue
            done += 1
            value = msg.value()
            if value is not None and value[:2] == MARKER and value[2:HEADER_SIZE] in unused[name]:
                refold.ignore()
            else:
                try:
                    record = decode_one(value, expected[name])
                except DecodeError:  # dead-lettered live: no effect
                    refold.skip()
                else:
                    at = source[name]
                    add(msg.key(), record, f"{at}:{offset}", at, offset)
            if offset + 1 >= end:
                remaining.discard(name)
        report(done)
    consumer.unassign()
    return done


def refold(settings: Settings, bootstrap: str, *, progress: Progress | None = None) -> dict[str, StatsSnapshot]:
    """Every dimension's snapshot, refolded from offset 0 of the decision topics."""
    return run_refold(settings, bootstrap, progress=progress).snapshots()


def publish(settings: Settings, bootstrap: str, snapshots: dict[str, StatsSnapshot]) -> None:
    producer = Producer(producer_config(bootstrap))
    topic = RATING_STATS.full_name(settings)
    for dimension, snapshot in snapshots.items():
        producer.produce(topic, key=dimension_key(dimension), value=encode(snapshot))
        producer.poll(0)
    if producer.flush(60):
        raise ReplayError("Kafka did not acknowledge every rebuilt snapshot within 60 s: rating.stats may hold "
                          "only part of them; run the rebuild again")


def differing(live: dict[str, StatsSnapshot], rebuilt: dict[str, StatsSnapshot]) -> list[str]:
    return sorted(d for d in live.keys() | rebuilt.keys() if live.get(d) != rebuilt.get(d))


def rebuild_stats(settings: Settings, bootstrap: str, progress=None) -> str:
    """`progress(done, total)` is told how many decision events were folded so far."""
    rebuilt = refold(settings, bootstrap, progress=progress)
    live = latest_snapshots(bootstrap, RATING_STATS.full_name(settings), names.reader_group(settings, "stats-rebuild"))
    changed = differing(live, rebuilt)
    publish(settings, bootstrap, rebuilt)
    summary = f"rebuilt {len(rebuilt)} dimensions from offset 0 of the decision topics; "
    if not changed:
        return summary + "identical to the live figures"
    return summary + f"{len(changed)} differed from the live figures and were replaced: {', '.join(changed[:20])}"
