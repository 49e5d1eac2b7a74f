"""`python -m bench.replay`: events per second when `okrate replay --rebuild-stats` refolds every
statistic from the decision topics (issue.events, rating.requested, rating.recorded,
notifier.outcomes): its batch job, in this process, against a bare consume+decode loop over the
same topics in the same run; and the streams worker's peak memory (RSS) with that many issues in
its tables (one worker, rocksdb store). Writes `bench/results/replay.json`.

The issue asks for 1,000,000 decision events and 1,000,000 issues; both are parameters, as that
takes long on a small machine: `BENCH_REPLAY_EVENTS` (default 10,000; the issues follow from the
mix, about 5.3 decision events per issue) and `BENCH_REPLAY_TABLE_ISSUES` (default 0: skipped),
the issues put into the worker's two issue-keyed tables (through their changelogs, restored into
rocksdb by a starting worker) to measure its memory with that many issues. With
`BENCH_REPLAY_TABLE_ISSUES=0` the tables' figures of the previous result stay (each phase says when
it was measured: `refold_at`, `tables_at`).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from base.kafka_clients import consumer_config, producer_config
from base.settings import load_settings
from base.topic_admin import ensure_topics
from bench.broker import bench_broker
from bench.common import RESULTS, write_result
from okrate.rebuild_stats import DECISION_TOPICS
from schemas.codec import encode
from schemas.records import (
    IssueEvent,
    RatingExpired,
    RatingRecorded,
    RatingReminder,
    RatingRequested,
    SideEffectOutcome,
)
from schemas.topics import (
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
)

EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "10000"))
FLOOR_EVENTS, FLOOR_RATE = 1_000_000, 10_000  # the issue's floor for the refold
FLOOR_ISSUES, FLOOR_RSS_MIB = 1_000_000, 600  # and for the worker's memory with that many issues
TABLE_ISSUES = int(os.environ.get("BENCH_REPLAY_TABLE_ISSUES", "0"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RESULT = RESULTS / "replay.json"
STALL_S = 120.0  # no message for this long: the baseline loop is stuck


def history(events: int):
    """A realistic mix per issue: created and resolved issue events, the request, its delivery,
    then a rating (7 in 10; a reason for low ones) or a reminder and an expiry; spread over a year,
    50 companies, 30 assignees, 6 groups, 8 types."""
    n = issue = 0
    while n < events:
        issue += 1
        iid = str(100_000 + issue)
        created = T0 + timedelta(minutes=issue * 7 % 525_600)
        resolved = created + timedelta(minutes=30 + issue * 37 % 5000)
        attrs = {"company_id": str(issue % 50), "assignee_employee_id": str(issue % 30),
                 "assignee_group_id": str(issue % 6), "type_code": f"type{issue % 8}"}
        rid = f"{iid}/1"
        out = [
            (ISSUE_EVENTS, IssueEvent(event_id=f"e/{iid}/0", kind="created", dialect="okdesk", issue_id=iid,
                                      event_time=created, delivery_id=f"{iid}-0", source_topic="okdesk.events",
                                      source_partition=0, source_offset=issue, created_at=created, **attrs)),
            (ISSUE_EVENTS, IssueEvent(event_id=f"e/{iid}/1", kind="status_changed", dialect="okdesk",
                                      issue_id=iid, event_time=resolved, delivery_id=f"{iid}-1",
                                      source_topic="okdesk.events", source_partition=0, source_offset=issue,
                                      created_at=created, reacted_at=created + timedelta(minutes=issue % 90),
                                      **attrs)),
            (RATING_REQUESTED, RatingRequested(event_id=f"{rid}/a", request_id=rid, issue_id=iid, cycle=1,
                                               requested_at=resolved, trigger_partition=0, trigger_offset=issue,
                                               issue_created_at=created, deliverable=True,
                                               recipient_user_id=issue, addressed_at=resolved, **attrs)),
            (NOTIFIER_OUTCOMES, SideEffectOutcome(idempotency_key=f"{rid}/send", kind="telegram.send_request",
                                                  status="ok", issue_id=iid, request_id=rid,
                                                  completed_at=resolved + timedelta(seconds=2))),
        ]
        if issue % 10 < 7:
            out.append((RATING_RECORDED, RatingRecorded(
                event_id=f"{rid}/r", request_id=rid, issue_id=iid, score=1 + issue % 5, from_user_id=issue,
                update_id=issue, requested_at=resolved, pressed_at=resolved + timedelta(minutes=issue % 600),
                **attrs)))
        else:
            out.append((RATING_REQUESTED, RatingReminder(event_id=f"{rid}/rem", request_id=rid, issue_id=iid,
                                                         reminded_at=resolved + timedelta(days=1))))
            out.append((RATING_REQUESTED, RatingExpired(event_id=f"{rid}/exp", request_id=rid, issue_id=iid,
                                                        expired_at=resolved + timedelta(days=7))))
        for item in out:
            yield iid, item
            n += 1
            if n >= events:
                return


def fill(bootstrap: str, settings, events: int) -> int:
    producer = Producer(producer_config(bootstrap, **{"linger.ms": 20, "batch.num.messages": 10000}))
    issues = set()
    for key, (spec, record) in history(events):
        issues.add(key)
        while True:
            try:
                producer.produce(spec.full_name(settings), key=key.encode(), value=encode(record))
                break
            except BufferError:
                producer.poll(0.5)
        producer.poll(0)
    assert producer.flush(120) == 0
    return len(issues)


def rss_mib(pid: int | None = None, field: str = "VmRSS") -> float:
    """A process's resident memory now (`VmRSS`) or at its peak (`VmHWM`)."""
    try:
        status = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:  # the process just ended
        return 0.0
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_consume_decode(bootstrap: str, settings, total_events: int) -> float:
    """The baseline of the same run: a bare confluent-kafka loop that reads and decodes the same
    decision topics in the same batches, and does nothing else (events/s)."""
    from schemas.codec import decode

    names = [s.full_name(settings) for s in DECISION_TOPICS]
    consumer = Consumer(consumer_config(bootstrap, f"okrate-bench-bare-{uuid.uuid4().hex[:6]}",
                                        **{"max.partition.fetch.bytes": 8 * 1024 * 1024,
                                           "fetch.max.bytes": 64 * 1024 * 1024}))
    started, n = time.monotonic(), 0
    try:
        consumer.assign([TopicPartition(t, p, 0) for t in names for p in range(settings.topic_partitions)])
        moved = time.monotonic()
        while n < total_events:
            messages = consumer.consume(num_messages=5_000, timeout=1.0)
            if messages:
                moved = time.monotonic()
            elif time.monotonic() - moved > STALL_S:
                raise RuntimeError(f"the bare loop stalled at {n} of {total_events} events")
            for msg in messages:
                if msg.error() is None:
                    decode(msg.value())
                    n += 1
    finally:
        consumer.close()
    return n / (time.monotonic() - started)


