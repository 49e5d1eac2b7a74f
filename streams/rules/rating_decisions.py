"""Which ratings count, and each request's life after it went out (pure).

A press is recorded only when, in this order: its request is the issue's current one (else
`outdated`; not known yet: held, and `unknown` if it never comes within RATING_EXPIRY), the
request is open (else how it was closed), the presser is its recipient (`not_yours`: `from.id` is
what Telegram vouches for), the score is 1..5 (`invalid`), the press came within RATING_EXPIRY of
the request by event time (`expired`), and it is the first rating (`already_rated`). Only event
times are compared, so reprocessing the same inputs decides the same.
"""

from __future__ import annotations

from datetime import datetime

from schemas.records import (
    ClockTick,
    IssueEvent,
    PortalRatingRecorded,
    RatingClosed,
    RatingExpired,
    RatingReceived,
    RatingRecorded,
    RatingRejected,
    RatingReminder,
    ReasonGiven,
    ReasonRecorded,
    Record,
)
from streams.rules import Rules
from streams.rules.changed import changed
from streams.rules.issue_state import IssueState, RequestState, RequestStatus, reporting_context
from streams.rules.request_cycle import closed

MAX_HELD_PRESSES = 50
LOW_SCORE = 3  # reasons are asked for, and recorded, for scores up to this one


def _rejected(press: RatingReceived, reason: str, standing: int | None = None) -> RatingRejected:
    return RatingRejected(
        event_id=f"press/{press.update_id}/rejected", request_id=press.request_id,
        issue_id=press.issue_id, reason=reason, score=press.score, standing_score=standing,
        from_user_id=press.from_user_id, chat_id=press.chat_id, message_id=press.message_id,
        update_id=press.update_id, pressed_at=press.pressed_at,
    )


def _recorded(press: RatingReceived, request: RequestState, state: IssueState) -> RatingRecorded:
    return RatingRecorded(
        event_id=f"press/{press.update_id}/recorded", request_id=press.request_id,
        issue_id=press.issue_id, score=press.score, from_user_id=press.from_user_id,
        chat_id=press.chat_id, message_id=press.message_id, update_id=press.update_id,
        requested_at=request.requested_at, pressed_at=press.pressed_at, **reporting_context(state),
    )


def judge_press(state: IssueState | None, press: RatingReceived, rules: Rules) -> list[Record] | None:
    """The press's decision, or None when it must wait for its request."""
    request = state.request if state is not None else None
    if request is None or request.request_id != press.request_id:
        if state is not None and press.request_id in state.past_request_ids:
            return [_rejected(press, "outdated")]
        return None
    if request.recipient_user_id is None and request.status == RequestStatus.OPEN:
        return None  # not addressed yet: whose it is cannot be told
    if request.status == RequestStatus.RATED and request.rated_update_id == press.update_id:
        assert state is not None  # the recorded press itself, processed again (a rewind, a crash)
        return [_recorded(press, request, state)]
    if request.status == RequestStatus.CLOSED:
        return [_rejected(press, request.close_reason or "closed")]
    if press.from_user_id != request.recipient_user_id:
        return [_rejected(press, "not_yours")]
    if not 1 <= press.score <= 5:
        return [_rejected(press, "invalid")]
    if press.pressed_at > request.requested_at + rules.expiry:
        return [_rejected(press, "expired")]
    if request.status == RequestStatus.RATED:
        return [_rejected(press, "already_rated", request.score)]
    # An expiry the clock emitted early (it runs ahead on other partitions' events) does not
    # refuse a press that event time says came in time.
    assert state is not None
    return [_recorded(press, request, state)]


def decide_press(state: IssueState | None, press: RatingReceived, rules: Rules) -> list[Record]:
    decision = judge_press(state, press, rules)
    return [] if decision is None else decision


def decide_held(state: IssueState, rules: Rules) -> list[Record]:
    """Presses that were waiting, judged now that their request may be known and addressed."""
    out: list[Record] = []
    for press in state.held_presses:
        decision = judge_press(state, press, rules)
        if decision is not None:
            out.extend(decision)
            if any(isinstance(d, RatingRecorded) for d in decision):
                state = evolve(state, decision[0])
    return out


