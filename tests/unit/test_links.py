"""Links: the CSV import plan and the addressing decider (who receives a request)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from base.links import LinkError, link_record, plan_import
from schemas.records import ContactLink, RatingClosed, RatingRequested
from streams.rules import Rules, addressing

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RULES = Rules(expiry=timedelta(days=7))


def test_import_plan_counts_added_unchanged_and_rejected_with_lines():
    current = {"95": link_record("95", "linked", "operator", 1001)}
    text = ("contact_id,telegram_user_id\n"
            "95,1001\n"       # unchanged: already linked so
            "96,1002\n"       # added
            "97,abc\n"        # rejected: not a number
            "98\n"            # rejected: one column
            "96,1002\n"       # unchanged: a duplicate line
            "96,1003\n"       # rejected: contradicts line 3
            "99,-5\n"         # rejected: out of range
            "\n"
            "100,1004\n")     # added
    plan = plan_import(text, current)
    assert plan.to_link == [("96", 1002), ("100", 1004)]
    assert plan.unchanged == 2
    assert [line for line, _ in plan.rejected] == [4, 5, 7, 8]
    assert "already given on line 3" in plan.rejected[2][1]


def test_import_needs_the_header():
    with pytest.raises(LinkError):
        plan_import("95,1001\n", {})


def request(issue: str = "1", at: datetime = T0, contact: str = "95") -> RatingRequested:
    return RatingRequested(event_id=f"{issue}.0.1/requested", request_id=f"{issue}.0.1", issue_id=issue, cycle=1,
                           requested_at=at, trigger_partition=0, trigger_offset=1, contact_id=contact, deliverable=False)


def link(state: str, user: int | None = None, at: datetime = T0) -> ContactLink:
    return ContactLink(contact_id="95", state=state, telegram_user_id=user, chat_id=user, source="operator", changed_at=at)


def play(commands, state=None):
    out = []
    for command in commands:
        state, events = addressing.run(state, command, "95", RULES)
        out.extend(events)
    return state, out


def test_a_linked_contact_gets_its_requests_addressed():
    _, out = play([link("linked", 555), request()])
    [addressed] = out
    assert addressed.deliverable and addressed.recipient_user_id == 555 and addressed.addressed_at == T0


def test_an_unlinked_contact_gets_undeliverable_then_a_late_link_readdresses():
    state, out = play([request()])
    assert [r.deliverable for r in out] == [False]
    _, out = play([link("linked", 555, T0 + timedelta(hours=1))], state)
    [readdressed] = out
    assert readdressed.request_id == "1.0.1" and readdressed.recipient_user_id == 555


def test_a_late_link_after_the_expiry_does_not_readdress():
    state, _ = play([request()])
    _, out = play([link("linked", 555, T0 + timedelta(days=8))], state)
    assert out == []


def test_unlink_closes_what_was_addressed_and_a_later_link_starts_afresh():
    state, _ = play([link("linked", 555), request()])
    state, out = play([link("unlinked", at=T0 + timedelta(minutes=5))], state)
    assert [(type(e), e.reason) for e in out] == [(RatingClosed, "unlinked")]
    state, out = play([link("linked", 556, T0 + timedelta(minutes=6))], state)
    assert out == []
    _, out = play([request("2", T0 + timedelta(minutes=7))], state)
    assert out[0].recipient_user_id == 556


def test_a_closed_request_is_forgotten():
    state, _ = play([request()])
    closing = RatingClosed(event_id="1.0.1/closed", request_id="1.0.1", issue_id="1", reason="reopened", closed_at=T0)
    state, _ = play([closing], state)
    _, out = play([link("linked", 555)], state)
    assert out == []


def test_forget_is_an_unlink_that_is_remembered():
    state, _ = play([link("linked", 555), request()])
    state, out = play([link("forgotten", at=T0 + timedelta(minutes=1))], state)
    assert [e.reason for e in out] == ["unlinked"] and state.forgotten


# The issue's side addresses new requests itself, from the worker's copy of the links; this side
# corrects only what that copy got wrong.

def test_a_request_addressed_as_this_side_would_needs_no_correction_and_is_remembered():
    copy_said = addressing.addressed_to(request(), 555, 555, T0)
    state, out = play([link("linked", 555), copy_said])
    assert out == []
    _, out = play([link("unlinked", at=T0 + timedelta(minutes=5))], state)
    assert [(e.request_id, e.reason, e.recipient_user_id) for e in out] == [("1.0.1", "unlinked", 555)]


def test_a_copy_that_had_not_caught_up_with_a_link_is_corrected_with_the_same_request_id():
    copy_said = addressing.addressed_to(request(), None, None, T0)  # the link was a moment older
    _, out = play([link("linked", 555), copy_said])
    [corrected] = out
    assert (corrected.request_id, corrected.deliverable, corrected.recipient_user_id) == ("1.0.1", True, 555)
    assert corrected.event_id == "1.0.1/addressed/555"  # the id the copy would have given it


def test_a_copy_that_had_not_caught_up_with_an_unlink_closes_the_request_for_that_user():
    copy_said = addressing.addressed_to(request(), 555, 555, T0)  # its message may be out already
    state, out = play([link("linked", 555), link("unlinked", at=T0), copy_said])
    [closing] = out
    assert (type(closing), closing.request_id, closing.reason, closing.recipient_user_id) == (
        RatingClosed, "1.0.1", "unlinked", 555)
    _, out = play([link("linked", 556, T0 + timedelta(minutes=1))], state)
    assert out == []  # as after an unlink that followed the request: a later link starts afresh


def test_a_copy_behind_a_relink_to_another_user_is_readdressed_to_that_user():
    copy_said = addressing.addressed_to(request(), 555, 555, T0)
    _, out = play([link("linked", 555), link("unlinked", at=T0), link("linked", 556, T0), copy_said])
    assert [(e.request_id, e.recipient_user_id) for e in out] == [("1.0.1", 556)]


def test_a_copy_ahead_of_this_side_is_believed_and_its_recipient_remembered():
    """Requests and links reach this side in no particular order: a request the copy addressed
    from a link this side has not read yet is not corrected, and the link, once read, changes
    nothing; an unlink after it closes the request for that user."""
    copy_said = addressing.addressed_to(request(), 555, 555, T0)
    state, out = play([copy_said])
    assert out == []
    state, out = play([link("linked", 555)], state)
    assert out == []
    _, out = play([link("unlinked", at=T0 + timedelta(minutes=1))], state)
    assert [(type(e), e.recipient_user_id) for e in out] == [(RatingClosed, 555)]
