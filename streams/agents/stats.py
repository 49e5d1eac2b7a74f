"""Statistics: decisions folded into a table per dimension, published to `rating.stats`.

The fan-out (each figure has exactly one owner, however many workers share the partitions):
decisions are folded per issue into the facts each issue has established (`streams.stats.facts`,
table `stats-issues`, written in the event's partition), and the effects gathered in a batch
(`streams.stats.batch`) are sent as one `StatsEffects` message per dimension to the internal
topic `<app id>.stats.by-dimension`, keyed by dimension, when the batch is full or at the latest
every `stats_batching.every_s` (see `StreamsConfig`). The live worker's issue agent does this
in-process for the decisions it makes (`streams.agents.stats_inline`); `stats-fanout` here does
it as an agent of its own over the four decision topics, for an application that only keeps
statistics of decisions made elsewhere (`agents=("stats",)`). Either way an event is acked only
once the broker has acknowledged the batch holding its effects, so no offset is committed before
what it caused was stored; a batch that cannot be delivered stops the worker rather than let a
later batch pass it; a restart redelivers the unacked events, their facts are emitted again,
identically, and the fold skips them by position. A dimension receives one source partition's
effects in that partition's order, which the fold's dedup relies on. (Faust's own `take_events`
batching lost messages under load in faust-streaming 0.15.3, which is why the batch is kept here.)

`stats-fold` reads that topic, keeps the `stats` table (one `DimensionState` per dimension, JSON)
and publishes the dimension's snapshot to the compacted `rating.stats` after every message, so the
latest record per key is always the figure of everything folded (compaction keeps one per
dimension): one table write and one snapshot per dimension per batch.

A fresh application id (a reprocess) gets its own repartition topic, created here; the
deployment's own application (`<prefix>okrate-streams`, see `base.names`) uses the catalogue's
`<prefix>okrate-streams.stats.by-dimension`. A refold of the decision topics (`okrate replay
--rebuild-stats`) is a batch job without Faust (`okrate.rebuild_stats`, `streams.stats.refold`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from base.names import application_of
from base.topic_admin import ensure_topics
from schemas.codec import encode
from schemas.keys import dimension_key
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
    SideEffectIntent,
    SideEffectOutcome,
    StatsEffects,
)
from schemas.topics import (
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    STATS_BY_DIMENSION,
    TopicSpec,
    repartition_topic,
)
from streams.agents.inbox import receive, reject
from streams.state_codec import StateCodec
from streams.stats.batch import EffectBatch, items_of
from streams.stats.facts import IssueStats, contribute
from streams.stats.fold import DimensionState, fold_many, position
from streams.stats.snapshot import snapshot

if TYPE_CHECKING:
    from streams.app import StreamsApp

log = logging.getLogger("okrate.streams.stats")

FANOUT = "stats-fanout"
FOLD = "stats-fold"
ISSUES_TABLE = "stats-issues"
DIMENSIONS_TABLE = "stats"

INPUTS: dict[TopicSpec, tuple[type, ...]] = {
    ISSUE_EVENTS: (IssueEvent,),
    RATING_REQUESTED: (RatingRequested, RatingReminder, RatingExpired, RatingClosed),
    RATING_RECORDED: (RatingRecorded, RatingRejected, ReasonRecorded, PortalRatingRecorded),
    NOTIFIER_OUTCOMES: (SideEffectIntent, SideEffectOutcome),
}
ISSUES_CODEC = StateCodec(IssueStats)
DIMENSIONS_CODEC = StateCodec(DimensionState)


def by_dimension_topic(app: StreamsApp) -> TopicSpec:
    """The application's own repartition topic (the catalogue's one for the deployment's own application)."""
    spec = repartition_topic("stats", "dimension", carries=STATS_BY_DIMENSION.carries, key="dimension",
                             application=application_of(app.settings, app.config.app_id))
    return STATS_BY_DIMENSION if spec.name == STATS_BY_DIMENSION.name else spec