def cpu_seconds() -> float:
    """User + system CPU of this process and of its waited-for children (the refold's processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def processes_used(settings) -> int:
    from okrate.rebuild_stats import default_processes

    return min(default_processes(), settings.topic_partitions)


def refold(settings, bootstrap: str, total_events: int) -> dict:
    """`okrate replay --rebuild-stats`'s refold (`okrate.rebuild_stats.run_refold`), end to end:
    offsets, reading, decoding, folding and the snapshots, as the command runs it."""
    from okrate.rebuild_stats import run_refold

    before = peak = rss_mib()
    told = [time.monotonic()]

    peak_children = 0.0  # the largest refold process (they hold their partitions' issues)

    def progress(done: int, total: int) -> None:
        nonlocal peak, peak_children
        peak = max(peak, rss_mib())
        for child in multiprocessing.active_children():
            peak_children = max(peak_children, rss_mib(child.pid))
        if time.monotonic() - told[0] >= 30:
            told[0] = time.monotonic()
            print(f"[replay {time.strftime('%H:%M:%S')}] {done:,} of {total:,} decision events folded, "
                  f"RSS {rss_mib():.0f} MiB", file=sys.stderr, flush=True)

    cpu_before = cpu_seconds()
    started = time.monotonic()
    result = run_refold(settings, bootstrap, progress=progress)
    snapshots = result.snapshots()
    elapsed = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    if result.events != total_events:
        raise RuntimeError(f"the refold read {result.events} decision events, not {total_events}")
    return {
        "seconds_total": round(elapsed, 1),
        "events_per_second": round(total_events / elapsed, 1),
        # CPU time of the refold's processes (this one and the refold's own), much less sensitive
        # than the rate to other work on a shared machine
        "refold_processes": processes_used(settings),
        "cpu_seconds_per_1000_events": round(cpu / total_events * 1000, 4),
        "dimensions": len(snapshots),
        "rss_mib_before_refold": round(before, 1),
        "peak_rss_mib_sampled": round(max(peak, rss_mib()), 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mib_refold_processes_sampled": round(peak_children, 1),
    }


def _table_values(iid: str) -> dict[str, bytes]:
    """The `issues` and `stats-issues` values of one issue as the worker writes them, from a real
    history through the pure rules (made once, then re-labelled per issue)."""
    from streams.agents.issues import CODEC as ISSUE_CODEC
    from streams.agents.stats import ISSUES_CODEC
    from streams.rules import Rules, issue_decider
    from streams.stats.facts import contribute

    state = stats = None
    for offset, (key, (spec, record)) in enumerate(history(20)):
        if key != iid:
            continue
        if spec is ISSUE_EVENTS or isinstance(record, RatingRequested):
            state, _ = issue_decider.run(state, record, Rules())
        stats, _ = contribute(stats, record, f"{spec.name}:0:{offset}", "Europe/Moscow")
    return {"issues": ISSUE_CODEC.dumps(state), "stats-issues": ISSUES_CODEC.dumps(stats)}


def fill_tables(bootstrap: str, app, issues: int) -> None:
    """`issues` issues in the worker's two issue-keyed tables: written to their changelog topics
    (partitioned as Faust partitions them), which a starting worker restores into rocksdb."""
    template = _table_values("100001")
    producer = Producer(producer_config(bootstrap, **{"linger.ms": 50, "batch.num.messages": 10000}))
    for name, value in template.items():
        topic = app.faust.tables[name].changelog_topic.get_topic_name()
        for n in range(issues):
            iid = str(10_000_000 + n)
            while True:
                try:
                    producer.produce(topic, key=iid.encode(), value=value.replace(b"100001", iid.encode()))
                    break
                except BufferError:
                    producer.poll(0.5)
    assert producer.flush(300) == 0


def _restore_worker(prefix: str, bootstrap: str, app_id: str, data_dir: str, out) -> None:
    """The worker, in a process of its own (so that its RSS is the worker's, not the generator's):
    restores its tables from their changelogs, counts them, reports its memory on `out`."""
    from streams.app import StreamsConfig
    from streams.assembly import create_app
    from streams.worker import install_loop

    install_loop()
    settings = load_settings(_env_file=None, kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)

    async def run() -> dict:
        before = rss_mib()
        app = create_app(StreamsConfig(settings=settings, bootstrap=bootstrap, data_dir=Path(data_dir),
                                       store="rocksdb://", app_id=app_id, metadata_max_age_ms=1000))
        t = time.monotonic()
        await app.faust.start()
        peak = rss_mib()
        try:
            recovered = app.faust.tables.recovery.completed
            while not recovered.is_set():
                await asyncio.sleep(1.0)
                peak = max(peak, rss_mib())
            restore_seconds = time.monotonic() - t
            counted = {name: sum(1 for _ in app.faust.tables[name].keys()) for name in ("issues", "stats-issues")}
            await asyncio.sleep(5.0)
            peak = max(peak, rss_mib())
            steady = rss_mib()
        finally:
            await app.faust.stop()
        return {"table_keys_counted": counted, "tables_restore_seconds": round(restore_seconds, 1),
                "rss_mib_before_start": round(before, 1), "rss_mib_peak_with_tables": round(peak, 1),
                "rss_mib_after_restore": round(steady, 1),
                # Its own peak, not ru_maxrss: a process started by fork and exec keeps in ru_maxrss
                # its parent's RSS at the fork (Linux carries it over the exec), and this benchmark's
                # parent can hold a refold's whole generated history (581 MiB seen so, against 338).
                "peak_rss_mib_worker": round(rss_mib(field="VmHWM"), 1)}

    out.put(asyncio.run(run()))


async def rss_with_issues(settings, bootstrap: str, data_dir: Path, issues: int) -> dict:
    """The worker's memory with `issues` issues in each of its issue-keyed tables (rocksdb)."""
    import multiprocessing

    from streams.app import StreamsConfig
    from streams.assembly import create_app

    app_id = f"okrate-bench-tables-{uuid.uuid4().hex[:6]}"
    names = create_app(StreamsConfig(settings=settings, bootstrap=bootstrap, data_dir=data_dir / "names",
                                     store="memory://", app_id=app_id))  # the changelog topics, made
    t = time.monotonic()
    await asyncio.to_thread(fill_tables, bootstrap, names, issues)
    fill_seconds = time.monotonic() - t
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    worker = context.Process(target=_restore_worker, args=(settings.topic_prefix, bootstrap, app_id,
                                                           str(data_dir / "worker"), out))
    worker.start()
    figures = await asyncio.to_thread(out.get, True, 3600)
    worker.join(60)
    return {"table_issues": issues, "tables_fill_seconds": round(fill_seconds, 1), **figures}


