"""Statistics: the decision topics folded into a table per dimension, published to `rating.stats`.

Two agents, each keyed where its state lives (so each figure has exactly one owner, however many
workers share the partitions):

1. `stats-fanout` reads the four decision topics (all keyed by issue id, co-partitioned) and keeps
   the `stats-issues` table: the facts each issue has established (`streams.stats.facts`). Each
   decision event becomes at most one message per dimension it counts in, sent to the internal
   topic `<app id>.stats.by-dimension` keyed by dimension. The value is the decision record as it
   was read (the catalogue's contract for that topic); two headers carry what the fold needs:
   `okrate-pos` (the source position, for dedup) and `okrate-effect` (the counts, as JSON).
   Sends are `force=True`: Faust would otherwise *attach* them to the current event and publish
   them at commit time, partition by partition, which need not keep the per-source order the
   fold's dedup relies on. Faust flushes the producer before it commits, so no offset is
   committed before what it caused was sent.
2. `stats-fold` reads that topic, keeps the `stats` table (one `DimensionState` per dimension,
   JSON) and publishes the dimension's snapshot to the compacted `rating.stats` after every
   message, so the latest record per key is always the figure of everything folded (compaction
   keeps one per dimension). Not throttled: batching with `Stream.take_events` (one table write
   and one snapshot per dimension per batch) was tried and lost messages under load in
   faust-streaming 0.15.3 (a message of the batch window never reached the agent while later ones
   did), and a timer-based throttle leaves a snapshot unpublished when a worker dies after the
   commit; the per-message snapshot costs one Avro encoding and one send.

A fresh application id (a refold, `okrate replay --rebuild-stats`) gets its own repartition topic,
created here, so that it folds only what its own fan-out derived from offset 0 of the decision
topics; `okrate-streams` uses the catalogue's `okrate-streams.stats.by-dimension`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

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
)
from schemas.topics import (
    DECISION_RECORDS,
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    STATS_BY_DIMENSION,
    TopicSpec,
    ensure_topics,
    repartition_topic,
)
from streams.agents.inbox import receive, reject
from streams.state_codec import StateCodec
from streams.stats.facts import IssueStats, contribute
from streams.stats.fold import DimensionState, Effect, fold_many, position, split_position
from streams.stats.snapshot import snapshot

if TYPE_CHECKING:
    from streams.app import StreamsApp

log = logging.getLogger("okrate.streams.stats")

FANOUT = "stats-fanout"
FOLD = "stats-fold"
ISSUES_TABLE = "stats-issues"
DIMENSIONS_TABLE = "stats"
POS_HEADER = "okrate-pos"
EFFECT_HEADER = "okrate-effect"

INPUTS: dict[TopicSpec, tuple[type, ...]] = {
    ISSUE_EVENTS: (IssueEvent,),
    RATING_REQUESTED: (RatingRequested, RatingReminder, RatingExpired, RatingClosed),
    RATING_RECORDED: (RatingRecorded, RatingRejected, ReasonRecorded, PortalRatingRecorded),
    NOTIFIER_OUTCOMES: (SideEffectIntent, SideEffectOutcome),
}
ISSUES_CODEC = StateCodec(IssueStats)
DIMENSIONS_CODEC = StateCodec(DimensionState)


def by_dimension_topic(app: StreamsApp) -> TopicSpec:
    """The application's own repartition topic (the catalogue's one for `okrate-streams`)."""
    spec = repartition_topic("stats", "dimension", carries=DECISION_RECORDS, key="dimension",
                             application=app.config.app_id)
    return STATS_BY_DIMENSION if spec.name == STATS_BY_DIMENSION.name else spec


def register(app: StreamsApp) -> None:
    from streams.web import stats_view

    by_dimension = by_dimension_topic(app)
    if by_dimension is not STATS_BY_DIMENSION:
        ensure_topics(app.config.bootstrap, app.settings, [by_dimension])
    tz = app.settings.stats_timezone
    expected = {app.topic.name_of(spec): types for spec, types in INPUTS.items()}
    short_name = {app.topic.name_of(spec): spec.name for spec in INPUTS}
    issues = app.table(ISSUES_TABLE)
    dims = app.table(DIMENSIONS_TABLE)
    out_topic = app.topic(by_dimension)
    stats_topic = app.topic(RATING_STATS)

    @app.faust.agent(app.inputs(*INPUTS), name=f"{app.config.app_id}.{FANOUT}", concurrency=1)
    async def fan_out(stream):
        async for event in stream.events():
            message = event.message
            received = await receive(app, event, expected[message.topic], FANOUT)
            if received is None or event.key is None:
                continue
            pos = position(short_name[message.topic], message.partition, message.offset)
            try:
                before = ISSUES_CODEC.loads(issues.get(event.key))
                after, effects = contribute(before, received.record, pos, tz)
            except Exception as exc:  # a bug in a rule must not stop the partition
                log.exception("stats fan-out failed")
                await reject(app, event, "agent_error", f"{type(exc).__name__}: {exc}", FANOUT)
                continue
            if after != before:
                issues[event.key] = ISSUES_CODEC.dumps(after)
            headers = [(POS_HEADER, pos.encode())]
            for dim, effect in effects.items():
                await out_topic.send(key=dimension_key(dim), value=event.value, force=True,
                                     headers=[*headers, (EFFECT_HEADER, effect.dumps())])

    @app.faust.agent(app.inputs(by_dimension), name=f"{app.config.app_id}.{FOLD}", concurrency=1)
    async def fold(stream):
        async for event in stream.events():
            if event.key is None:
                continue
            try:
                pos = event.headers[POS_HEADER].decode()
                split_position(pos)
                effect = Effect.loads(event.headers[EFFECT_HEADER])
            except Exception as exc:
                await reject(app, event, "not_understood", f"stats effect: {type(exc).__name__}: {exc}", FOLD)
                continue
            before = DIMENSIONS_CODEC.loads(dims.get(event.key))
            after, folded = fold_many(before, event.key.decode(), [(effect, pos)])
            if folded:
                dims[event.key] = DIMENSIONS_CODEC.dumps(after)
            # Also for a redelivery: the snapshot of a state restored from the changelog may not
            # have been sent before a crash.
            await stats_topic.send(key=event.key, value=encode(snapshot(after)), force=True)

    stats_view.register(app)
