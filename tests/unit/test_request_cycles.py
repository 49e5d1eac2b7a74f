"""When okrate asks for a rating: the resolution-cycle rules, table-driven and property-based."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import IssueEvent, OkdeskWebhookEnvelope, RatingClosed, RatingRequested
from streams.rules import Rules, issue_decider, request_cycle
from streams.rules.normalise import Kind, Position, normalise

RULES = Rules()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
_offsets = iter(range(10**9))


def ev(kind: str, new: str | None, old: str | None = None, *, offset: int | None = None, issue: str = "1",
       type_code: str | None = None, group: str | None = None, author: str | None = None,
       comment_id: str | None = None) -> IssueEvent:
    off = next(_offsets) if offset is None else offset
    return IssueEvent(
        event_id=f"issue-event/0/{off}", kind=kind, dialect="seed", issue_id=issue,
        event_time=T0 + timedelta(seconds=off % 100000), delivery_id=f"d{off}", source_topic="okdesk.events",
        source_partition=0, source_offset=off, old_status_code=old, new_status_code=new,
        new_status_name=new, contact_id="95", type_code=type_code, assignee_group_id=group,
        author_id=author, comment_id=comment_id,
    )


def play(events, rules: Rules = RULES):
    return play_from(None, events, rules)


def play_from(state, events, rules: Rules = RULES):
    out = []
    for event in events:
        state, decisions = issue_decider.run(state, event, rules)
        out.extend(decisions)
    return state, out


def requests(out):
    return [d for d in out if isinstance(d, RatingRequested)]


def closes(out):
    return [d for d in out if isinstance(d, RatingClosed)]


def test_a_transition_into_final_asks_once():
    _, out = play([ev(Kind.CREATED, "opened"), ev(Kind.STATUS_CHANGED, "resolved", "opened")])
    [request] = requests(out)
    assert request.cycle == 1 and request.status_code == "resolved" and not request.deliverable


def test_status_change_and_update_in_either_order_or_twice_ask_once():
    def change():
        return ev(Kind.STATUS_CHANGED, "resolved", "opened")

    def update():
        return ev(Kind.UPDATED, "resolved")

    # A retried delivery is a new raw event (a new offset), with the same body.
    for order in ([change, update], [update, change], [change, change, update, update], [update, update]):
        assert len(requests(play([make() for make in order])[1])) == 1, order


def test_first_seen_already_final_counts():
    assert len(requests(play([ev(Kind.UPDATED, "closed")])[1])) == 1


def test_final_to_final_does_not_ask_again():
    _, out = play([ev(Kind.STATUS_CHANGED, "resolved", "opened"), ev(Kind.STATUS_CHANGED, "closed", "resolved")])
    assert len(requests(out)) == 1


def test_reopen_closes_the_request_and_a_new_resolution_is_a_new_cycle():
    _, out = play([ev(Kind.STATUS_CHANGED, "resolved", "opened"),
                   ev(Kind.STATUS_CHANGED, "in_progress", "resolved"),
                   ev(Kind.STATUS_CHANGED, "resolved", "in_progress")])
    first, second = requests(out)
    [closing] = closes(out)
    assert (first.cycle, second.cycle) == (1, 2) and first.request_id != second.request_id
    assert closing.request_id == first.request_id and closing.reason == "reopened"


def test_a_stale_update_is_not_a_reopen():
    _, out = play([ev(Kind.UPDATED, "opened"), ev(Kind.STATUS_CHANGED, "resolved", "opened"),
                   ev(Kind.UPDATED, "opened"), ev(Kind.UPDATED, "resolved")])
    assert len(requests(out)) == 1 and closes(out) == []


def test_status_codes_compare_exactly():
    rules = Rules()
    _, out = play([ev(Kind.STATUS_CHANGED, "unresolved", "opened")], rules)
    assert requests(out) == []


def test_deleted_closes_the_open_request():
    _, out = play([ev(Kind.STATUS_CHANGED, "resolved", "opened"), ev(Kind.DELETED, None)])
    [closing] = closes(out)
    assert closing.reason == "deleted"


def test_filters_by_type_and_group_apply_at_the_transition():
    rules = Rules(issue_types=frozenset({"service"}), groups=frozenset({"7"}))
    assert requests(play([ev(Kind.STATUS_CHANGED, "resolved", "opened", type_code="service", group="7")], rules)[1])
    assert not requests(play([ev(Kind.STATUS_CHANGED, "resolved", "opened", type_code="other", group="7")], rules)[1])
    assert not requests(play([ev(Kind.STATUS_CHANGED, "resolved", "opened", type_code="service", group="8")], rules)[1])


def test_request_id_is_derived_from_the_triggering_raw_event():
    _, out = play([ev(Kind.STATUS_CHANGED, "resolved", "opened", offset=4242, issue="1380")])
    assert requests(out)[0].request_id == "1380.0.4242"


def test_the_trigger_processed_again_emits_the_same_request_again():
    trigger = ev(Kind.STATUS_CHANGED, "resolved", "opened")
    state, out = play([trigger])
    _, again = issue_decider.run(state, trigger, RULES)
    assert [r.request_id for r in requests(again)] == [r.request_id for r in requests(out)]


def test_a_redelivered_run_of_webhooks_does_not_replay_an_old_reopen_onto_the_current_cycle():
    # Found by `make chaos`: resolved, reopened, resolved again, then the worker restarted before
    # committing and read all three once more (the outputs and the table had been written).
    run = [ev(Kind.STATUS_CHANGED, "completed", "opened"), ev(Kind.STATUS_CHANGED, "in_progress", "completed"),
           ev(Kind.STATUS_CHANGED, "completed", "in_progress")]
    state, out = play(run)
    current = requests(out)[-1]
    state, again = play_from(state, run)
    assert [r.request_id for r in requests(again)] == [current.request_id]  # the trigger's, re-emitted
    assert closes(again) == []
    assert state.request.request_id == current.request_id and state.request.is_open


def test_okrates_own_comments_and_rates_trigger_nothing_but_its_accounts_status_changes_count():
    rules = Rules(okrate_author_id="42")
    state, _ = play([ev(Kind.STATUS_CHANGED, "resolved", "opened")], rules)
    own_rate = replace(ev(Kind.CSAT_RATE, None, author="42"), csat_rate="good")
    assert issue_decider.decide(state, own_rate, rules) == []
    assert request_cycle.is_okrates_own(ev(Kind.COMMENT, None, author="42"), rules, state)
    # A person using the same Okdesk account resolved or reopened it: that counts.
    reopened = ev(Kind.STATUS_CHANGED, "in_progress", "resolved", author="42")
    assert [c.reason for c in closes(issue_decider.decide(state, reopened, rules))] == ["reopened"]


def test_normalise_reads_both_dialects():
    envelope = OkdeskWebhookEnvelope(delivery_id="d", received_at=T0, path="/", body=json.dumps({
        "event": {"event_type": "new_ticket_status", "old_status": {"code": "opened"},
                  "new_status": {"code": "Completed", "name": "Решена"}},
        "issue": {"id": "153", "status": {"code": "opened"}, "old_status": None,
                  "client": {"contact": {"id": "95"}, "company": {"id": 147}},
                  "assignee": {"group": {"id": "3", "name": "L1"}, "employee": {"id": 8, "first_name": "A", "last_name": "B"}},
                  "type": {"code": "service", "name": "Обслуживание"}, "created_at": "2026-11-20T10:00:00+03:00"},
    }).encode())
    event = normalise(envelope, Position("okdesk.events", 2, 17))
    assert (event.kind, event.dialect, event.issue_id) == (Kind.STATUS_CHANGED, "okdesk", "153")
    assert (event.old_status_code, event.new_status_code) == ("opened", "completed")
    assert (event.contact_id, event.company_id, event.assignee_group_id, event.assignee_employee_id) == ("95", "147", "3", "8")
    assert event.created_at == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    seed = OkdeskWebhookEnvelope(delivery_id="d", received_at=T0, path="/", body=json.dumps({
        "event": {"event_type": "issue.status_changed"},
        "issue": {"id": 1380, "status": {"code": "resolved"}, "old_status": {"code": "opened"}}}).encode())
    event = normalise(seed, Position("okdesk.events", 0, 1))
    assert (event.dialect, event.issue_id, event.new_status_code, event.old_status_code) == ("seed", "1380", "resolved", "opened")


# Property: any order and duplication of one cycle's status events yields exactly one request,
# and any sequence of cycles yields one per cycle.
cycle_events = st.tuples(st.sampled_from(["change", "update"]),
                         st.lists(st.sampled_from(["change", "update", "replay"]), max_size=5)).map(lambda t: [t[0], *t[1]])


@settings(max_examples=300, deadline=None)
@given(st.lists(cycle_events, min_size=1, max_size=5))
def test_one_request_per_cycle_whatever_the_order_and_duplication(cycles):
    events = [ev(Kind.CREATED, "opened")]
    for number, shape in enumerate(cycles):
        final = "resolved" if number % 2 == 0 else "closed"
        if number:
            events.append(ev(Kind.STATUS_CHANGED, "in_progress", "resolved" if number % 2 else "closed"))
        for item in shape:
            if item == "change":
                events.append(ev(Kind.STATUS_CHANGED, final, "in_progress" if number else "opened"))
            elif item == "update":
                events.append(ev(Kind.UPDATED, final))
            else:  # the same raw event processed again (a crash before the commit)
                events.append(events[-1])
    _, out = play(events)
    made = {r.request_id: r.cycle for r in requests(out)}
    assert sorted(made.values()) == list(range(1, len(cycles) + 1))
    assert len({c.request_id for c in closes(out)}) == len(cycles) - 1


def test_lone_surrogates_in_a_body_become_replacement_characters():
    from schemas.codec import encode

    body = b'{"event": {"event_type": "new_ticket_status", "new_status": {"code": "completed"}}, "issue": {"id": "5", "title": "\\ud800 bad"}}'
    envelope = OkdeskWebhookEnvelope(delivery_id="d", received_at=T0, path="/", body=body)
    event = normalise(envelope, Position("okdesk.events", 0, 1))
    assert event.title == "? bad"
    assert encode(event)


def test_a_request_is_addressed_from_the_links_copy_and_emitted_again_as_the_issue_knows_it():
    """The issue's side addresses a new request from the worker's copy of the links; when its
    trigger is processed again (a restarted worker, whose copy may not have caught up yet), the
    request goes out as the issue already knows it, not as an empty copy says."""
    trigger = ev(Kind.STATUS_CHANGED, "resolved", "opened")
    state, out = issue_decider.run(None, trigger, RULES, lambda contact: (555, 555) if contact == "95" else None)
    [first] = requests(out)
    assert (first.deliverable, first.recipient_user_id, first.event_id) == (True, 555, f"{first.request_id}/addressed/555")
    _, again = issue_decider.run(state, trigger, RULES, lambda contact: None)  # a copy that knows nothing yet
    [second] = requests(again)
    assert (second.request_id, second.deliverable, second.recipient_user_id) == (first.request_id, True, 555)
