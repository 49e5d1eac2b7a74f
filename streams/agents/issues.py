"""The issue agent: every command about one issue, in order, through the issue's decider.

Reads `issue.events`, the requests coming back addressed from the contacts' side, presses
(`rating.received`) and the notifier's outcomes, all keyed by issue id and so co-partitioned;
keeps the `issues` table; writes `rating.requested` (its only writer) and `rating.recorded`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from schemas.codec import encode
from schemas.keys import contact_key, issue_key
from schemas.records import (
    IssueEvent,
    RatingClosed,
    RatingRequested,
    Record,
    SideEffectIntent,
    SideEffectOutcome,
)
from schemas.topics import (
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    TopicSpec,
)
from streams import issue_decider
from streams.addressing import NO_CONTACT
from streams.agents.inbox import receive, reject
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
    NOTIFIER_OUTCOMES: (SideEffectIntent, SideEffectOutcome),  # outcomes carry okrate's comment ids
}


def destinations(event: Record, before: IssueState | None) -> list[tuple[TopicSpec, bytes]]:
    """Where a decision goes: unaddressed requests to the contacts' side, the rest to
    `rating.requested`; a closing also tells the contacts' side to forget the request."""
    if isinstance(event, RatingRequested) and not issue_decider.is_addressed(event):
        return [(REQUESTS_BY_CONTACT, contact_key(event.contact_id or NO_CONTACT))]
    out = [(RATING_REQUESTED, issue_key(event.issue_id))]  # type: ignore[attr-defined]
    if isinstance(event, RatingClosed) and before is not None and before.request is not None:
        out.append((REQUESTS_BY_CONTACT, contact_key(before.request.contact_id or NO_CONTACT)))
    return out


def register(app: StreamsApp) -> None:
    table = app.table(NAME)
    by_topic = {spec.full_name(app.settings): types for spec, types in INPUTS.items()}

    @app.faust.agent(app.topic(*INPUTS), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def decide_issues(stream):
        async for event in stream.events():
            received = await receive(app, event, by_topic[event.message.topic], NAME)
            if received is None or not isinstance(received.record, issue_decider.Command):
                continue
            key = event.key
            try:
                before = CODEC.loads(table.get(key))
                after, decisions = issue_decider.run(before, received.record, app.rules)
            except Exception as exc:  # a bug in a rule must not stop the partition
                log.exception("issue decider failed")
                await reject(app, event, "agent_error", f"{type(exc).__name__}: {exc}", NAME)
                continue
            if after is not None and after != before:
                table[key] = CODEC.dumps(after)
            for decision in decisions:
                value = encode(decision)
                for spec, out_key in destinations(decision, before):
                    await app.send(spec, out_key, value)