def register(app: StreamsApp, *, fanout_agent: bool) -> None:
    """The fold and the views; with `fanout_agent`, also the fan-out as an agent of its own over
    the decision topics (a rebuild's scratch application). The live worker's issue agent fans out
    in-process instead (`streams.agents.stats_inline`)."""
    from streams.web import stats_view

    by_dimension = by_dimension_topic(app)
    if by_dimension is not STATS_BY_DIMENSION:
        ensure_topics(app.config.bootstrap, app.settings, [by_dimension])
    register_fold(app, by_dimension)
    if fanout_agent:
        register_fanout(app, by_dimension)
    stats_view.register(app)


def register_fanout(app: StreamsApp, by_dimension: TopicSpec) -> None:
    tz = app.settings.stats_timezone
    expected = {app.topic.name_of(spec): types for spec, types in INPUTS.items()}
    short_name = {app.topic.name_of(spec): spec.name for spec in INPUTS}
    issues = app.table(ISSUES_TABLE)
    out_topic = app.topic(by_dimension)

    batch = EffectBatch()
    batching = app.config.stats_batching
    held: list = []  # the events whose effects are in `batch`: acked once it is delivered
    flushing = asyncio.Lock()
    fanout_topic = app.inputs(*INPUTS)
    acking = None  # the agent's own stream, without automatic acks, once it runs

    async def flush() -> None:
        async with flushing:
            if not held:
                return
            messages, events = batch.drain(), list(held)
            held.clear()
            try:
                delivered = [await out_topic.send(key=dimension_key(m.dimension), value=encode(m), force=True)
                             for m in messages]
                await asyncio.gather(*delivered)
            except Exception as exc:
                # The fold skips positions below what it has folded: sending later batches after
                # a lost one would lose its effects for good. Stop; a restart redelivers the
                # unacked events and emits their effects again.
                log.critical("statistics batch not delivered (%s: %s): stopping the worker",
                             type(exc).__name__, exc)
                await app.faust.crash(exc)
                return
            for event in events:
                await acking.ack(event)

    async def fan_out_one(event) -> None:
        message = event.message
        received = await receive(app, event, expected[message.topic], FANOUT)
        if received is None or event.key is None:
            return
        pos = position(short_name[message.topic], message.partition, message.offset)
        try:
            before = ISSUES_CODEC.loads(issues.get(event.key))
            after, effects = contribute(before, received.record, pos, tz)
        except Exception as exc:  # a bug in a rule must not stop the partition
            log.exception("stats fan-out failed")
            await reject(app, event, "agent_error", f"{type(exc).__name__}: {exc}", FANOUT)
            return
        if after != before:
            issues[event.key] = ISSUES_CODEC.dumps(after)
        batch.add(pos, effects)

    @app.faust.agent(fanout_topic, name=f"{app.config.app_id}.{FANOUT}", concurrency=1)
    async def fan_out(stream):
        nonlocal acking
        acking = stream.noack()
        async for event in acking.events():
            await fan_out_one(event)
            held.append(event)  # after its effects joined the batch: a flush acks what it holds
            if len(held) >= batching.max_events:
                await flush()

    @app.faust.timer(batching.every_s)
    async def flush_effects() -> None:
        try:
            await flush()
        except Exception as exc:  # a timer that raises is never run again: the batch would wait forever
            log.exception("statistics flush failed: stopping the worker")
            await app.faust.crash(exc)

    app.faust.before_wait_empty.append(flush)


def register_fold(app: StreamsApp, by_dimension: TopicSpec) -> None:
    dims = app.table(DIMENSIONS_TABLE)
    stats_topic = app.topic(RATING_STATS)

    @app.faust.agent(app.inputs(by_dimension), name=f"{app.config.app_id}.{FOLD}", concurrency=1)
    async def fold(stream):
        async for event in stream.events():
            received = await receive(app, event, (StatsEffects,), FOLD)
            if received is None:
                continue
            try:
                items = items_of(received.record)
            except Exception as exc:
                await reject(app, event, "not_understood", f"stats effects: {type(exc).__name__}: {exc}", FOLD)
                continue
            key = event.key or dimension_key(received.record.dimension)
            before = DIMENSIONS_CODEC.loads(dims.get(key))
            after, folded = fold_many(before, received.record.dimension, items)
            if folded:
                dims[key] = DIMENSIONS_CODEC.dumps(after)
            # Also for a redelivery: the snapshot of a state restored from the changelog may not
            # have been sent before a crash.
            await stats_topic.send(key=key, value=encode(snapshot(after)), force=True)
