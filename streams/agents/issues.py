"""The issue agent: every command about one issue, in order, through the issue's decider.

Reads `issue.events`, the requests coming back addressed from the contacts' side, presses and
reasons (`rating.received`), the clock's ticks and the notifier's outcomes, all keyed by issue id
and so co-partitioned; keeps the `issues` table; is the only writer of `rating.requested` and
`rating.recorded`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from schemas.codec import encode
from schemas.keys import contact_key, issue_key
from schemas.records import (
    ClockTick,
    IssueEvent,
    PortalRatingRecorded,
    RatingClosed,
    RatingReceived,
    RatingRecorded,
    RatingRejected,
    RatingRequested,
    ReasonGiven,
    ReasonRecorded,
    Record,
    SideEffectIntent,
    SideEffectOutcome,
)
from schemas.topics import (
    CLOCK_TICKS,
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    TopicSpec,
)
from streams import issue_decider, rating_decisions
from streams.addressing import NO_CONTACT
from streams.agents.inbox import receive, reject
from streams.clock import StreamClock
from streams.due_index import DueIndex
from streams.issue_state import IssueState
from streams.state_codec import StateCodec

if TYPE_CHECKING:
    from streams.app import StreamsApp

NAME = "issues"
log = logging.getLogger("okrate.streams.issues")
CODEC = StateCodec(IssueState)
INPUTS = {
    ISSUE_EVENTS: (IssueEvent,),
    REQUESTS_BY_ISSUE: (RatingRequested, RatingClosed),
    RATING_RECEIVED: (RatingReceived, ReasonGiven),
    CLOCK_TICKS: (ClockTick,),
    NOTIFIER_OUTCOMES: (SideEffectIntent, SideEffectOutcome),  # outcomes carry okrate's comment ids
}
RECORDED = (RatingRecorded, RatingRejected, ReasonRecorded, PortalRatingRecorded)
TICK_EVERY_S = 1.0
RESCAN_EVERY_S = 600.0


def destinations(event: Record, before: IssueState | None) -> list[tuple[TopicSpec, bytes]]:
    """Where a decision goes: unaddressed requests to the contacts' side; ratings to
    `rating.recorded`; the rest of a request's life to `rating.requested` (a closing also tells
    the contacts' side to forget the request); a held press nowhere."""
    if issue_decider.is_internal(event):
        return []
    if isinstance(event, RatingRequested) and not issue_decider.is_addressed(event):
        return [(REQUESTS_BY_CONTACT, contact_key(event.contact_id or NO_CONTACT))]
    key = issue_key(event.issue_id)  # type: ignore[attr-defined]
    if isinstance(event, RECORDED):
        return [(RATING_RECORDED, key)]
    out = [(RATING_REQUESTED, key)]
    if isinstance(event, RatingClosed) and before is not None and before.request is not None:
        out.append((REQUESTS_BY_CONTACT, contact_key(before.request.contact_id or NO_CONTACT)))
    return out


def event_time(record: Record):
    for field in ("event_time", "pressed_at", "given_at"):
        if (value := getattr(record, field, None)) is not None:
            return value
    return None


def register(app: StreamsApp) -> None:
    table = app.table(NAME)
    by_topic = {app.topic.name_of(spec): types for spec, types in INPUTS.items()}
    clock, due = StreamClock(), DueIndex()
    rescan = asyncio.Event()
    rescan.set()

    @app.faust.agent(app.inputs(*INPUTS), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def decide_issues(stream):
        async for event in stream.events():
            received = await receive(app, event, by_topic[event.message.topic], NAME)
            if received is None or not isinstance(received.record, issue_decider.Command):
                continue
            if (at := event_time(received.record)) is not None:
                clock.observe(at)
            key = event.key
            try:
                before = CODEC.loads(table.get(key))
                after, decisions = issue_decider.run(before, received.record, app.rules)
                outputs = [(spec, out_key, encode(d)) for d in decisions for spec, out_key in destinations(d, before)]
            except Exception as exc:  # a bug in a rule must not stop the partition
                log.exception("issue decider failed")
                await reject(app, event, "agent_error", f"{type(exc).__name__}: {exc}", NAME)
                continue
            if after is not None and after != before:
                table[key] = CODEC.dumps(after)
            if after is not None:
                due.set(after.issue_id, rating_decisions.due_times(after, app.rules))
            for decision in decisions:
                app.metrics.decisions.labels(type(decision).__name__).inc()
            for spec, out_key, value in outputs:
                await app.send(spec, out_key, value)

    @app.faust.timer(TICK_EVERY_S)
    async def tick() -> None:
        if rescan.is_set():
            rescan.clear()
            await _rebuild_index(table, due, app)
        now = clock.now()
        if now is None:
            return
        for issue_id in due.pop_due(now):
            await app.send(CLOCK_TICKS, issue_key(issue_id), encode(ClockTick(issue_id=issue_id, now=now)))

    @app.faust.timer(RESCAN_EVERY_S)
    async def periodic_rescan() -> None:
        rescan.set()

    @app.faust.on_rebalance_complete.connect
    async def on_rebalance(sender, **kwargs) -> None:
        rescan.set()


async def _rebuild_index(table, due: DueIndex, app: StreamsApp) -> None:
    due.clear()
    for count, (_key, value) in enumerate(list(table.items())):
        state = CODEC.loads(value)
        if state is not None:
            due.set(state.issue_id, rating_decisions.due_times(state, app.rules))
        if count % 1000 == 999:
            await asyncio.sleep(0)  # a large table must not hold up the event loop
