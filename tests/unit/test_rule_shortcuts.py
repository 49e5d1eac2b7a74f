"""The rules' two shortcuts on every event's path give the answers of the slow ways they replace:
`changed` is `dataclasses.replace`, and a webhook's body reads as `json.loads` read it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.records import OkdeskWebhookEnvelope, RatingRequested
from streams.rules.changed import changed
from streams.rules.issue_state import IssueState, RequestState
from streams.rules.normalise import NotUnderstood, Position, normalise, parse_body

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def test_changed_is_replace_for_states_and_records():
    state = IssueState(issue_id="7", title="Принтер", cycle=2, request=RequestState("r", 1, T0))
    assert changed(state, cycle=3, title=None) == replace(state, cycle=3, title=None)
    assert changed(state, cycle=3) is not state and state.cycle == 2  # the original is untouched
    request = RatingRequested(event_id="e", request_id="r", issue_id="7", cycle=1, requested_at=T0,
                              trigger_partition=0, trigger_offset=1, deliverable=False)
    assert changed(request, deliverable=True, recipient_user_id=5) == replace(request, deliverable=True,
                                                                               recipient_user_id=5)


def test_changed_refuses_a_field_the_class_does_not_have():
    with pytest.raises(TypeError):
        changed(IssueState(issue_id="7"), cylce=3)


def test_changed_runs_post_init_where_a_class_has_one():
    @dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self):
            if self.n < 0:
                raise ValueError("negative")

    with pytest.raises(ValueError):
        changed(Checked(1), n=-1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30) | st.floats(allow_nan=False)
    | st.text(), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(json_values)
def test_any_json_reads_as_json_loads_reads_it(value):
    body = json.dumps(value, ensure_ascii=False).encode()  # (hypothesis' text has no lone surrogates)
    assert parse_body(body) == json.loads(body)


def _envelope(body: bytes) -> OkdeskWebhookEnvelope:
    return OkdeskWebhookEnvelope(delivery_id="d", received_at=T0, body=body, path="/okdesk-webhook")


def _webhook(**issue) -> dict:
    return {"event": {"event_type": "issue.status_changed"},
            "issue": {"id": 1, "status": {"code": "completed"}, **issue}}


def test_lone_surrogates_become_replacement_marks_in_the_issue_event():
    body = json.dumps(_webhook(title="Сломан \ud800 принтер")).encode()  # escaped: \\ud800
    event = normalise(_envelope(body), Position("okdesk.events", 0, 1))
    assert event is not None and event.title == "Сломан ? принтер"


def test_what_only_json_reads_is_read_as_before():
    big = b'{"event":{"event_type":"issue.status_changed"},"issue":{"id":123456789012345678901234567890}}'
    assert normalise(_envelope(big), Position("okdesk.events", 0, 1)).issue_id == "123456789012345678901234567890"
    bom = b"\xef\xbb\xbf" + json.dumps(_webhook()).encode()
    assert normalise(_envelope(bom), Position("okdesk.events", 0, 1)).new_status_code == "completed"
    nan = json.dumps(_webhook(priority=float("nan"))).encode()
    assert normalise(_envelope(nan), Position("okdesk.events", 0, 1)).priority_code == "nan"  # as json read it


def test_a_body_that_is_not_json_is_not_understood():
    for body in (b"\xff\xfe{", b"{", b"[" * 5000 + b"]" * 5000):
        with pytest.raises(NotUnderstood):
            normalise(_envelope(body), Position("okdesk.events", 0, 1))
