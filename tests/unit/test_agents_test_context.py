"""The agents as Faust runs them, through `Agent.test_context()` (no broker): what goes in, what
they send, what they dead-letter. Outputs are caught at `StreamsApp.send` and the dead-letter
topic's `send`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest

from okrate.settings import load_settings
from schemas.codec import decode, encode
from schemas.records import DeadLetter, IssueEvent, OkdeskWebhookEnvelope, RatingReceived, utc_now
from schemas.telegram_envelope import telegram_envelope
from schemas.topics import ISSUE_EVENTS, RATING_RECEIVED
from streams.agents import claims, normalise
from streams.app import StreamsApp, StreamsConfig


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

    async def send(spec, key, value):
        sent.outputs.append((spec, key, decode(value)))

    class DeadLetters:
        async def send(self, key, value, force):
            sent.letters.append(decode(value, (DeadLetter,)))

    streams.send = send  # type: ignore[method-assign]
    streams.deadletter = DeadLetters()  # type: ignore[assignment]
    return streams, sent


def _webhook(body: dict) -> bytes:
    return encode(OkdeskWebhookEnvelope(delivery_id="d-1", received_at=utc_now(), path="/okdesk-webhook",
                                        body=json.dumps(body).encode(), issue_id="1380"))


async def test_the_normalise_agent_emits_one_issue_event_and_dead_letters_what_it_cannot_read(app):
    streams, sent = app
    normalise.register(streams)
    agent = streams.faust.agents[f"{streams.config.app_id}.normalise"]
    async with agent.test_context() as running:
        await running.put(key=b"1381", value=b"not an avro envelope")
        await running.put(key=b"1380", value=_webhook({
            "event": {"event_type": "new_ticket_status", "old_status": {"code": "in_progress"},
                      "new_status": {"code": "completed"}},
            "issue": {"id": 1380, "status": {"code": "completed"}, "client": {"contact": {"id": "95"}}}}))
        await running.put(key=b"1382", value=_webhook({"event": {"event_type": "new_ticket_status"}, "issue": []}))
    [(spec, key, event)] = sent.outputs
    assert (spec, key) == (ISSUE_EVENTS, b"1380")
    assert isinstance(event, IssueEvent)
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
