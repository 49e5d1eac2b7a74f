"""okdesk.events → issue.events: one normalised event per webhook, both dialects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.codec import EncodeError, encode
from schemas.keys import issue_key
from schemas.records import OkdeskWebhookEnvelope
from schemas.topics import ISSUE_EVENTS, OKDESK_EVENTS
from streams.agents.inbox import receive, reject
from streams.normalise import NotUnderstood, Position, normalise

if TYPE_CHECKING:
    from streams.app import StreamsApp

NAME = "normalise"


def register(app: StreamsApp) -> None:
    # concurrency=1: faust-streaming #606 commits past in-flight messages with more.
    @app.faust.agent(app.inputs(OKDESK_EVENTS), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def normalise_webhooks(stream):
        async for event in stream.events():
            received = await receive(app, event, (OkdeskWebhookEnvelope,), NAME)
            if received is None:
                continue
            try:
                issue_event = normalise(received.record, Position(received.topic, received.partition, received.offset))
                value = encode(issue_event) if issue_event is not None else None
            except (NotUnderstood, EncodeError) as exc:
                await reject(app, event, "not_understood", str(exc), NAME)
                continue
            if issue_event is not None and value is not None:
                await app.send(ISSUE_EVENTS, issue_key(issue_event.issue_id), value)