TABLE_KEYS = ("tables_at", "table_issues", "table_keys_counted", "tables_fill_seconds", "tables_restore_seconds",
              "rss_mib_before_start", "rss_mib_peak_with_tables", "rss_mib_after_restore", "peak_rss_mib_worker")


def main() -> dict:
    """Both phases; with BENCH_REPLAY_EVENTS=0 only the tables' phase runs and the refold figures
    of the previous result are kept, with BENCH_REPLAY_TABLE_ISSUES=0 (the default) the tables'
    figures are (each says when it was measured)."""
    previous = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    with bench_broker() as bootstrap, tempfile.TemporaryDirectory(prefix="okrate-bench-replay-") as tmp:
        settings = load_settings(_env_file=None, kafka_bootstrap_servers=bootstrap,
                                 topic_prefix=f"bench{uuid.uuid4().hex[:6]}-")
        ensure_topics(bootstrap, settings)
        if EVENTS:
            t = time.monotonic()
            issues = fill(bootstrap, settings, EVENTS)
            fill_seconds = time.monotonic() - t
            result = {
                "decision_events": EVENTS, "issues": issues, "topic_partitions": settings.topic_partitions,
                "fill_seconds": round(fill_seconds, 1), "refold_at": _now(),
                **refold(settings, bootstrap, EVENTS),
            }
            bare = bare_consume_decode(bootstrap, settings, EVENTS)
            result |= {"bare_consume_decode_per_s": round(bare, 1),
                       "refold_to_bare_consume_decode": round(result["events_per_second"] / bare, 3)}
            result["floors_met"] = {
                f"refold of {FLOOR_EVENTS:,} events ≥ {FLOOR_RATE:,}/s":
                    EVENTS >= FLOOR_EVENTS and result["events_per_second"] >= FLOOR_RATE}
        else:
            result = {k: v for k, v in previous.items() if k not in ("benchmark", "at", "machine", "note")
                      and k not in TABLE_KEYS}
            result.setdefault("refold_at", previous.get("at"))
        if TABLE_ISSUES:
            result |= {"tables_at": _now(),
                       **asyncio.run(rss_with_issues(settings, bootstrap, Path(tmp) / "tables", TABLE_ISSUES))}
        else:  # the tables' figures of the previous result stay (they say when they were measured)
            result |= {k: v for k, v in previous.items() if k in TABLE_KEYS}
    if "peak_rss_mib_worker" in result:
        result.setdefault("floors_met", {})[f"{FLOOR_ISSUES:,} issues, worker's peak RSS ≤ {FLOOR_RSS_MIB} MiB"] = (
            result["table_issues"] >= FLOOR_ISSUES and result["peak_rss_mib_worker"] <= FLOOR_RSS_MIB)
    result["note"] = (
        "Refold: `okrate replay --rebuild-stats`'s batch job, as the command runs it (its partition numbers split "
        "over `refold_processes` processes), from "
        "reading the end offsets to the last snapshot made; the baseline of the same run is a bare "
        "confluent-kafka loop reading and decoding the same topics. Tables: one worker, rocksdb store, the issues "
        "put into the worker's `issues` and `stats-issues` tables through their changelogs, restored by a "
        "starting worker, then counted. RSS is the worker's own process (the generator runs in the "
        "benchmark's); the broker runs apart.")
    write_result("replay", result)
    return result


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


if __name__ == "__main__":
    main()
