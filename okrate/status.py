"""`okrate status`: what an operator checks first. The deployment (its name, its consumer groups and
its topics on the cluster), each service's health, consumer lag per topic, open, undeliverable and
expired requests, failed writes to Okdesk, dead letters in the last day."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from base import names
from base.consumer_lag import group_lag
from base.kafka_clients import consumer_config
from base.settings import Settings
from base.topic_reader import read_to_end
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
    deployment: str = ""
    topic_prefix: str = ""
    groups: dict[str, dict[str, str]] = field(default_factory=dict)  # what -> {"group", "state"}
    topics: dict[str, int] = field(default_factory=dict)  # the deployment's topics on the cluster -> partitions
    missing_topics: list[str] = field(default_factory=list)  # the catalogue's, not created yet
    scratch_topics: int = 0  # left by replays and statistics rebuilds
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
    for message in read_to_end(bootstrap, RATING_STATS.full_name(settings), group=names.reader_group(settings, "status")):
        if message.key == b"all":
            try:
                latest = decode(message.value, (StatsSnapshot,))
            except DecodeError:
                continue
    return latest


def failed_okdesk_writes(bootstrap: str, settings: Settings) -> int:
    count = 0
    for message in read_to_end(bootstrap, NOTIFIER_OUTCOMES.full_name(settings),
                               group=names.reader_group(settings, "status")):
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


def messages_since(bootstrap: str, topic: str, since_ms: int, reader: str | None = None) -> int:
    consumer = Consumer(consumer_config(bootstrap, reader or f"okrate-status-{uuid.uuid4().hex[:8]}"))
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


def _group_state(admin: AdminClient, group: str) -> str:
    try:
        description = admin.describe_consumer_groups([group], request_timeout=20)[group].result()
    except KafkaException as exc:
        return "none yet" if "GROUP_ID_NOT_FOUND" in str(exc) else f"unknown ({exc})"
    state = str(getattr(description.state, "name", description.state)).lower()
    if state in ("dead", "unknown") and not description.members:
        return "none yet"
    return f"{state}, {len(description.members)} member{'s' if len(description.members) != 1 else ''}"


def deployment(settings: Settings, bootstrap: str) -> Status:
    """The deployment's name, its consumer groups (with their state on the cluster) and its topics."""
    from schemas.topics import ALL_TOPICS

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    status = Status(deployment=names.deployment(settings), topic_prefix=settings.topic_prefix)
    status.groups = {what: {"group": group, "state": _group_state(admin, group)}
                     for what, group in names.groups(settings).items()}
    existing = {name: len(meta.partitions) for name, meta in admin.list_topics(timeout=20).topics.items()}
    owned = names.owned_topics(settings, existing)
    status.topics = {name: existing[name] for name in owned}
    status.missing_topics = [spec.full_name(settings) for spec in ALL_TOPICS if spec.full_name(settings) not in existing]
    status.scratch_topics = len(names.scratch_topics(settings, existing))
    return status


def gather(settings: Settings, bootstrap: str) -> Status:
    from notifier.service import group_id

    reader = names.reader_group(settings, "status")
    status = deployment(settings, bootstrap)
    status.services = service_health(settings)
    status.lag["streams"] = group_lag(bootstrap, names.streams_app_id(settings),
                                      [s.full_name(settings) for s in STREAMS_INPUTS], reader)
    status.lag["notifier"] = {}
    for role, spec in NOTIFIER_INPUTS.items():
        for topic, behind in group_lag(bootstrap, group_id(settings, role), [spec.full_name(settings)], reader).items():
            status.lag["notifier"][f"{topic} ({role})"] = behind
    status.requests = request_counts(_latest_all(bootstrap, settings))
    status.failed_okdesk_writes = failed_okdesk_writes(bootstrap, settings)
    status.sweep = sweep_figures(bootstrap, settings)
    day_ago = int((time.time() - timedelta(days=1).total_seconds()) * 1000)
    status.dead_letters_last_day = messages_since(bootstrap, DEADLETTER.full_name(settings), day_ago, reader)
    return status


def render(status: Status) -> str:
    if status.topic_prefix:
        lines = [f"deployment: {status.deployment} (TOPIC_PREFIX={status.topic_prefix})"]
    else:
        lines = ["deployment: the default one (no TOPIC_PREFIX: okrate's original names)"]
    lines.append("consumer groups:")
    lines += [f"  {what:24} {g['group']:48} {g['state']}" for what, g in status.groups.items()]
    lines.append(f"topics ({len(status.topics)} on the cluster):")
    lines += [f"  {name:60} {partitions} partitions" for name, partitions in status.topics.items()]
    if status.missing_topics:
        lines.append(f"  not created yet: {', '.join(status.missing_topics)}")
    if status.scratch_topics:
        lines.append(f"  scratch topics left by replays and rebuilds: {status.scratch_topics}")
    lines.append("services:")
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
