"""The batch refold (`streams.stats.refold`) against the live worker's path through the same rules:
the fan-out's table codec, the `StatsEffects` batches as they cross the repartition topic, one fold
per batch. Same decisions, other interleavings of the topics: byte-identical snapshots."""

from __future__ import annotations

import dataclasses
import random
import zlib

from bench.replay import history as bench_history
from schemas.codec import decode, encode
from schemas.records import StatsEffects
from streams.state_codec import StateCodec
from streams.stats.batch import EffectBatch, items_of
from streams.stats.facts import IssueStats, contribute
from streams.stats.fold import fold_many, position
from streams.stats.refold import Refold
from streams.stats.snapshot import snapshot

TZ = "Europe/Moscow"
PARTITIONS = 4


def log(events: int) -> dict[tuple[str, int], list[tuple[bytes, object]]]:
    """The decision topics' partitions, as a log: (topic, partition) -> [(key, record)] in order."""
    out: dict[tuple[str, int], list[tuple[bytes, object]]] = {}
    items = [(spec.name, key, record) for key, (spec, record) in bench_history(events)]
    for topic, key, record in items + items[::5]:  # some redelivered at later offsets
        out.setdefault((topic, zlib.crc32(key.encode()) % PARTITIONS), []).append((key.encode(), record))
    return out


def live_fold(topics, seed: int, batch_events: int) -> dict[str, bytes]:
    """The worker's way: every partition interleaved at random, table state through its codec,
    effects batched and serialised per dimension, folded per batch message."""
    codec = StateCodec(IssueStats)
    table: dict[bytes, bytes] = {}
    dims: dict = {}
    cursors = {tp: 0 for tp in topics}
    rng = random.Random(seed)
    batch = EffectBatch()

    def flush() -> None:
        for message in batch.drain():
            message = decode(encode(message), (StatsEffects,))
            dims[message.dimension] = fold_many(dims.get(message.dimension), message.dimension, items_of(message))[0]

    while cursors:
        tp = rng.choice(sorted(cursors))
        key, record = topics[tp][cursors[tp]]
        pos = position(tp[0], tp[1], cursors[tp])
        cursors[tp] += 1
        if cursors[tp] == len(topics[tp]):
            del cursors[tp]
        before = codec.loads(table.get(key))
        after, effects = contribute(before, record, pos, TZ)
        if after != before:
            table[key] = codec.dumps(after)
        batch.add(pos, effects)
        if batch.events >= batch_events:
            flush()
    flush()
    return {dim: encode(snapshot(state)) for dim, state in dims.items()}


def batch_refold(topics) -> tuple[dict[str, bytes], Refold]:
    """The batch job's way: one partition number at a time, its topics one after another."""
    refold = Refold(TZ)
    for partition in range(PARTITIONS):
        for (topic, p), messages in sorted(topics.items(), reverse=True):
            if p != partition:
                continue
            for offset, (key, record) in enumerate(messages):
                refold.add(key, record, position(topic, p, offset))
        refold.end_partition()
        assert refold.issues_held == 0
    return {dim: encode(snap) for dim, snap in refold.snapshots().items()}, refold


def test_the_batch_refold_equals_the_live_path_whatever_the_interleaving_and_batching():
    topics = log(3_000)
    live = live_fold(topics, seed=1, batch_events=97)
    assert live == live_fold(topics, seed=2, batch_events=1)
    rebuilt, refold = batch_refold(topics)
    assert rebuilt == live
    assert refold.events == sum(len(m) for m in topics.values()) and refold.failed == refold.skipped == 0
    assert len(live) > 50  # companies, assignees, groups, types, days and weeks


def test_a_redelivered_partition_counts_once_and_a_traced_dimension_keeps_its_positions():
    topics = log(500)
    refold = Refold(TZ, trace="all")
    for (topic, p), messages in sorted(topics.items()):
        for offset, (key, record) in enumerate(messages):
            refold.add(key, record, position(topic, p, offset))
        refold.end_partition()
    once = {dim: encode(snap) for dim, snap in refold.snapshots().items()}
    assert refold.traced and len(refold.traced) == len(set(refold.traced))
    (topic, p), messages = next(iter(sorted(topics.items())))
    for offset, (key, record) in enumerate(messages):  # the same source positions once more
        refold.add(key, record, position(topic, p, offset))
    refold.end_partition()
    assert {dim: encode(snap) for dim, snap in refold.snapshots().items()} == once


def test_an_event_without_a_key_or_one_the_rules_fail_on_has_no_effect():
    refold = Refold(TZ)
    _, (_, created) = next(bench_history(1))
    refold.add(None, created, "issue.events:0:0")
    refold.add(b"1", dataclasses.replace(created, event_time=None), "issue.events:0:1")  # the rules raise
    assert refold.snapshots() == {} and refold.events == 2 and refold.failed == 1


def test_a_refold_split_by_partition_and_merged_equals_one_refold():
    """`okrate replay --rebuild-stats` folds partition numbers in several processes and merges
    their results: the figures must be those of one refold (and of the live path)."""
    topics = log(3_000)
    whole, _ = batch_refold(topics)
    parts = []
    for partitions in ((0, 1), (2, 3)):
        part = Refold(TZ)
        for partition in partitions:
            for (topic, p), messages in sorted(topics.items()):
                if p == partition:
                    for offset, (key, record) in enumerate(messages):
                        part.add(key, record, position(topic, p, offset))
            part.end_partition()
        parts.append(part)
    first, second = parts
    first.merge(second)
    assert {dim: encode(snap) for dim, snap in first.snapshots().items()} == whole
    assert first.events == sum(len(m) for m in topics.values())


def test_a_record_of_a_type_no_fact_comes_from_has_no_effect_so_a_refold_need_not_decode_it():
    """The batch job does not decode the decision topics' records of types outside
    `facts.FACT_SOURCES` (it knows them by fingerprint): the rules must give them no effect."""
    from schemas.records import SideEffectOutcome
    from schemas.topics import ISSUE_EVENTS, NOTIFIER_OUTCOMES, RATING_RECORDED, RATING_REQUESTED
    from streams.stats.facts import FACT_SOURCES, SEND_REQUEST, candidates
    from tests.unit.test_schemas import sample_record

    unused = {t for spec in (ISSUE_EVENTS, RATING_REQUESTED, RATING_RECORDED, NOTIFIER_OUTCOMES)
              for t in spec.carries if t not in FACT_SOURCES}
    assert unused  # RatingRejected at least
    _, (_, created) = next(bench_history(1))
    state, _ = contribute(None, created, "issue.events:0:0", TZ)
    for record_type in unused:
        record = sample_record(record_type)
        assert candidates(record, "rating.recorded:0:1") == []
        assert contribute(state, record, "rating.recorded:0:1", TZ) == (state, {})
    for record_type in FACT_SOURCES:  # and every listed type does state facts (the list is not too wide)
        record = sample_record(record_type)
        if isinstance(record, SideEffectOutcome):  # only a Telegram request's outcome counts
            record = dataclasses.replace(record, kind=SEND_REQUEST, status="ok")
        assert candidates(record, "x:0:1"), record_type.__name__
