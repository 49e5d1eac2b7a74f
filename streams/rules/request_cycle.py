"""When okrate asks for a rating: an issue's resolution cycles (pure).

A transition from a non-final to a final status starts a cycle and asks once, however the
transition arrived (a status change, an update, both, in any order, twice). A reopen closes the
cycle's open request; a final status again is a new cycle. `decide` says what follows from an
issue event; `evolve` folds events (inputs and decisions alike) into the issue's state.

A sweep's observation (`observed`: the API showed the issue in a final status) is an update that
can only start a cycle where no webhook already did: an issue never seen, seen non-final since
before it was read, or seen final only by webhooks from one final status to another (its
resolution webhook lost, its closing seen); an issue whose resolution okrate saw starts one only if
the observed `completed_at` is later than that resolution's (its reopen and resolution webhooks
both lost). Observing
the same resolution again, every sweep, changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from schemas.records import IssueEvent, RatingClosed, RatingRequested
from streams.rules import Rules
from streams.rules.changed import changed
from streams.rules.issue_state import IssueState, RequestState, reporting_context
from streams.rules.normalise import Kind

STATUS_KINDS = {Kind.STATUS_CHANGED, Kind.UPDATED, Kind.CREATED, Kind.OBSERVED}


class Transition(StrEnum):
    NONE = "none"  # nothing about the status changed
    INTO_FINAL = "into_final"  # a new resolution cycle
    REOPEN = "reopen"  # final → non-final
    MOVE = "move"  # non-final → non-final, or final → final
    STALE = "stale"  # an update carrying the status from before the last change
    REPLAYED_TRIGGER = "replayed_trigger"  # the cycle's own trigger, processed again


def request_id_for(issue_id: str, partition: int, offset: int) -> str:
    """Stable under any replay: the raw log is immutable. Short enough for callback data."""
    return f"{issue_id}.{partition}.{offset}"


def is_redelivered(state: IssueState | None, event: IssueEvent) -> bool:
    """An event at or before the last raw position applied to this issue: the same webhook read
    again (a restart before its offset was committed, after the table was written). Applying it
    again would replay a past reopen onto the current cycle. An issue's webhooks share one
    partition (keyed by issue id), so positions order them."""
    last = state.last_source if state is not None else None
    return last is not None and last[0] == event.source_partition and event.source_offset <= last[1]


def classify(state: IssueState | None, event: IssueEvent, rules: Rules) -> Transition:
    if event.kind not in STATUS_KINDS or event.new_status_code is None:
        return Transition.NONE
    if state is not None and state.trigger == (event.source_partition, event.source_offset):
        return Transition.REPLAYED_TRIGGER
    if event.kind == Kind.OBSERVED:
        return _observation(state, event, rules)
    new = event.new_status_code
    before = state.status_code if state is not None and state.status_code else event.old_status_code
    if before == new:
        return Transition.NONE
    if (
        event.kind != Kind.STATUS_CHANGED
        and state is not None
        and rules.is_final(state.status_code)
        and new == state.previous_status_code
    ):
        return Transition.STALE
    if rules.is_final(new):
        return Transition.MOVE if rules.is_final(before) else Transition.INTO_FINAL
    return Transition.REOPEN if rules.is_final(before) else Transition.MOVE


def _observation(state: IssueState | None, event: IssueEvent, rules: Rules) -> Transition:
    """What a sweep's observation means: a resolution okrate did not know of, or nothing."""
    if not rules.is_final(event.new_status_code):
        return Transition.NONE  # the sweep asks for final statuses; an observation never reopens
    if state is None or state.status_code is None:
        return Transition.INTO_FINAL  # never seen: its resolution webhook was lost
    if state.cycle == 0 and rules.is_final(state.status_code):
        # Seen final, but only by webhooks that moved it from one final status to another (a
        # closing, a repeat): the resolution itself was never seen, nor asked about.
        return Transition.INTO_FINAL
    observed, known = event.completed_at, state.resolved_at
    if observed is not None and known is not None and observed <= known:
        return Transition.NONE  # the resolution okrate already knows (or an older one)
    if rules.is_final(state.status_code):
        newer = observed is not None and known is not None and observed > known
        return Transition.INTO_FINAL if newer else Transition.NONE  # newer: reopen and resolution lost
    if state.status_changed_at is not None and event.event_time <= state.status_changed_at:
        return Transition.STALE  # read before the change okrate saw last (a reopen)
    return Transition.INTO_FINAL  # seen open, observed resolved: the resolution webhook was lost


def _passes_filters(state: IssueState, rules: Rules) -> bool:
    if rules.issue_types and (state.type_code or "") not in rules.issue_types:
        return False
    return not (rules.groups and (state.assignee_group_id or "") not in rules.groups)


def is_okrates_own(event: IssueEvent, rules: Rules, state: IssueState | None) -> bool:
    """A comment okrate posted, or Okdesk's rating okrate set: they come back as webhooks.
    (A status change is never okrate's, whoever's account made it.)"""
    if event.kind not in (Kind.COMMENT, Kind.CSAT_RATE):
        return False
    if rules.okrate_author_id is not None and event.author_id == rules.okrate_author_id:
        return True
    return event.kind == Kind.COMMENT and state is not None and event.comment_id in state.own_comment_ids