def decide_reason(state: IssueState | None, reason: ReasonGiven) -> list[Record]:
    request = state.request if state is not None else None
    if (
        state is None or request is None or request.request_id != reason.request_id
        or request.status != RequestStatus.RATED or request.score is None or request.score > LOW_SCORE
        or reason.from_user_id != request.recipient_user_id
    ):
        return []
    code = reason.reason_code or "text"
    if code in request.reason_codes:
        return []
    return [ReasonRecorded(
        event_id=f"{request.request_id}/reason/{code}", request_id=request.request_id,
        issue_id=state.issue_id, score=request.score, reason_code=reason.reason_code,
        text=reason.text, from_user_id=reason.from_user_id, update_id=reason.update_id,
        given_at=reason.given_at, **reporting_context(state),
    )]


def due_times(state: IssueState, rules: Rules) -> list[datetime]:
    """When the clock should next look at this issue."""
    times = [p.pressed_at + rules.expiry for p in state.held_presses]
    request = state.request
    if request is not None and request.is_open and request.recipient_user_id is not None:
        if rules.remind_after is not None and not request.reminded:
            times.append(request.requested_at + rules.remind_after)
        times.append(request.requested_at + rules.expiry)
    return times


def decide_tick(state: IssueState | None, tick: ClockTick, rules: Rules) -> list[Record]:
    if state is None:
        return []
    out: list[Record] = [_rejected(p, "unknown") for p in state.held_presses if p.pressed_at + rules.expiry <= tick.now]
    request = state.request
    if request is None or not request.is_open or request.recipient_user_id is None:
        return out
    recipient = {"recipient_user_id": request.recipient_user_id, "recipient_chat_id": request.recipient_chat_id}
    if tick.now >= request.requested_at + rules.expiry:
        out.append(RatingExpired(event_id=f"{request.request_id}/expired", request_id=request.request_id,
                                 issue_id=state.issue_id, expired_at=request.requested_at + rules.expiry, **recipient))
    elif rules.remind_after is not None and not request.reminded and tick.now >= request.requested_at + rules.remind_after:
        out.append(RatingReminder(event_id=f"{request.request_id}/reminder/1", request_id=request.request_id,
                                  issue_id=state.issue_id, reminded_at=request.requested_at + rules.remind_after,
                                  reminder_number=1, **recipient))
    return out


def decide_portal_rating(state: IssueState | None, event: IssueEvent) -> list[Record]:
    """A rating given in the Okdesk portal closes an open request that okrate has no rating for."""
    request = state.request if state is not None else None
    if state is None or request is None or not request.is_open or not event.csat_rate:
        return []
    return [
        closed(request, state.issue_id, "rated_in_portal", event.event_time, event.event_id, event.csat_rate),
        PortalRatingRecorded(event_id=f"{request.request_id}/portal", request_id=request.request_id,
                             issue_id=state.issue_id, rate=event.csat_rate, rated_at=event.event_time,
                             **reporting_context(state)),
    ]


def evolve(state: IssueState, event: Record) -> IssueState:
    request = state.request
    if isinstance(event, RatingReceived):
        held = tuple(p for p in state.held_presses if p.update_id != event.update_id)
        return changed(state, held_presses=(*held, event)[-MAX_HELD_PRESSES:])
    if isinstance(event, RatingRejected | RatingRecorded):
        state = changed(state, held_presses=tuple(p for p in state.held_presses if p.update_id != event.update_id))
        request = state.request
        if isinstance(event, RatingRecorded) and request is not None and request.request_id == event.request_id:
            state = changed(state, request=changed(request, status=RequestStatus.RATED, score=event.score,
                                                   rated_at=event.pressed_at, rated_update_id=event.update_id))
        return state
    if request is None or getattr(event, "request_id", None) != request.request_id:
        return state
    if isinstance(event, ReasonRecorded):
        return changed(state, request=changed(request, reason_codes=(*request.reason_codes, event.reason_code or "text")))
    if isinstance(event, RatingReminder):
        return changed(state, request=changed(request, reminded=True))
    if isinstance(event, RatingExpired) and request.is_open:
        return changed(state, request=changed(request, status=RequestStatus.EXPIRED))
    if isinstance(event, RatingClosed) and request.is_open:
        return changed(state, request=changed(request, status=RequestStatus.CLOSED, close_reason=event.reason))
    return state
