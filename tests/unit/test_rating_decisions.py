"""Which ratings count: the decision table, property-based, and reminders, expiry, portal ratings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

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
    RatingRequested,
    ReasonGiven,
    ReasonRecorded,
)
from streams.rules import Rules, issue_decider
from streams.rules.normalise import Kind

RULES = Rules(expiry=timedelta(days=7), remind_after=timedelta(hours=24))
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
USER, OTHER = 555, 777


def issue_event(kind: str, new: str | None, old: str | None, offset: int, *, rate: str | None = None) -> IssueEvent:
    return IssueEvent(event_id=f"issue-event/0/{offset}", kind=kind, dialect="okdesk", issue_id="1",
                      event_time=T0 + timedelta(minutes=offset), delivery_id="d", source_topic="okdesk.events",
                      source_partition=0, source_offset=offset, old_status_code=old, new_status_code=new,
                      contact_id="95", csat_rate=rate)


def addressed(request: RatingRequested, user: int = USER) -> RatingRequested:
    return replace(request, deliverable=True, recipient_user_id=user, recipient_chat_id=user, addressed_at=request.requested_at)


def press(update_id: int, score: int, user: int = USER, at: timedelta = timedelta(minutes=5), request_id: str = "1.0.1") -> RatingReceived:
    return RatingReceived(event_id=f"press/{update_id}", update_id=update_id, request_id=request_id, issue_id="1",
                          score=score, from_user_id=user, chat_id=user, pressed_at=T0 + at)


def run_all(state, commands, rules=RULES):
    out = []
    for command in commands:
        state, events = issue_decider.run(state, command, rules)
        out.extend(events)
    return state, out


def resolved_and_addressed():
    state, out = run_all(None, [issue_event(Kind.STATUS_CHANGED, "completed", "opened", 1)])
    [request] = [e for e in out if isinstance(e, RatingRequested)]
    state, out = run_all(state, [addressed(request)])
    return state, request


def outcome(events, update_id):
    return [e for e in events if isinstance(e, RatingRecorded | RatingRejected) and e.update_id == update_id]


def test_the_right_user_in_time_is_recorded_with_the_reporting_context():
    state, request = resolved_and_addressed()
    _, out = run_all(state, [press(10, 4)])
    [recorded] = out
    assert isinstance(recorded, RatingRecorded)
    assert (recorded.score, recorded.request_id, recorded.contact_id, recorded.requested_at) == (4, "1.0.1", "95", request.requested_at)


def test_each_rejection_reason():
    state, _ = resolved_and_addressed()
    cases = [
        (press(11, 4, user=OTHER), "not_yours"),
        (press(12, 9), "invalid"),
        (press(13, 4, at=timedelta(days=8)), "expired"),
        (press(14, 4, request_id="1.0.999"), None),  # unknown: held, not judged yet
    ]
    for command, reason in cases:
        _, out = issue_decider.run(state, command, RULES)
        if reason is None:
            assert out == [command]
        else:
            assert [e.reason for e in out] == [reason]
    rated, _ = issue_decider.run(state, press(15, 5), RULES)
    _, out = issue_decider.run(rated, press(16, 2), RULES)
    assert [(e.reason, e.standing_score) for e in out] == [("already_rated", 5)]


def test_a_press_on_an_earlier_cycle_is_outdated_and_a_closed_request_says_why():
    state, _ = resolved_and_addressed()
    state, out = run_all(state, [issue_event(Kind.STATUS_CHANGED, "in_progress", "completed", 2)])
    assert [e.reason for e in out if isinstance(e, RatingClosed)] == ["reopened"]
    _, out = issue_decider.run(state, press(20, 4), RULES)
    assert [e.reason for e in out] == ["reopened"]
    state, out = run_all(state, [issue_event(Kind.STATUS_CHANGED, "completed", "in_progress", 3)])
    _, out = issue_decider.run(state, press(21, 4), RULES)
    assert [e.reason for e in out] == ["outdated"]


def test_a_press_before_its_request_is_held_then_judged():
    state, out = run_all(None, [press(30, 3)])
    assert out == [press(30, 3)]
    state, out = run_all(state, [issue_event(Kind.STATUS_CHANGED, "completed", "opened", 1)])
    [request] = [e for e in out if isinstance(e, RatingRequested)]
    assert not [e for e in out if isinstance(e, RatingRecorded)]  # not addressed yet
    state, out = run_all(state, [addressed(request)])
    assert [type(e) for e in out] == [RatingRequested, RatingRecorded]
    assert state.held_presses == ()


def test_a_held_press_whose_request_never_comes_is_unknown_after_the_expiry():
    state, _ = run_all(None, [press(40, 3, request_id="1.0.77")])
    _, out = issue_decider.run(state, ClockTick(issue_id="1", now=T0 + timedelta(days=6)), RULES)
    assert out == []
    _, out = issue_decider.run(state, ClockTick(issue_id="1", now=T0 + timedelta(days=8)), RULES)
    assert [e.reason for e in out] == ["unknown"]


def test_one_reminder_then_expiry_by_the_clock():
    state, request = resolved_and_addressed()
    state, out = issue_decider.run(state, ClockTick(issue_id="1", now=request.requested_at + timedelta(hours=23)), RULES)
    assert out == []
    state, out = issue_decider.run(state, ClockTick(issue_id="1", now=request.requested_at + timedelta(hours=25)), RULES)
    [reminder] = out
    assert isinstance(reminder, RatingReminder) and reminder.event_id == "1.0.1/reminder/1" and reminder.recipient_user_id == USER
    state, out = issue_decider.run(state, ClockTick(issue_id="1", now=request.requested_at + timedelta(hours=26)), RULES)
    assert out == []
    state, out = issue_decider.run(state, ClockTick(issue_id="1", now=request.requested_at + timedelta(days=7)), RULES)
    assert [type(e) for e in out] == [RatingExpired]
    _, out = issue_decider.run(state, ClockTick(issue_id="1", now=request.requested_at + timedelta(days=8)), RULES)
    assert out == []


def test_reminders_off():
    rules = replace(RULES, remind_after=None)
    state, _ = resolved_and_addressed()
    _, out = issue_decider.run(state, ClockTick(issue_id="1", now=T0 + timedelta(days=2)), rules)
    assert out == []


def test_a_portal_rating_closes_an_open_request_and_is_recorded_apart():
    state, _ = resolved_and_addressed()
    state, out = run_all(state, [issue_event(Kind.CSAT_RATE, None, None, 5, rate="good")])
    assert [type(e) for e in out] == [RatingClosed, PortalRatingRecorded]
    assert out[0].reason == "rated_in_portal" and out[1].rate == "good"
    _, out = issue_decider.run(state, press(50, 4), RULES)
    assert [e.reason for e in out] == ["rated_in_portal"]


def test_okrates_own_rate_write_changes_nothing():
    state, _ = resolved_and_addressed()
    state, _ = issue_decider.run(state, press(60, 4), RULES)
    _, out = issue_decider.run(state, issue_event(Kind.CSAT_RATE, None, None, 6, rate="good"), RULES)
    assert out == []


def test_low_score_reasons_once_per_code():
    state, _ = resolved_and_addressed()
    state, _ = issue_decider.run(state, press(70, 2), RULES)
    reason = ReasonGiven(event_id="reason/71", update_id=71, request_id="1.0.1", issue_id="1", reason_code="Долго",
                         from_user_id=USER, given_at=T0 + timedelta(minutes=6))
    state, out = issue_decider.run(state, reason, RULES)
    assert [type(e) for e in out] == [ReasonRecorded]
    _, out = issue_decider.run(state, replace(reason, update_id=72), RULES)
    assert out == []
    high, _ = resolved_and_addressed()
    high, _ = issue_decider.run(high, press(73, 5), RULES)
    assert issue_decider.run(high, reason, RULES)[1] == []


# Any interleaving of presses: exactly the first valid press of the right user in time is
# recorded, and every other press gets exactly one decision with its reason.
press_spec = st.tuples(st.sampled_from([USER, OTHER]), st.integers(0, 6), st.booleans(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(press_spec, min_size=1, max_size=12))
def test_exactly_the_first_valid_press_counts(specs):
    commands, presses = [], []
    early = []
    for number, (user, score, late, before_request) in enumerate(specs):
        p = press(100 + number, score, user=user, at=timedelta(days=8) if late else timedelta(minutes=5 + number))
        presses.append(p)
        (early if before_request else commands).append(p)
    resolution = issue_event(Kind.STATUS_CHANGED, "completed", "opened", 1)
    state, out = run_all(None, [*early, resolution])
    [request] = [e for e in out if isinstance(e, RatingRequested)]
    _, rest = run_all(state, [addressed(request), *commands])
    decided = out + rest
    # The order in which presses are judged: the held ones when the request is addressed, then the rest.
    order = early + commands
    recorded_seen = None
    for p in order:
        [decision] = outcome(decided, p.update_id)
        if p.from_user_id != USER:
            expected = "not_yours"
        elif not 1 <= p.score <= 5:
            expected = "invalid"
        elif p.pressed_at > request.requested_at + RULES.expiry:
            expected = "expired"
        elif recorded_seen is not None:
            expected = "already_rated"
        else:
            expected = "recorded"
            recorded_seen = p.score
        got = "recorded" if isinstance(decision, RatingRecorded) else decision.reason
        assert got == expected, (p, decision)
    assert len([e for e in decided if isinstance(e, RatingRecorded)]) == (1 if recorded_seen is not None else 0)


def test_the_recorded_press_processed_again_is_recorded_again_with_the_same_id():
    state, _ = resolved_and_addressed()
    state, first = issue_decider.run(state, press(80, 4), RULES)
    _, again = issue_decider.run(state, press(80, 4), RULES)
    assert [e.event_id for e in again] == [e.event_id for e in first] == ["press/80/recorded"]


def test_conversation_buttons_are_not_presses():
    import json

    from schemas.callback_data import NEW_ISSUE
    from schemas.records import TelegramUpdateEnvelope
    from streams.rules.claims import claim

    body = json.dumps({"update_id": 9, "callback_query": {"id": "q", "from": {"id": USER}, "data": NEW_ISSUE}}).encode()
    envelope = TelegramUpdateEnvelope(update_id=9, received_at=T0, source="polling", body=body, kind="callback_query")
    assert claim(envelope, ("Долго",)) is None
