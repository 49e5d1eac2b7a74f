"""`okrate status`: what an operator checks first. Each service's health, consumer lag per topic,
open, undeliverable and expired requests, failed writes to Okdesk, dead letters in the last day."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from confluent_kafka import Consumer, TopicPartition

from okrate.consumer_lag import group_lag
from okrate.kafka_clients import consumer_config
from okrate.settings import Settings
from okrate.topic_reader import read_to_end
from schemas.codec import DecodeError, decode
from schemas.records import RatingRequested, SideEffectOutcome, StatsSnapshot
from schemas.topics import (
    CLOCK_TICKS,
    CONTACT_LINKS,
    DEADLETTER,
    NOTIFIER_OUTCOMES,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    TELEGRAM_UPDATES,
)

STREAMS_INPUTS = (OKDESK_EVENTS, TELEGRAM_UPDATES, CONTACT_LINKS, REQUESTS_BY_CONTACT,
                  REQUESTS_BY_ISSUE, CLOCK_TICKS, RATING_RECEIVED, NOTIFIER_OUTCOMES)
NOTIFIER_INPUTS = {"callbacks": TELEGRAM_UPDATES, "requests": RATING_REQUESTED, "decisions": RATING_RECORDED}


@dataclass
class Status:
    services: dict[str, str] = field(default_factory=dict)
    lag: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    failed_okdesk_writes: int = 0
    dead_letters_last_day: int = 0
    sweep: dict[str, str | int | None] = field(default_factory=dict)


def _http(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError as exc:
        return 0, str(exc)


def service_health(settings: Settings, host: str = "127.0.0.1") -> dict[str, str]:
    health = {}
    status, _ = _http(f"http://{host}:{settings.ingest_port}/healthz")
    ready, _ = _http(f"http://{host}:{settings.ingest_port}/readyz")
    health["ingest"] = "down" if status != 200 else ("up, Kafka reachable" if ready == 200 else "up, Kafka unreachable")
    status, _ = _http(f"http://{host}:{settings.stats_port}/metrics")
    health["streams"] = "up" if status == 200 else "down (no answer on STATS_PORT)"
    status, body = _http(f"http://{host}:{settings.notifier_port}/healthz")
    role = json.loads(body).get("role", "?") if status == 200 else None
    health["notifier"] = f"up, {role}" if role else "down (no answer on NOTIFIER_PORT)"
    return health


def request_counts(snapshot: StatsSnapshot | None) -> dict[str, int]:
    """Open = sent − rated − expired − closed (undeliverable ones are open too: a late link may still reach them)."""
    if snapshot is None:
        return {}
    closed = sum(snapshot.requests_closed.values())
    return {
        "sent": snapshot.requests_sent, "delivered": snapshot.requests_delivered,
        "undeliverable": snapshot.requests_undeliverable, "rated": snapshot.ratings_count,
        "expired": snapshot.requests_expired, "closed": closed,
        "open": max(0, snapshot.requests_sent - snapshot.ratings_count - snapshot.requests_expired - closed),
    }


def _latest_all(bootstrap: str, settings: Settings) -> StatsSnapshot | None:
    latest = None
    for message in read_to_end(bootstrap, RATING_STATS.full_name(settings)):
        if message.key == b"all":
            try:
                latest = decode(message.value, (StatsSnapshot,))
            except DecodeError:
                continue
    return latest


def failed_okdesk_writes(bootstrap: str, settings: Settings) -> int:
    count = 0
    for message in read_to_end(bootstrap, NOTIFIER_OUTCOMES.full_name(settings)):
        try:
            record = decode(message.value)
        except DecodeError:
            continue
        if isinstance(record, SideEffectOutcome) and record.status == "failed" and record.kind.startswith("okdesk."):
            count += 1
    return count


def sweep_figures(bootstrap: str, settings: Settings) -> dict[str, str | int | None]:
    """The sweep's last run (from its position on notifier.outcomes) and the cycles it started
    (requests whose trigger is a sweep's observation)."""
    last: SideEffectOutcome | None = None
    sweeps = appended = 0
    for message in read_to_end(bootstrap, NOTIFIER_OUTCOMES.full_name(settings)):
        try:
            record = decode(message.value)
        except DecodeError:
            continue
        if isinstance(record, SideEffectOutcome) and record.kind == "okdesk.sweep":
            last = record
            if "seen" in record.details:
                sweeps += 1
                appended += int(record.details.get("appended") or 0)
    started: set[str] = set()
    for message in read_to_end(bootstrap, RATING_REQUESTED.full_name(settings)):
        try:
            record = decode(message.value)
        except DecodeError:
            continue
        if isinstance(record, RatingRequested) and record.trigger_origin == "sweep":
            started.add(record.request_id)
    if last is None:
        return {}
    details = last.details
    return {"floor": details.get("floor"), "last_sweep_at": details.get("at") if "seen" in details else None,
            "last_issues_seen": int(details.get("seen") or 0), "sweeps": sweeps, "observations": appended,
            "cycles_started": len(started)}


def messages_since(bootstrap: str, topic: str, since_ms: int) -> int:
    consumer = Consumer(consumer_config(bootstrap, f"okrate-status-{uuid.uuid4().hex[:8]}"))
    try:
        metadata = consumer.list_topics(topic, timeout=20).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        partitions = [TopicPartition(topic, p, since_ms) for p in metadata.partitions]
        total = 0
        for found in consumer.offsets_for_times(partitions, timeout=20):
            high = consumer.get_watermark_offsets(TopicPartition(topic, found.partition), timeout=20)[1]
            total += 0 if found.offset < 0 else high - found.offset
        return total
    finally:
        consumer.close()


def gather(settings: Settings, bootstrap: str) -> Status:
    from notifier.service import group_id

    status = Status(services=service_health(settings))
    status.lag["streams"] = group_lag(bootstrap, settings.streams_app_id, [s.full_name(settings) for s in STREAMS_INPUTS])
    status.lag["notifier"] = {}
    for role, spec in NOTIFIER_INPUTS.items():
        for topic, behind in group_lag(bootstrap, group_id(settings, role), [spec.full_name(settings)]).items():
            status.lag["notifier"][f"{topic} ({role})"] = behind
    status.requests = request_counts(_latest_all(bootstrap, settings))
    status.failed_okdesk_writes = failed_okdesk_writes(bootstrap, settings)
    status.sweep = sweep_figures(bootstrap, settings)
    day_ago = int((time.time() - timedelta(days=1).total_seconds()) * 1000)
    status.dead_letters_last_day = messages_since(bootstrap, DEADLETTER.full_name(settings), day_ago)
    return status


def render(status: Status) -> str:
    lines = ["services:"]
    lines += [f"  {name:10} {state}" for name, state in status.services.items()]
    for who, lags in status.lag.items():
        lines.append(f"consumer lag ({who}):")
        lines += [f"  {topic:48} {behind}" for topic, behind in lags.items()] or ["  (nothing consumed yet)"]
    if status.requests:
        r = status.requests
        lines.append(f"requests: {r['open']} open, {r['undeliverable']} undeliverable, {r['expired']} expired, "
                     f"{r['rated']} rated, {r['closed']} closed, of {r['sent']} sent")
    else:
        lines.append("requests: no statistics yet")
    lines.append(f"failed writes to Okdesk: {status.failed_okdesk_writes}")
    lines.append(f"dead letters in the last day: {status.dead_letters_last_day}")
    w = status.sweep
    if w:
        lines.append(f"sweep (since {w['floor']}): last {w['last_sweep_at'] or 'not yet'}, "
                     f"{w['last_issues_seen']} issues seen then; {w['sweeps']} sweeps, "
                     f"{w['observations']} observations, {w['cycles_started']} cycles started")
    else:
        lines.append("sweep: not started (OKDESK_SWEEP_EVERY off, or no active notifier yet)")
    return "\n".join(lines)


def as_json(status: Status) -> str:
    return json.dumps(status.__dict__, ensure_ascii=False, indent=2)
