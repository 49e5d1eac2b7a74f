"""The agents as Faust runs them, through `Agent.test_context()` (no broker): what goes in, what
they send, what they dead-letter. Outputs (dead letters among them) are caught at
`StreamsApp.emit`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest
from faust.types import TP

from base.settings import load_settings
from schemas.codec import decode, encode
from schemas.records import (
    DeadLetter,
    IssueEvent,
    OkdeskWebhookEnvelope,
    RatingReceived,
    RatingRequested,
    utc_now,
)
from schemas.telegram_envelope import telegram_envelope
from schemas.topics import (
    DEADLETTER,
    ISSUE_EVENTS,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
)
from streams.agents import claims, issues
from streams.app import StreamsApp, StreamsConfig
from streams.link_directory import LinkDirectory
from streams.outputs import Waiting


@dataclass
class Sent:
    outputs: list = field(default_factory=list)
    letters: list = field(default_factory=list)


@pytest.fixture
def app(tmp_path) -> tuple[StreamsApp, Sent]:
    settings = load_settings(_env_file=None, kafka_bootstrap_servers="127.0.0.1:9")
    streams = StreamsApp(StreamsConfig(settings=settings, bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:6]}",
                                       data_dir=tmp_path, store="memory://"))
    sent = Sent()
    specs = {streams.topic.name_of(spec): spec for spec in (ISSUE_EVENTS, RATING_RECEIVED, RATING_REQUESTED,
                                                             REQUESTS_BY_CONTACT)}

    async def emit(stream, event, outputs, held=False):
        for topic, key, value in outputs:
            if topic == streams.topic.name_of(DEADLETTER):
                sent.letters.append(decode(value, (DeadLetter,)))
            else:
                sent.outputs.append((specs[topic], key, decode(value)))
        return Waiting(event, 1 if held else 0)

    streams.emit = emit  # type: ignore[method-assign]
    streams.links = LinkDirectory(None, "contact.links")  # no broker: every contact unlinked
    return streams, sent


def _arrive_on(running, topic: str) -> None:
    """test_context names a multi-topic agent's messages `<internal>`: name the topic instead."""
    make = running.to_message

    def to_message(*args, **kwargs):
        message = make(*args, **kwargs)
        message.topic, message.tp = topic, TP(topic, message.partition)
        return message

    running.to_message = to_message


def _webhook(body: dict) -> bytes:
    return encode(OkdeskWebhookEnvelope(delivery_id="d-1", received_at=utc_now(), path="/okdesk-webhook",
                                        body=json.dumps(body).encode(), issue_id="1380"))


async def test_the_issue_agent_emits_one_issue_event_per_webhook_and_dead_letters_what_it_cannot_read(app):
    streams, sent = app
    issues.register(streams)
    agent = streams.faust.agents[f"{streams.config.app_id}.issues"]
    async with agent.test_context() as running:
        _arrive_on(running, streams.topic.name_of(OKDESK_EVENTS))  # the agent reads several topics
        await running.put(key=b"1381", value=b"not an avro envelope")
        await running.put(key=b"1380", value=_webhook({
            "event": {"event_type": "new_ticket_status", "old_status": {"code": "in_progress"},
                      "new_status": {"code": "completed"}},
            "issue": {"id": 1380, "status": {"code": "completed"}, "client": {"contact": {"id": "95"}}}}))
        await running.put(key=b"1382", value=_webhook({"event": {"event_type": "new_ticket_status"}, "issue": []}))
    [(spec, key, event)] = [out for out in sent.outputs if out[0] == ISSUE_EVENTS]
    assert (spec, key) == (ISSUE_EVENTS, b"1380")
    assert isinstance(event, IssueEvent)
    # In the same step: the request, addressed (undeliverable: nobody is linked), to the client's
    # side and to the contacts' side, which corrects a stale copy of the links.
    [(_, _, request)] = [out for out in sent.outputs if out[0] == RATING_REQUESTED]
    assert isinstance(request, RatingRequested) and request.issue_id == "1380" and not request.deliverable
    assert [key for spec, key, _ in sent.outputs if spec == REQUESTS_BY_CONTACT] == [b"95"]
    assert (event.issue_id, event.old_status_code, event.new_status_code, event.contact_id) == (
        "1380", "in_progress", "completed", "95")
    assert [letter.reason for letter in sent.letters] == ["bad_marker", "not_understood"]
    assert [letter.source_offset for letter in sent.letters] == [0, 2]  # and the webhook after the bad one went through


async def test_the_claims_agent_turns_a_press_into_a_rating_received_keyed_by_issue(app):
    streams, sent = app
    claims.register(streams)
    agent = streams.faust.agents[f"{streams.config.app_id}.claims"]
    press = {"update_id": 7, "callback_query": {"id": "cq", "from": {"id": 1001}, "message": {
        "message_id": 5, "chat": {"id": 1001}}, "data": "r:1380.0.4242:5"}}
    foreign = {"update_id": 8, "callback_query": {"id": "cq2", "from": {"id": 1001}, "message": {
        "message_id": 6, "chat": {"id": 1001}}, "data": "x" * 64}}
    async with agent.test_context() as running:
        for update in (press, foreign):
            envelope = telegram_envelope(json.dumps(update).encode(), "polling")
            await running.put(key=str(update["update_id"]).encode(), value=encode(envelope))
    [(spec, key, received)] = sent.outputs
    assert (spec, key) == (RATING_RECEIVED, b"1380")
    assert isinstance(received, RatingReceived)
    assert (received.request_id, received.score, received.from_user_id) == ("1380.0.4242", 5, 1001)
    assert [letter.reason for letter in sent.letters] == ["foreign_callback"]
