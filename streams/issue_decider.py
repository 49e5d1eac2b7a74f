"""The decider of one issue: `decide(state, command) -> events`, `evolve(state, event) -> state`.

Commands are what reaches the issue's partition: its normalised webhooks, requests coming back
addressed (or closed as unlinked) from the contacts' side, presses, reminders' ticks, the
notifier's outcomes. Events are okrate's decisions. Both functions are pure; the agent only loads
the state, calls them, and writes.
"""

from __future__ import annotations

from dataclasses import replace

from schemas.records import IssueEvent, RatingClosed, RatingRequested, Record, SideEffectOutcome
from streams import request_cycle
from streams.issue_state import IssueState, RequestState, RequestStatus
from streams.rules import Rules

MAX_PAST_REQUESTS = 20
MAX_OWN_COMMENTS = 50

Command = IssueEvent | RatingRequested | RatingClosed | SideEffectOutcome


def is_addressed(request: RatingRequested) -> bool:
    return request.addressed_at is not None


def decide(state: IssueState | None, command: Command, rules: Rules) -> list[Record]:
    if isinstance(command, IssueEvent):
        return list(request_cycle.decide(state, command, rules))
    current = state.request if state is not None else None
    if isinstance(command, RatingRequested):
        # Back from addressing: it goes out only while it is still the current, open request.
        if current is not None and current.request_id == command.request_id and current.is_open:
            return [command]
        return []
    if isinstance(command, RatingClosed):
        if current is not None and current.request_id == command.request_id and current.is_open:
            return [replace(command, recipient_user_id=current.recipient_user_id,
                            recipient_chat_id=current.recipient_chat_id)]
        return []
    return []


def evolve(state: IssueState | None, event: Record, rules: Rules) -> IssueState | None:
    if isinstance(event, IssueEvent):
        return request_cycle.evolve_facts(state, event, rules)
    if state is None:
        return None
    if isinstance(event, RatingRequested):
        return _with_request(state, event)
    if isinstance(event, RatingClosed):
        return _with_request_status(state, event.request_id, RequestStatus.CLOSED, event.reason)
    if isinstance(event, SideEffectOutcome) and event.okdesk_comment_id and event.status == "ok":
        if event.okdesk_comment_id in state.own_comment_ids:
            return state
        return replace(state, own_comment_ids=(*state.own_comment_ids, event.okdesk_comment_id)[-MAX_OWN_COMMENTS:])
    return state


def _with_request(state: IssueState, event: RatingRequested) -> IssueState:
    current = state.request
    if current is not None and current.request_id == event.request_id:
        if not is_addressed(event):
            return state
        return replace(state, request=replace(
            current, deliverable=event.deliverable, recipient_user_id=event.recipient_user_id,
            recipient_chat_id=event.recipient_chat_id,
        ))
    past = state.past_request_ids
    if current is not None:
        past = (*past, current.request_id)[-MAX_PAST_REQUESTS:]
    request = RequestState(
        request_id=event.request_id, cycle=event.cycle, requested_at=event.requested_at,
        contact_id=event.contact_id, deliverable=event.deliverable,
        recipient_user_id=event.recipient_user_id, recipient_chat_id=event.recipient_chat_id,
    )
    return replace(state, request=request, past_request_ids=past)


def _with_request_status(state: IssueState, request_id: str, status: str, reason: str | None) -> IssueState:
    current = state.request
    if current is None or current.request_id != request_id or not current.is_open:
        return state
    return replace(state, request=replace(current, status=status, close_reason=reason))


def run(state: IssueState | None, command: Command, rules: Rules) -> tuple[IssueState | None, list[Record]]:
    """decide, then evolve by the command's facts and by every decision: what the agent calls."""
    events = decide(state, command, rules)
    if isinstance(command, (IssueEvent, SideEffectOutcome)):
        state = evolve(state, command, rules)
    for event in events:
        state = evolve(state, event, rules)
    return state, events