def requested(state: IssueState, event: IssueEvent, cycle: int) -> RatingRequested:
    request_id = request_id_for(state.issue_id, event.source_partition, event.source_offset)
    return RatingRequested(
        event_id=f"{request_id}/requested",
        request_id=request_id,
        issue_id=state.issue_id,
        cycle=cycle,
        requested_at=event.event_time,
        trigger_partition=event.source_partition,
        trigger_offset=event.source_offset,
        status_code=state.status_code,
        status_name=state.status_name,
        issue_created_at=state.created_at,
        **reporting_context(state),
        deliverable=False,  # addressing (by contact) decides who receives it
        trigger_origin="sweep" if event.kind == Kind.OBSERVED else "webhook",
    )


def closed(request: RequestState, issue_id: str, reason: str, at: datetime, cause: str | None,
           portal_rate: str | None = None) -> RatingClosed:
    return RatingClosed(
        event_id=f"{request.request_id}/closed",
        request_id=request.request_id,
        issue_id=issue_id,
        reason=reason,
        closed_at=at,
        cause_event_id=cause,
        portal_rate=portal_rate,
        recipient_user_id=request.recipient_user_id,
        recipient_chat_id=request.recipient_chat_id,
    )


def decide(state: IssueState | None, event: IssueEvent, rules: Rules,
           after: IssueState | None = None) -> list[RatingRequested | RatingClosed]:
    """What an issue event asks for: a new rating request, or the open one closed. `after` is
    `evolve_facts(state, event, rules)` when the caller has it already."""
    if is_okrates_own(event, rules, state):
        return []
    transition = classify(state, event, rules)
    if transition is Transition.REPLAYED_TRIGGER:
        # The table and the output topic are not written atomically: emit the cycle's request
        # again (same id) rather than lose it after a crash between the two writes.
        assert state is not None
        if state.request is not None and state.request.cycle == state.cycle:
            return [requested(state, event, state.cycle)]
        return []
    if is_redelivered(state, event):
        return []
    after = after if after is not None else evolve_facts(state, event, rules)
    open_request = state.request if state is not None and state.request and state.request.is_open else None
    if transition is Transition.INTO_FINAL:
        out: list[RatingRequested | RatingClosed] = []
        if open_request is not None:  # a final status reached again without a reopen we saw
            out.append(closed(open_request, after.issue_id, "reopened", event.event_time, event.event_id))
        if _passes_filters(after, rules):
            out.append(requested(after, event, after.cycle))
        return out
    if transition is Transition.REOPEN and open_request is not None:
        return [closed(open_request, after.issue_id, "reopened", event.event_time, event.event_id)]
    if event.kind == Kind.DELETED and open_request is not None:
        return [closed(open_request, after.issue_id, "deleted", event.event_time, event.event_id)]
    return []


def _merge(old: str | None, new: str | None) -> str | None:
    return new if new is not None else old


def evolve_facts(state: IssueState | None, event: IssueEvent, rules: Rules) -> IssueState:
    """The issue's facts after an event: the latest known value of each, and its status."""
    if state is not None and is_redelivered(state, event):
        return state
    base = state or IssueState(issue_id=event.issue_id, created_at=event.created_at or event.event_time)
    transition = classify(state, event, rules)
    status_code, status_name, previous = base.status_code, base.status_name, base.previous_status_code
    cycle, trigger = base.cycle, base.trigger
    if transition in (Transition.INTO_FINAL, Transition.REOPEN, Transition.MOVE):
        previous = base.status_code or event.old_status_code
        status_code, status_name = event.new_status_code, event.new_status_name
    elif transition is Transition.NONE and event.new_status_code == base.status_code:
        status_name = event.new_status_name or base.status_name
    elif transition is Transition.NONE and event.new_status_code and base.status_code is None:
        status_code, status_name = event.new_status_code, event.new_status_name
    resolved_at, changed_at = base.resolved_at, base.status_changed_at
    if transition in (Transition.INTO_FINAL, Transition.REOPEN, Transition.MOVE):
        changed_at = event.event_time
    if transition is Transition.INTO_FINAL:
        cycle, trigger = base.cycle + 1, (event.source_partition, event.source_offset)
        resolved_at = event.completed_at
    elif resolved_at is None and rules.is_final(status_code) and event.completed_at is not None:
        resolved_at = event.completed_at  # the resolution's time, learnt later (an observation)
    return changed(
        base,
        resolved_at=resolved_at,
        status_changed_at=changed_at,
        status_code=status_code,
        status_name=status_name,
        previous_status_code=previous,
        cycle=cycle,
        trigger=trigger,
        last_source=(event.source_partition, event.source_offset),
        title=_merge(base.title, event.title),
        type_code=_merge(base.type_code, event.type_code),
        type_name=_merge(base.type_name, event.type_name),
        contact_id=_merge(base.contact_id, event.contact_id),
        company_id=_merge(base.company_id, event.company_id),
        company_name=_merge(base.company_name, event.company_name),
        assignee_employee_id=_merge(base.assignee_employee_id, event.assignee_employee_id),
        assignee_employee_name=_merge(base.assignee_employee_name, event.assignee_employee_name),
        assignee_group_id=_merge(base.assignee_group_id, event.assignee_group_id),
        assignee_group_name=_merge(base.assignee_group_name, event.assignee_group_name),
        created_at=base.created_at if base.created_at and not event.created_at else (event.created_at or base.created_at),
        deleted=base.deleted or event.kind == Kind.DELETED,
        last_event_time=max(base.last_event_time or event.event_time, event.event_time),
    )
