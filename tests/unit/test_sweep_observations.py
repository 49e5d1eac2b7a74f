"""The sweep's observations in the resolution-cycle rules: an observation starts a cycle only
where no webhook did, and observing the same resolution again (every sweep) changes nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schemas.records import OkdeskWebhookEnvelope
from schemas.records.raw import SWEEP
from streams.rules.normalise import Kind, NotUnderstood, Position, normalise
from tests.unit.test_request_cycles import T0, closes, ev, play, requests

DONE = T0 - timedelta(minutes=5)  # Okdesk's completed_at of the first resolution


def seen(status: str = "completed", completed: datetime | None = DONE, *, at: int | None = None, **kw):
    """An observation read `at` seconds after T0 (ev's offsets also order event times)."""
    event = ev(Kind.OBSERVED, status, **kw)
    changes = {"completed_at": completed}
    if at is not None:
        changes["event_time"] = T0 + timedelta(seconds=at)
    return replace(event, **changes)


def resolved(completed: datetime | None = DONE, **kw):
    return replace(ev(Kind.STATUS_CHANGED, "completed", "opened", **kw), completed_at=completed)


@pytest.mark.parametrize(
    ("story", "asked"),
    [
        ("webhook seen, then observed final: nothing more", 1),
        ("webhook lost: the observation asks once, however many sweeps", 1),
        ("observed first, the late webhook after: once", 1),
        ("an observation in a non-final status never reopens", 1),
    ],
)
def test_observations_ask_only_where_no_webhook_did(story, asked):
    events = {
        "webhook seen, then observed final: nothing more": [resolved(), seen(), seen(), seen("closed")],
        "webhook lost: the observation asks once, however many sweeps": [seen(), seen(), seen()],
        "observed first, the late webhook after: once": [seen(), resolved()],
        "an observation in a non-final status never reopens": [resolved(), seen("opened", None), seen()],
    }[story]
    _, out = play(events)
    assert len(requests(out)) == asked and not closes(out)


@pytest.mark.parametrize("before", [
    ev(Kind.STATUS_CHANGED, "closed", "completed"),  # the closing seen, the resolution lost
    ev(Kind.STATUS_CHANGED, "completed", "completed"),  # a repeat of the final status, nothing else
])
def test_seen_final_only_from_one_final_status_to_another_the_observation_asks_once(before):
    state, out = play([before, seen(before.new_status_code, offset=10), seen(before.new_status_code, offset=11)])
    [request] = requests(out)
    assert request.trigger_origin == "sweep" and state.cycle == 1 and not closes(out)


def test_reopened_seen_and_resolved_again_lost_is_a_new_cycle():
    reopen = ev(Kind.STATUS_CHANGED, "opened", "completed", offset=10)
    _, out = play([resolved(offset=5), reopen, seen(completed=DONE + timedelta(hours=1), offset=20)])
    first, second = requests(out)
    assert (first.cycle, second.cycle) == (1, 2) and [c.reason for c in closes(out)] == ["reopened"]
    assert second.request_id == "1.0.20"  # the observation's own position: stable under replay


def test_an_observation_read_before_the_reopen_it_follows_is_stale():
    reopen = ev(Kind.STATUS_CHANGED, "opened", "completed", offset=10)
    _, out = play([resolved(offset=5), reopen, seen(completed=None, offset=30, at=8)])
    assert len(requests(out)) == 1  # read at 8 s, the reopen seen at 10 s: it shows the old resolution


def test_both_webhooks_lost_a_later_completed_at_is_a_new_resolution():
    state, out = play([resolved(), seen(), seen(completed=DONE + timedelta(days=1)), seen(completed=DONE + timedelta(days=1))])
    assert [r.cycle for r in requests(out)] == [1, 2] and [c.reason for c in closes(out)] == ["reopened"]
    assert state.resolved_at == DONE + timedelta(days=1)


def test_a_resolution_whose_time_the_webhook_lacked_is_learnt_from_the_observation():
    state, out = play([resolved(completed=None), seen(), seen()])
    assert len(requests(out)) == 1 and state.resolved_at == DONE
    _, out = play([resolved(completed=None), seen(), seen(completed=DONE + timedelta(hours=2))])
    assert len(requests(out)) == 2


def test_an_observation_replayed_asks_again_with_the_same_id_and_nothing_more():
    first = seen(offset=40)
    state, out = play([first])
    [request] = requests(out)
    from streams.rules import Rules, issue_decider

    state, again = issue_decider.run(state, first, Rules())  # its own trigger, processed again
    assert [r.request_id for r in requests(again)] == [request.request_id]


def _envelope(body: bytes, origin: str = SWEEP) -> OkdeskWebhookEnvelope:
    return OkdeskWebhookEnvelope(delivery_id="sweep-1", received_at=T0, body=body,
                                 path="/api/v1/issues/list?page[number]=1", origin=origin)


def test_an_api_issue_is_normalised_as_an_observation():
    body = json.dumps({
        "id": 1380, "title": "Принтер", "status": {"code": "completed", "name": "Решена"},
        "company_id": 147, "contact": {"id": 95, "name": "Петров Иван"},
        "assignee": {"employee_id": 2, "group_id": 1}, "rate": {"id": 1, "value": "good"},
        "completed_at": "2026-11-27T11:55:00.000+03:00", "type": None, "priority": None,
    }, ensure_ascii=False).encode()
    event = normalise(_envelope(body), Position("okdesk.events", 3, 17))
    assert (event.kind, event.dialect, event.issue_id, event.new_status_code) == (Kind.OBSERVED, "api", "1380", "completed")
    assert (event.contact_id, event.company_id, event.assignee_employee_id, event.assignee_group_id) == ("95", "147", "2", "1")
    assert event.completed_at == datetime(2026, 11, 27, 8, 55, tzinfo=UTC) and event.csat_rate is None
    assert event.event_time == T0


def test_an_observation_with_nothing_but_an_id_and_nulls_is_still_read():
    event = normalise(_envelope(b'{"id": "7", "status": null, "contact": null, "assignee": null}'),
                      Position("okdesk.events", 0, 1))
    assert event.issue_id == "7" and event.new_status_code is None
    with pytest.raises(NotUnderstood):
        normalise(_envelope(b'{"id": null}'), Position("okdesk.events", 0, 2))


def test_a_webhook_envelope_written_before_the_sweep_existed_reads_as_a_webhook():
    body = b'{"event": {"event_type": "issue.status_changed"}, "issue": {"id": 5, "status": "resolved"}}'
    event = normalise(_envelope(body, origin="webhook"), Position("okdesk.events", 0, 3))
    assert event.kind == Kind.STATUS_CHANGED
