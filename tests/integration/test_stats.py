"""Streams III through the real broker: a scripted history on the decision topics gives the
expected figures on `rating.stats` and `GET /stats`; a refold from offset 0 into a fresh
application gives identical snapshots; redelivered events do not double counts; two workers give
the same figures as one."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from schemas.codec import decode, encode
from schemas.records import (
    IssueEvent,
    PortalRatingRecorded,
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingRejected,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    Record,
    SideEffectOutcome,
    StatsSnapshot,
)
from schemas.topics import (
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    TopicSpec,
)
from streams.app import StreamsApp, StreamsConfig
from streams.assembly import create_app
from streams.stats.facts import contribute
from streams.stats.fold import fold_many
from streams.stats.snapshot import snapshot
from tests.kafka_helpers import caught_up, read_topic
from tests.streams_harness import Feeder

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 11, 29, 21, 30, tzinfo=UTC)  # 2026-11-30 00:30 in Moscow
TOKEN = "s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def worker(settings, bootstrap: str, data_dir: Path, app_id: str,
                 web_port: int | None = None, store: str = "rocksdb://") -> AsyncIterator[StreamsApp]:
    # The statistics agents alone, over decision records these tests write straight into the
    # decision topics (a live worker fans out its own decisions in-process: test_streams_ratings
    # proves its figures are the same fold).
    app = create_app(StreamsConfig(settings=settings, bootstrap=bootstrap, app_id=app_id,
                                   data_dir=data_dir, store=store, metadata_max_age_ms=1000,
                                   web_port=web_port, agents=("stats",)))
    await app.faust.start()
    try:
        yield app
    finally:
        await app.faust.stop()


ISSUES = {  # issue: (company, assignee, group, type, hours to resolve, minutes to react)
    "101": ("1", "7", "3", "printer", 2, 10),
    "102": ("1", "7", "3", "mail", 5, 30),
    "103": ("2", "8", "3", "printer", 30, None),
    "104": ("2", "8", "4", "printer", 1, 5),
    "105": ("1", "9", "4", "vpn", 48, 60),
}
SCORES = {"101": 5, "102": 4, "103": 2, "104": 1}  # 105: no answer, expires


def history() -> list[tuple[TopicSpec, str, Record]]:
    out: list[tuple[TopicSpec, str, Record]] = []
    for n, (issue, (company, assignee, group, type_, hours, react)) in enumerate(ISSUES.items()):
        attrs = {"company_id": company, "assignee_employee_id": assignee, "assignee_group_id": group,
                 "type_code": type_}
        created = T0 - timedelta(hours=hours)
        resolved = T0 + timedelta(minutes=n)
        for i, (kind, at) in enumerate((("created", created), ("status_changed", resolved))):
            out.append((ISSUE_EVENTS, issue, IssueEvent(
                event_id=f"issue-event/{issue}/{i}", kind=kind, dialect="seed", issue_id=issue,
                event_time=at, delivery_id=f"{issue}-{i}", source_topic="okdesk.events",
                source_partition=0, source_offset=i, created_at=created,
                reacted_at=created + timedelta(minutes=react) if react is not None and i else None, **attrs)))
        rid = f"{issue}/c1"
        deliverable = issue != "103"  # 103 has no link at first: addressed a day later
        out.append((RATING_REQUESTED, issue, RatingRequested(
            event_id=f"{rid}/x", request_id=rid, issue_id=issue, cycle=1, requested_at=resolved,
            trigger_partition=0, trigger_offset=1, issue_created_at=created, deliverable=deliverable,
            recipient_user_id=50 if deliverable else None, addressed_at=resolved, **attrs)))
        if issue == "103":
            out.append((RATING_REQUESTED, issue, RatingRequested(
                event_id=f"{rid}/late", request_id=rid, issue_id=issue, cycle=1, requested_at=resolved,
                trigger_partition=0, trigger_offset=1, issue_created_at=created, deliverable=True,
                recipient_user_id=51, addressed_at=resolved + timedelta(days=1), **attrs)))
        sent_at = resolved + timedelta(days=1 if issue == "103" else 0, seconds=3)
        out.append((NOTIFIER_OUTCOMES, issue, SideEffectOutcome(
            idempotency_key=f"{rid}/send", kind="telegram.send_request", status="ok", issue_id=issue,
            request_id=rid, completed_at=sent_at)))
        if issue in SCORES:
            pressed = sent_at + timedelta(minutes=20)
            out.append((RATING_RECORDED, issue, RatingRecorded(
                event_id=f"{rid}/rated", request_id=rid, issue_id=issue, score=SCORES[issue],
                from_user_id=50, update_id=n, requested_at=resolved, pressed_at=pressed, **attrs)))
            out.append((RATING_RECORDED, issue, RatingRejected(
                event_id=f"{rid}/again", request_id=rid, issue_id=issue, reason="already_rated",
                score=3, from_user_id=50, update_id=100 + n, pressed_at=pressed)))
        else:
            out.append((RATING_REQUESTED, issue, RatingReminder(
                event_id=f"{rid}/reminder/1", request_id=rid, issue_id=issue,
                reminded_at=resolved + timedelta(days=1))))
            out.append((RATING_REQUESTED, issue, RatingExpired(
                event_id=f"{rid}/expired", request_id=rid, issue_id=issue,
                expired_at=resolved + timedelta(days=7))))
    out.append((RATING_RECORDED, "104", ReasonRecorded(
        event_id="104/c1/reason/slow", request_id="104/c1", issue_id="104", score=1, reason_code="slow",
        from_user_id=50, update_id=200, given_at=T0 + timedelta(minutes=30), company_id="2",
        assignee_employee_id="8", assignee_group_id="4", type_code="printer")))
    # Issue 106: closed as deleted before any answer; the send was refused by Telegram.
    attrs = {"company_id": "2", "assignee_employee_id": "8", "assignee_group_id": "4", "type_code": "mail"}
    out.append((RATING_REQUESTED, "106", RatingRequested(
        event_id="106/c1/x", request_id="106/c1", issue_id="106", cycle=1, requested_at=T0,
        trigger_partition=0, trigger_offset=1, deliverable=True, recipient_user_id=52, **attrs)))
    out.append((NOTIFIER_OUTCOMES, "106", SideEffectOutcome(
        idempotency_key="106/c1/send", kind="telegram.send_request", status="undeliverable",
        issue_id="106", request_id="106/c1", completed_at=T0 + timedelta(seconds=2))))
    out.append((RATING_REQUESTED, "106", RatingClosed(
        event_id="106/c1/closed", request_id="106/c1", issue_id="106", reason="deleted",
        closed_at=T0 + timedelta(hours=1))))
    out.append((RATING_RECORDED, "106", PortalRatingRecorded(
        event_id="106/portal", request_id="106/c1", issue_id="106", rate="bad",
        rated_at=T0 + timedelta(hours=1), **attrs)))
    return out


def feed(feeder: Feeder, items) -> None:
    for spec, key, record in items:
        feeder.producer.produce(spec.full_name(feeder.settings), key=key.encode(), value=encode(record))
    assert feeder.producer.flush(30) == 0


def expected_snapshots(items, tz: str) -> dict[str, bytes]:
    """What the pure rules say, for comparison with what went through Kafka and Faust."""
    states: dict[str, object] = {}
    by_dim: dict[str, list] = {}
    offsets: dict[str, int] = {}
    for spec, key, record in items:
        pos = f"{spec.name}:{key}:{offsets.setdefault(spec.name + key, 0)}"
        offsets[spec.name + key] += 1
        states[key], effects = contribute(states.get(key), record, pos, tz)
        for dim, effect in effects.items():
            by_dim.setdefault(dim, []).append((effect, pos.replace(f":{key}:", f":{key}/")))
    return {dim: encode(snapshot(fold_many(None, dim, [(e, p.replace("/", "-") + ":0") for e, p in items])[0]))
            for dim, items in by_dim.items()}


def latest(bootstrap: str, settings, after: dict[int, int] | None = None) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for r in read_topic(bootstrap, RATING_STATS.full_name(settings)):
        if after is None or r.offset >= after.get(r.partition, 0):
            out[r.key.decode()] = r.value
    return out


def ends(bootstrap: str, settings) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in read_topic(bootstrap, RATING_STATS.full_name(settings)):
        out[r.partition] = r.offset + 1
    return out


async def converged(bootstrap: str, settings, want: dict[str, bytes], after=None, timeout=45.0) -> dict[str, bytes]:
    deadline = asyncio.get_running_loop().time() + timeout
    have: dict[str, bytes] = {}
    while asyncio.get_running_loop().time() < deadline:
        have = await asyncio.to_thread(latest, bootstrap, settings, after)
        if have == want:
            return have
        await asyncio.sleep(0.5)
    diff = {d: (decode(have[d]) if d in have else None, decode(want[d]) if d in want else None)
            for d in set(have) | set(want) if have.get(d) != want.get(d)}
    raise AssertionError(f"rating.stats did not converge: {diff!r}"[:4000])


def check_figures(snaps: dict[str, bytes]) -> None:
    every = decode(snaps["all"])
    assert isinstance(every, StatsSnapshot)
    assert (every.ratings_count, every.ratings_sum, every.ratings_average) == (4, 12, 3.0)
    assert every.score_counts == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 1}
    assert (every.requests_sent, every.requests_delivered, every.requests_undeliverable) == (6, 5, 2)
    assert (every.requests_reminded, every.requests_expired) == (1, 1)
    assert every.requests_closed == {"deleted": 1} and every.portal_rate_counts == {"bad": 1}
    assert every.response_rate == 0.8
    assert every.resolution_time_count == 5
    assert every.resolution_time_p50_seconds == 5 * 3600 + 60  # 102: 5 h (+1 min of staggering)
    assert every.resolution_time_p90_seconds == 48 * 3600 + 4 * 60
    assert every.reaction_time_count == 4 and every.reaction_time_p50_seconds == 600
    assert every.top_types == {"printer": 3, "mail": 1, "vpn": 1}
    assert every.top_low_score_types == {"printer": 2} and every.top_reasons == {"slow": 1}
    assert every.updated_at == T0 + timedelta(minutes=4, days=7)  # 105's expiry: event time
    company1 = decode(snaps["company:1"])
    assert (company1.ratings_count, company1.ratings_average, company1.requests_expired) == (2, 4.5, 1)
    late_day = decode(snaps["day:2026-12-01"])  # 103 addressed and delivered a day late
    assert (late_day.requests_sent, late_day.requests_delivered, late_day.ratings_count) == (1, 1, 1)
    assert decode(snaps["week:2026-W49"]).ratings_count == 4


async def get_stats(port: int, token: str | None, dimension: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"dimension": dimension} if dimension else {}
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/stats", headers=headers, params=params) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_figures_stats_page_redelivery_and_refold(settings_for, kafka_bootstrap, tmp_path):
    settings = settings_for(admin_token=TOKEN)
    items = history()
    want = expected_snapshots(items, settings.stats_timezone)
    feeder = Feeder(settings, kafka_bootstrap)
    feed(feeder, items)
    port = free_port()
    app_id = f"okrate-test-{uuid.uuid4().hex[:8]}"
    async with worker(settings, kafka_bootstrap, tmp_path / "w1", app_id, web_port=port):
        first = await converged(kafka_bootstrap, settings, want)
        check_figures(first)

        # GET /stats: guarded, complete, and the same figures.
        assert (await get_stats(port, None))[0] == 401
        assert (await get_stats(port, "wrong"))[0] == 401
        status, doc = await get_stats(port, TOKEN)
        assert status == 200 and set(doc["dimensions"]) == set(want)
        assert doc["dimensions"]["all"]["ratings_average"] == 3.0
        assert doc["dimensions"]["all"]["updated_at"] == "2026-12-06T21:34:00Z"
        status, one = await get_stats(port, TOKEN, "company:1")
        assert status == 200 and one["ratings_count"] == 2 and one["dimension"] == "company:1"
        assert (await get_stats(port, TOKEN, "company:nope"))[0] == 404

        # Redelivered decisions (every event once more, at new offsets): no figure moves. First
        # the worker consumed (and committed) every redelivered offset, then the figures are as before.
        feed(feeder, items)
        fed = {spec.full_name(settings) for spec, _, _ in items}
        await caught_up(kafka_bootstrap, app_id, fed)
        assert await asyncio.to_thread(latest, kafka_bootstrap, settings) == want

    # A refold from offset 0 into a fresh application (its own repartition topic and tables).
    mark = await asyncio.to_thread(ends, kafka_bootstrap, settings)
    async with worker(settings, kafka_bootstrap, tmp_path / "w2", f"okrate-test-{uuid.uuid4().hex[:8]}"):
        await converged(kafka_bootstrap, settings, want, after=mark)


async def settled(*apps: StreamsApp, timeout: float = 40.0) -> None:
    """Until every worker has its share of the partitions and no rebalance is under way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    steady_since = None
    while loop.time() < deadline:
        ok = all(app.faust.consumer.assignment() and not app.faust.rebalancing for app in apps)
        steady_since = (steady_since or loop.time()) if ok else None
        if steady_since is not None and loop.time() - steady_since > 2:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the workers did not settle")


