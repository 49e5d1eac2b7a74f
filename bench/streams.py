"""`okrate bench streams`: raw webhooks per second through the streams worker (okdesk.events to
rating.requested), on one worker process and on two sharing the partitions, against baselines
measured in the same run: a bare confluent-kafka loop that only consumes and decodes the same
topic, one bare Faust agent that consumes and decodes it (what a Faust step costs before any okrate
code runs), and one that also sends a message per event (one hop of a pipeline). Floors: one
worker ≥ 0.6 × the bare consume+decode+send agent; two workers ≥ 1.3 × one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import faust
from confluent_kafka import Consumer, ConsumerGroupState, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from base.kafka_clients import consumer_config, producer_config
from base.links import link_record
from base.settings import load_settings
from base.topic_admin import ensure_topics
from bench.broker import bench_broker
from bench.common import write_result
from schemas.codec import decode, encode
from schemas.keys import contact_key
from schemas.records import OkdeskWebhookEnvelope, utc_now
from schemas.topics import CONTACT_LINKS, OKDESK_EVENTS, RATING_REQUESTED
from streams.app import StreamsConfig
from streams.assembly import create_app

EVENTS = int(os.environ.get("BENCH_STREAMS_EVENTS", "200000"))


def _status_body(dialect: str, issue: int, new: str, old: str | None, contact: int) -> bytes:
    if dialect == "seed":
        return json.dumps({"event": {"event_type": "issue.status_changed"}, "issue": {
            "id": issue, "title": f"Заявка {issue}", "status": {"code": new, "name": new},
            "old_status": {"code": old, "name": old} if old else None,
            "client": {"contact": {"id": contact}, "company": {"id": 147}}}}, ensure_ascii=False).encode()
    return json.dumps({"event": {"event_type": "new_ticket_status", "old_status": {"code": old, "name": old},
                                 "new_status": {"code": new, "name": new},
                                 "author": {"id": "3", "type": "employee"}},
                       "issue": {"id": str(issue), "title": f"Заявка {issue}", "status": {"code": new},
                                 "type": {"code": "service", "name": "Обслуживание"},
                                 "client": {"contact": {"id": str(contact)}, "company": {"id": "147", "name": "ООО"}},
                                 "assignee": {"group": {"id": "1", "name": "L1"}, "employee": {"id": "2"}}}},
                      ensure_ascii=False).encode()


def workload(events: int) -> tuple[list[tuple[str, bytes]], int]:
    """A realistic mix: each issue goes opened → in_progress → completed, one in eight is reopened
    and resolved again, one in five gets a duplicate delivery; returns (key, body) and the number
    of rating requests it must produce."""
    out: list[tuple[str, bytes]] = []
    requests, issue = 0, 100_000
    while len(out) < events:
        issue += 1
        dialect, contact = ("okdesk" if issue % 2 else "seed"), 1000 + issue % 5000
        steps = [("in_progress", "opened"), ("completed", "in_progress")]
        if issue % 8 == 0:
            steps += [("in_progress", "completed"), ("closed", "in_progress")]
        for new, old in steps:
            out.append((str(issue), _status_body(dialect, issue, new, old, contact)))
        if issue % 5 == 0:
            out.append(out[-1])
        requests += 2 if issue % 8 == 0 else 1
    return out, requests


def prefill(bootstrap: str, settings, items: list[tuple[str, bytes]]) -> None:
    producer = Producer(producer_config(bootstrap, **{"linger.ms": 20, "batch.num.messages": 10000}))
    topic = OKDESK_EVENTS.full_name(settings)
    for key, body in items:
        envelope = OkdeskWebhookEnvelope(delivery_id=str(uuid.uuid4()), received_at=utc_now(), body=body,
                                         path="/okdesk-webhook", issue_id=key)
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=encode(envelope))
                break
            except BufferError:
                producer.poll(0.1)
    links = CONTACT_LINKS.full_name(settings)
    for contact in range(1000, 6000):
        if contact % 10:  # nine in ten contacts are linked
            producer.produce(links, key=contact_key(str(contact)), value=encode(link_record(str(contact), "linked", "import", contact)))
    assert producer.flush(120) == 0


class _Counter:
    """Messages on a topic (the sum of its partitions' high watermarks), through one consumer kept
    for the whole wait: a new client per look costs the machine more than the look."""

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self._consumer = Consumer(consumer_config(bootstrap, f"bench-count-{uuid.uuid4().hex[:6]}"))
        self._parts: list[int] = []

    def __call__(self) -> int:
        try:
            if not self._parts:
                self._parts = list(self._consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions)
            return sum(self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                       for p in self._parts)
        except KafkaException:  # a topic just created may have no leader yet
            return 0

    def close(self) -> None:
        self._consumer.close()


def bare_loop(bootstrap: str, topic: str, total: int) -> float:
    """Consume and decode (envelope + JSON body) the whole topic: events per second."""
    consumer = Consumer(consumer_config(bootstrap, f"bench-bare-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([topic])
    done, started = 0, None
    while done < total:
        for msg in consumer.consume(1000, 5.0):
            if msg.error():
                continue
            started = started or time.perf_counter()
            json.loads(decode(msg.value()).body)
            done += 1
    consumer.close()
    return done / (time.perf_counter() - started)


async def faust_loop(bootstrap: str, topic: str, total: int, sink: str | None) -> float:
    """One bare Faust agent (same settings as the worker's where they matter): consume and decode
    every message, and with `sink` also send it on, as an agent step does; events per second."""
    app = faust.App(f"bench-faust-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}", store="memory://",
                    web_enabled=False, key_serializer="raw", value_serializer="raw",
                    consumer_auto_offset_reset="earliest", processing_guarantee="at_least_once",
                    producer_acks=-1, producer_linger=0.01, producer_compression_type="lz4",
                    broker_commit_interval=1.0)
    out = app.topic(sink) if sink else None
    finished = asyncio.Event()
    seen = {"n": 0, "started": 0.0}

    @app.agent(app.topic(topic), concurrency=1)
    async def step(stream):
        async for event in stream.events():
            if not seen["n"]:
                seen["started"] = time.perf_counter()
            json.loads(decode(event.value).body)
            if out is not None:
                await out.send(key=event.key, value=event.value, force=True)
            seen["n"] += 1
            if seen["n"] >= total:
                finished.set()

    await app.start()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), 1800)
        return seen["n"] / (time.perf_counter() - seen["started"])
    finally:
        await app.stop()


def _worker(prefix: str, source_prefix: str, bootstrap: str, app_id: str, data_dir: str, store: str,
            loop: str, cython: bool) -> None:
    """One streams worker process, as `okrate streams` runs it (killed by the parent when done)."""
    from streams.worker import install_loop

    install_loop(loop)
    settings = load_settings(_env_file=None, topic_prefix=prefix, kafka_bootstrap_servers=bootstrap)

    async def run() -> None:
        app = create_app(StreamsConfig(settings=settings, bootstrap=bootstrap, app_id=app_id, data_dir=Path(data_dir),
                                       store=store, source_prefix=source_prefix, cython_optimizations=cython))
        await app.faust.start()
        await asyncio.Event().wait()

    asyncio.run(run())


class _GroupWatch:
    """Whether every worker of a Faust application holds partitions: its consumer group (the app
    id) is stable with that many members, each assigned some."""

    def __init__(self, bootstrap: str, group: str, members: int):
        self._admin, self._group, self._members = AdminClient({"bootstrap.servers": bootstrap}), group, members

    def whole(self) -> bool:
        try:
            description = self._admin.describe_consumer_groups([self._group], request_timeout=5)[self._group].result()
        except KafkaException:  # not known yet
            return False
        return (description.state == ConsumerGroupState.STABLE and len(description.members) == self._members
                and all(m.assignment.topic_partitions for m in description.members))


class Run(NamedTuple):
    seconds: float  # from the first output after every worker held partitions until `expected` were out
    produced: int
    produced_before: int  # requests already out at that moment
    start_seconds: float  # from the processes' start until that moment

    def events_per_s(self, events: int) -> float:
        """Raw events per second, counted by the requests they made (spread evenly over the workload)."""
        return events * (self.produced - self.produced_before) / self.produced / self.seconds


def streams_rate(settings, bootstrap: str, expected: int, data_dir: Path, store: str, *, workers: int = 1,
                 loop: str = "asyncio", cython: bool = False) -> Run:
    """`workers` worker processes sharing the partitions read the prefilled raw topics and write
    under a prefix of their own, until `expected` requests are on `rating.requested`. Timed from
    the first output after every worker holds partitions, as the bare agents are timed from their
    first event: a worker's start (a process, its imports, the group's join, and with two the
    rebalance that the second one's join makes, during which neither processes anything) is
    reported apart."""
    scratch = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}w{uuid.uuid4().hex[:4]}-"})
    ensure_topics(bootstrap, scratch)
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, daemon=True, args=(
        scratch.topic_prefix, settings.topic_prefix, bootstrap, app_id, str(data_dir / f"{app_id}-{n}"), store,
        loop, cython)) for n in range(workers)]
    count, group = _Counter(bootstrap, RATING_REQUESTED.full_name(scratch)), _GroupWatch(bootstrap, app_id, workers)
    for process in processes:
        process.start()
    started = time.perf_counter()
    whole_at: int | None = None  # requests out when the group was first seen whole
    timed: tuple[float, int] | None = None  # (when, requests out then): the first output after it
    try:
        while True:
            produced = count()
            now = time.perf_counter()
            if whole_at is None and group.whole():
                whole_at = produced
            elif whole_at is not None and timed is None and produced > whole_at:
                timed = (now, produced)  # the workers are past the assignment's recovery
            if produced >= expected or now - started > 1800:
                break
            if any(not p.is_alive() for p in processes):
                raise RuntimeError("a streams worker died during the benchmark")
            time.sleep(0.5 if timed is not None else 0.05)
        at, before = timed or (started, 0)
        return Run(now - at, produced, before, at - started)
    finally:
        count.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(30)


def main() -> dict:
    items, expected = workload(EVENTS)
    store = os.environ.get("BENCH_STREAMS_STORE", "rocksdb://")
    loop = os.environ.get("BENCH_STREAMS_LOOP", "uvloop")
    cython = os.environ.get("BENCH_STREAMS_CYTHON", "1") == "1"
    with bench_broker() as bootstrap, tempfile.TemporaryDirectory(prefix="okrate-bench-streams-") as tmp:
        settings = load_settings(_env_file=None, topic_prefix=f"bench{uuid.uuid4().hex[:6]}-", kafka_bootstrap_servers=bootstrap)
        ensure_topics(bootstrap, settings)
        prefill(bootstrap, settings, items)
        source = OKDESK_EVENTS.full_name(settings)
        bare = bare_loop(bootstrap, source, len(items))
        sink_settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}sink-"})
        ensure_topics(bootstrap, sink_settings, [OKDESK_EVENTS])
        faust_consume = asyncio.run(faust_loop(bootstrap, source, len(items), None))
        faust_step = asyncio.run(faust_loop(bootstrap, source, len(items), OKDESK_EVENTS.full_name(sink_settings)))
        one = streams_rate(settings, bootstrap, expected, Path(tmp), store, loop=loop, cython=cython)
        two = (streams_rate(settings, bootstrap, expected, Path(tmp), store, workers=2, loop=loop, cython=cython)
               if os.environ.get("BENCH_STREAMS_TWO_WORKERS", "1") == "1" else None)
        # The same worker on the standard asyncio loop without Faust's Cython paths: what the two earn.
        plain = (streams_rate(settings, bootstrap, expected, Path(tmp), store, loop="asyncio", cython=False)
                 if os.environ.get("BENCH_STREAMS_PLAIN", "1") == "1" else None)
    rate = one.events_per_s(len(items))
    two_rate = two.events_per_s(len(items)) if two else None
    floor_ratio = 0.6
    result = {
        "events": len(items), "requests_expected": expected, "requests_seen": one.produced,
        "store": store, "loop": loop, "cython_optimizations": cython,
        "worker_events_per_s": round(rate, 1), "bare_consume_decode_per_s": round(bare, 1),
        "ratio_to_bare": round(rate / bare, 3), "seconds": round(one.seconds, 1),
        "start_seconds": round(one.start_seconds, 1),
        "two_workers_start_seconds": round(two.start_seconds, 1) if two else None,
        "two_workers_requests_before_timing": two.produced_before if two else None,
        "bare_faust_agent_consume_decode_per_s": round(faust_consume, 1),
        "bare_faust_agent_consume_decode_send_per_s": round(faust_step, 1),
        "ratio_to_bare_faust_step": round(rate / faust_step, 3),
        "two_workers_events_per_s": round(two_rate, 1) if two_rate else None,
        "plain_asyncio_no_cython_events_per_s": round(plain.events_per_s(len(items)), 1) if plain else None,
        "two_workers_ratio": round(two_rate / rate, 3) if two_rate else None,
        "floors_met": {"one_worker_0.6_x_faust_step": rate / faust_step >= floor_ratio,
                       **({"two_workers_1.3_x_one": two_rate / rate >= 1.3} if two_rate else {})},
        "note": "The bare Faust agents run on asyncio without Cython paths, as faust-streaming does by default; the "
                "workers run with the loop and cython_optimizations named here. Every rate is timed from the first event "
                "a process could handle: the workers' from their first output once each of them held partitions (start_seconds "
                "is the time before it, from the processes' start: imports, the group's join, and with two "
                "workers the rebalance the second one's join makes). requests_seen counts messages on "
                "rating.requested (an undeliverable request is one message; a correction by the contacts' side or a "
                "duplicate trigger can add more).",
    }
    write_result("streams", result)
    return result


if __name__ == "__main__":
    main()
