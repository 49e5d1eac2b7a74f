"""Streams I through the real broker: raw webhooks of both dialects in, exactly the right
rating requests out, addressed by the link in `contact.links`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from schemas.records import ContactLink, DeadLetter, IssueEvent, RatingRequested
from schemas.topics import CONTACT_LINKS, DEADLETTER, ISSUE_EVENTS, OKDESK_EVENTS, RATING_REQUESTED
from tests.kafka_helpers import caught_up
from tests.streams_harness import Feeder, running_streams, wait_for


def seed_status(issue: int, new: str, old: str | None, contact: int = 95) -> bytes:
    return json.dumps({"event": {"event_type": "issue.status_changed"},
                       "issue": {"id": issue, "title": f"Issue {issue}", "status": {"code": new, "name": new},
                                 "old_status": {"code": old, "name": old} if old else None,
                                 "client": {"contact": {"id": contact}, "company": {"id": 147}}}}).encode()


def okdesk_status(issue: int, new: str, old: str, contact: int = 95) -> bytes:
    return json.dumps({"event": {"event_type": "new_ticket_status", "old_status": {"code": old, "name": old},
                                 "new_status": {"code": new, "name": "Решена"}},
                       "issue": {"id": str(issue), "title": f"Issue {issue}", "status": {"code": "opened"},
                                 "client": {"contact": {"id": str(contact)}, "company": {"id": "147"}}}}).encode()


def link(contact: str, user: int) -> ContactLink:
    return ContactLink(contact_id=contact, state="linked", telegram_user_id=user, chat_id=user,
                       source="operator", changed_at=datetime.now(UTC).replace(microsecond=0))


async def test_webhooks_to_addressed_requests(settings_for, kafka_bootstrap, data_dir):
    settings = settings_for()
    feed = Feeder(settings, kafka_bootstrap)
    feed.record(CONTACT_LINKS, "95", link("95", 555))
    feed.webhook("1380", seed_status(1380, "resolved", "opened"))
    feed.webhook("1380", seed_status(1380, "resolved", "opened"))  # a retried delivery
    feed.webhook("153", okdesk_status(153, "completed", "opened"))
    feed.webhook("154", okdesk_status(154, "in_progress", "opened"))  # not final: no request
    feed.webhook("155", okdesk_status(155, "completed", "opened", contact=96))  # no link
    feed.raw(OKDESK_EVENTS, "x", b"\xc3\x01garbage")  # undecodable
    feed.webhook("156", b"[1, 2]")  # decodable envelope, body not understood

    app_id = f"okrate-test-{uuid.uuid4().hex[:8]}"
    async with running_streams(settings, kafka_bootstrap, data_dir, app_id=app_id):
        requested = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED,
                                   lambda rs: len({r.issue_id for r in rs}) >= 3)
        await caught_up(kafka_bootstrap, app_id)  # every input decided: anything more would be here by now
        requested = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED, lambda rs: True)

    assert all(isinstance(r, RatingRequested) for r in requested)
    by_issue = {r.issue_id: r for r in requested}
    assert sorted(r.issue_id for r in requested) == ["1380", "153", "155"]
    assert by_issue["1380"].deliverable and by_issue["1380"].recipient_user_id == 555
    assert by_issue["153"].deliverable and by_issue["153"].recipient_chat_id == 555
    assert by_issue["153"].status_name == "Решена"
    assert not by_issue["155"].deliverable and by_issue["155"].recipient_user_id is None

    events = await wait_for(kafka_bootstrap, settings, ISSUE_EVENTS, lambda rs: len(rs) == 5)
    assert all(isinstance(e, IssueEvent) for e in events)
    letters = await wait_for(kafka_bootstrap, settings, DEADLETTER, lambda rs: len(rs) == 2)
    assert sorted(letter.reason for letter in letters if isinstance(letter, DeadLetter)) == ["not_understood", "truncated"]