async def test_two_workers_give_the_same_figures_as_one(settings_for, kafka_bootstrap, tmp_path):
    """Two workers of one application (the production store, rocksdb, separate data folders and
    web ports) share the partitions and publish exactly the figures one worker does."""
    settings = settings_for()
    items = history()
    want = expected_snapshots(items, settings.stats_timezone)
    app_id = f"okrate-test-{uuid.uuid4().hex[:8]}"
    port_a, port_b = free_port(), free_port()
    async with worker(settings, kafka_bootstrap, tmp_path / "a", app_id, port_a, "rocksdb://") as a, \
            worker(settings, kafka_bootstrap, tmp_path / "b", app_id, port_b, "rocksdb://") as b:
        await settled(a, b)
        events = ISSUE_EVENTS.full_name(settings)
        shares = [{tp.partition for tp in w.faust.consumer.assignment() if tp.topic == events} for w in (a, b)]
        assert shares[0] and shares[1] and shares[0].isdisjoint(shares[1])  # both really work
        feed(Feeder(settings, kafka_bootstrap), items)
        check_figures(await converged(kafka_bootstrap, settings, want, timeout=40))
        for port in (port_a, port_b):  # either worker answers for every dimension
            status, doc = await get_stats(port, None)
            assert status == 200 and set(doc["dimensions"]) == set(want)
