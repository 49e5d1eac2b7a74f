"""The issue agent: every command about one issue, in order, through the issue's decider; the one
agent step between a raw webhook and the request that goes to the client.

Reads the raw webhooks (`okdesk.events`, normalised here and written on to `issue.events` for
analysts and replays), the requests coming back re-addressed from the contacts' side, presses and
reasons (`rating.received`), the clock's ticks and the notifier's outcomes, all keyed by issue id
and so co-partitioned; keeps the `issues` table; is the only writer of `issue.events`,
`rating.requested` and `rating.recorded`. A new request is addressed here from the worker's copy
of the links and goes straight to `rating.requested`; the contacts' side is told, and corrects
what the copy got wrong.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from schemas.codec import EncodeError, encode
from schemas.keys import contact_key, issue_key
from schemas.records import (
    ClockTick,
    IssueEvent,
    OkdeskWebhookEnvelope,
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
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    TopicSpec,
)
from streams.agents.inbox import refuse, take
from streams.rules import issue_decider, rating_decisions
from streams.rules.addressing import NO_CONTACT
from streams.rules.clock import StreamClock
from streams.rules.due_index import DueIndex
from streams.rules.issue_state import IssueState
from streams.rules.normalise import NotUnderstood, Position, normalise
from streams.state_codec import StateCodec
from streams.stats.fold import position

if TYPE_CHECKING:
    from streams.app import StreamsApp
    from streams.outputs import Output

NAME = "issues"
log = logging.getLogger("okrate.streams.issues")
CODEC = StateCodec(IssueState)
INPUTS = {
    OKDESK_EVENTS: (OkdeskWebhookEnvelope,),
    REQUESTS_BY_ISSUE: (RatingRequested, RatingClosed, IssueEvent),
    RATING_RECEIVED: (RatingReceived, ReasonGiven),
    CLOCK_TICKS: (ClockTick,),
    NOTIFIER_OUTCOMES: (SideEffectIntent, SideEffectOutcome),  # outcomes carry okrate's comment ids
}
RECORDED = (RatingRecorded, RatingRejected, ReasonRecorded, PortalRatingRecorded)
TICK_EVERY_S = 1.0
RESCAN_EVERY_S = 600.0
NORMALISE = "normalise"  # the consumer named in a raw webhook's dead letter, as before the merge
LINKS_CATCH_UP_S = 30.0
# What an issue's JSON state holds when something may be due (`rating_decisions.due_times`).
OPEN_REQUEST, NO_HELD_PRESSES = b'"status":"open"', b'"held_presses":[]'


def destinations(event: Record, before: IssueState | None, command: Record | None = None) -> list[tuple[TopicSpec, bytes]]:
    """Where a decision goes: unaddressed requests to the contacts' side; a request addressed
    here to the client and to the contacts' side (which corrects a stale copy of the links); one
    re-addressed by the contacts' side to the client; ratings to `rating.recorded`; the rest of a
    request's life to `rating.requested` (a closing also tells the contacts' side to forget the
    request); a held press nowhere."""
    if issue_decider.is_internal(event):
        return []
    by_contact = contact_key(getattr(event, "contact_id", None) or NO_CONTACT)
    if isinstance(event, RatingRequested) and not issue_decider.is_addressed(event):
        return [(REQUESTS_BY_CONTACT, by_contact)]
    key = issue_key(event.issue_id)  # type: ignore[attr-defined]
    if isinstance(event, RECORDED):
        return [(RATING_RECORDED, key)]
    out = [(RATING_REQUESTED, key)]
    if isinstance(event, RatingRequested) and not isinstance(command, RatingRequested):
        out.append((REQUESTS_BY_CONTACT, by_contact))
    if isinstance(event, RatingClosed) and before is not None and before.request is not None:
        out.append((REQUESTS_BY_CONTACT, contact_key(before.request.contact_id or NO_CONTACT)))
    return out


def event_time(record: Record):
    for field in ("event_time", "pressed_at", "given_at"):
        if (value := getattr(record, field, None)) is not None:
            return value
    return None


STATS_TOPICS = (RATING_REQUESTED, RATING_RECORDED)  # decisions the statistics count (with issue events, outcomes)


def register(app: StreamsApp, *, fan_out_stats: bool = True) -> None:
    from streams.agents.stats_inline import InlineStats

    table = app.table(NAME, through_outputs=True)
    stats = InlineStats(app) if fan_out_stats else None
    short_name = {app.topic.name_of(spec): spec.name for spec in INPUTS}
    by_topic = {app.topic.name_of(spec): types for spec, types in INPUTS.items()}
    clock, due = StreamClock(), DueIndex()
    rescan = asyncio.Event()
    rescan.set()

    raw_topic = app.topic.name_of(OKDESK_EVENTS)

    def directory(contact_id: str | None) -> tuple[int, int] | None:
        recipient = app.links.recipient(contact_id)
        return (recipient.telegram_user_id, recipient.chat_id) if recipient is not None else None

    def command_of(event, outputs: list[Output]) -> Record | None:
        """The decoded command; a raw webhook normalised, its issue event written on."""
        topic = event.message.topic
        received = take(app, event, by_topic[topic], NORMALISE if topic == raw_topic else NAME, outputs)
        if received is None or not isinstance(received.record, OkdeskWebhookEnvelope):
            return received.record if received is not None else None
        try:
            issue_event = normalise(received.record, Position(received.topic, received.partition, received.offset))
            value = encode(issue_event) if issue_event is not None else None
        except (NotUnderstood, EncodeError) as exc:
            refuse(app, event, "not_understood", str(exc), NORMALISE, outputs)
            return None
        if issue_event is None or value is None:
            return None
        key = issue_key(issue_event.issue_id)
        outputs.append(app.output(ISSUE_EVENTS, key, value))
        if key != event.key:  # keyed otherwise by the ingest: decided on the issue's own partition
            outputs.append(app.output(REQUESTS_BY_ISSUE, key, value))
            return None
        return issue_event

    def decide(event, command: Record, outputs: list[Output]) -> list[Record]:
        """Decides; returns what the statistics count of it: the command if it is an issue event
        or an outcome, and the decisions written to the decision topics."""
        if (at := event_time(command)) is not None:
            clock.observe(at)
        key = event.key
        before = CODEC.loads(table.get(key))
        after, decisions = issue_decider.run(before, command, app.rules, directory)
        counted: list[Record] = [command] if isinstance(command, (IssueEvent, SideEffectOutcome)) else []
        produced = []
        for decision in decisions:
            places = destinations(decision, before, command)
            if places:
                value = encode(decision)
                produced += [app.output(spec, out_key, value) for spec, out_key in places]
            if any(spec in STATS_TOPICS for spec, _ in places):
                counted.append(decision)
            app.metrics.decision(type(decision).__name__)
        if after is not None and after != before:
            table[key] = CODEC.dumps(after)
        if after is not None:
            due.set(after.issue_id, rating_decisions.due_times(after, app.rules))
        outputs += produced
        return counted

    @app.faust.agent(app.inputs(*INPUTS), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def decide_issues(stream):
        acking = stream.noack()
        app.links.start()
        if not await asyncio.to_thread(app.links.wait_caught_up, LINKS_CATCH_UP_S):
            log.warning("the links copy did not catch up in %.0f s: the contacts' side addresses meanwhile",
                        LINKS_CATCH_UP_S)
        async for event in acking.events():
            outputs: list[Output] = []
            command = command_of(event, outputs)
            held = False
            if isinstance(command, issue_decider.Command):
                try:
                    counted = decide(event, command, outputs)
                    if stats is not None and counted:
                        message = event.message
                        pos = position(short_name[message.topic], message.partition, message.offset)
                        held = stats.contribute(event.key, counted, pos)
                except Exception as exc:  # a bug in a rule must not stop the partition
                    log.exception("issue decider failed")
                    refuse(app, event, "agent_error", f"{type(exc).__name__}: {exc}", NAME, outputs)
            waiting = await app.emit(acking, event, outputs, held=held)
            if held and stats is not None:
                stats.hold(waiting)

    if stats is not None:
        batching = app.config.stats_batching

        @app.faust.timer(batching.every_s)
        async def flush_stats() -> None:
            try:
                stats.flush()
            except Exception as exc:  # a timer that raises is never run again: the batch would wait
                log.exception("statistics flush failed: stopping the worker")
                await app.faust.crash(exc)

        async def flush_before_waiting() -> None:
            stats.flush()

        app.faust.before_wait_empty.insert(0, flush_before_waiting)

    @app.faust.timer(TICK_EVERY_S)
    async def tick() -> None:
        if rescan.is_set():
            rescan.clear()
            await _rebuild_index(table, due, app)
        now = clock.now()
        if now is None:
            return
        ticks = app.topic.name_of(CLOCK_TICKS)
        for issue_id in due.pop_due(now):
            # A hint, outside any event's barrier: a tick lost in a crash is made again from the
            # table when the index is rebuilt.
            app.outputs.produce(ticks, issue_key(issue_id), encode(ClockTick(issue_id=issue_id, now=now)))

    @app.faust.timer(RESCAN_EVERY_S)
    async def periodic_rescan() -> None:
        rescan.set()

    @app.faust.on_rebalance_complete.connect
    async def on_rebalance(sender, **kwargs) -> None:
        rescan.set()


async def _rebuild_index(table, due: DueIndex, app: StreamsApp) -> None:
    """The due times of every issue this worker owns, read from the store one item at a time (a
    RocksDB iterator reads a snapshot; the memory store, a dict, is copied first). Only states that
    can be due are decoded: an open request or held presses (their JSON says so)."""
    due.clear()
    items = table.items()
    if not app.config.store.startswith("rocksdb"):
        items = list(items)
    for count, (_key, value) in enumerate(items):
        if value is not None and (OPEN_REQUEST in value or NO_HELD_PRESSES not in value):
            state = CODEC.loads(value)
            if state is not None:
                due.set(state.issue_id, rating_decisions.due_times(state, app.rules))
        if count % 1000 == 999:
            await asyncio.sleep(0)  # a large table must not hold up the event loop
