"""The decider of one issue: `decide(state, command) -> events`, `evolve(state, event) -> state`.

Commands are what reaches the issue's partition: its normalised webhooks, requests coming back
addressed (or closed as unlinked) from the contacts' side, presses and reasons, the clock's ticks,
the notifier's outcomes. Events are okrate's decisions (a held press is an event too: "this press
waits"). Both functions are pure; the agent only loads the state, calls `run`, and writes.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.records import (
    ClockTick,
    IssueEvent,
    RatingClosed,
    RatingReceived,
    RatingRequested,
    ReasonGiven,
    Record,
    SideEffectOutcome,
)
from streams.rules import Rules, addressing, rating_decisions, request_cycle
from streams.rules.changed import changed
from streams.rules.issue_state import IssueState, RequestState
from streams.rules.normalise import Kind

MAX_PAST_REQUESTS = 20
MAX_OWN_COMMENTS = 50

Command = IssueEvent | RatingRequested | RatingClosed | RatingReceived | ReasonGiven | ClockTick | SideEffectOutcome
# contact id -> (telegram user id, chat id) of its link, as the worker's copy of the links knows it
Directory = Callable[[str | None], "tuple[int, int] | None"]


def is_addressed(request: RatingRequested) -> bool:
    return request.addressed_at is not None


def address_new(events: list[Record], directory: Directory | None, state: IssueState | None = None) -> list[Record]:
    """New requests addressed from the links copy (without one they go unaddressed, and the
    contacts' side addresses them). A request emitted again (its trigger redelivered) goes out as
    the issue already knows it, whatever the copy says: a restarted worker's copy may not have
    caught up yet, and the request may be rated already (a correction would no longer reach it)."""
    if directory is None:
        return events
    current = state.request if state is not None else None
    out: list[Record] = []
    for event in events:
        if isinstance(event, RatingRequested) and not is_addressed(event):
            if current is not None and current.request_id == event.request_id:
                user_id, chat_id = current.recipient_user_id, current.recipient_chat_id
            else:
                recipient = directory(event.contact_id)
                user_id, chat_id = recipient if recipient is not None else (None, None)
            event = addressing.addressed_to(event, user_id, chat_id, event.requested_at)
        out.append(event)
    return out


def decide(state: IssueState | None, command: Command, rules: Rules, directory: Directory | None = None,
           facts: IssueState | None = None) -> list[Record]:
    """`facts`: `evolve(state, command)` when the caller has it already (read for an issue event)."""
    current = state.request if state is not None else None
    if isinstance(command, IssueEvent):
        events: list[Record] = address_new(list(request_cycle.decide(state, command, rules, facts)), directory, state)
        if (command.kind == Kind.CSAT_RATE and not request_cycle.is_okrates_own(command, rules, state)
                and not request_cycle.is_redelivered(state, command)):
            events += rating_decisions.decide_portal_rating(state, command)
        return events
    if isinstance(command, RatingRequested):
        # Back from addressing: it goes out only while it is still the current, open request.
        if current is not None and current.request_id == command.request_id and current.is_open:
            return [command]
        return []
    if isinstance(command, RatingClosed):
        if current is not None and current.request_id == command.request_id and current.is_open:
            return [changed(command, recipient_user_id=current.recipient_user_id,
                            recipient_chat_id=current.recipient_chat_id)]
        return []
    if isinstance(command, RatingReceived):
        decision = rating_decisions.judge_press(state, command, rules)
        return [command] if decision is None else decision  # the press itself: held
    if isinstance(command, ReasonGiven):
        return rating_decisions.decide_reason(state, command)
    if isinstance(command, ClockTick):
        return rating_decisions.decide_tick(state, command, rules)
    return []


def evolve(state: IssueState | None, event: Record, rules: Rules) -> IssueState | None:
    if isinstance(event, IssueEvent):
        return request_cycle.evolve_facts(state, event, rules)
    if state is None:
        if not isinstance(event, RatingReceived):
            return None
        state = IssueState(issue_id=event.issue_id)  # a press that overtook everything else
    if isinstance(event, RatingRequested):
        return _with_request(state, event)
    if isinstance(event, SideEffectOutcome):
        if not event.okdesk_comment_id or event.status != "ok" or event.okdesk_comment_id in state.own_comment_ids:
            return state
        return changed(state, own_comment_ids=(*state.own_comment_ids, event.okdesk_comment_id)[-MAX_OWN_COMMENTS:])
    return rating_decisions.evolve(state, event)


def _with_request(state: IssueState, event: RatingRequested) -> IssueState:
    current = state.request
    if current is not None and current.request_id == event.request_id:
        if not is_addressed(event):
            return state
        return changed(state, request=changed(
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
    return changed(state, request=request, past_request_ids=past)


def run(state: IssueState | None, command: Command, rules: Rules,
        directory: Directory | None = None) -> tuple[IssueState | None, list[Record]]:
    """decide, then evolve by the command's facts and by every decision: what the agent calls.
    Presses that were held are judged again whenever something else changed the issue."""
    facts = evolve(state, command, rules) if isinstance(command, (IssueEvent, SideEffectOutcome)) else None
    events = decide(state, command, rules, directory, facts)  # (an issue event's decision needs its facts too)
    if facts is not None:
        state = facts
    for event in events:
        state = evolve(state, event, rules)
    if state is not None and state.held_presses and not isinstance(command, (RatingReceived, ClockTick)):
        released = rating_decisions.decide_held(state, rules)
        for event in released:
            state = evolve(state, event, rules)
        events += released
    return state, events


def is_internal(event: Record) -> bool:
    """Decisions that only change the issue's state (a held press) and go nowhere."""
    return isinstance(event, RatingReceived)
