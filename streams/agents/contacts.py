"""The contacts' side: `contact.links` meets the requests re-keyed by contact (co-partitioned),
and each request goes back to its issue addressed to the linked user, or undeliverable."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from schemas.codec import encode
from schemas.keys import issue_key
from schemas.records import ContactLink, RatingClosed, RatingRequested
from schemas.topics import CONTACT_LINKS, REQUESTS_BY_CONTACT, REQUESTS_BY_ISSUE
from streams import addressing
from streams.agents.inbox import receive, reject
from streams.state_codec import StateCodec

if TYPE_CHECKING:
    from streams.app import StreamsApp

NAME = "contacts"
log = logging.getLogger("okrate.streams.contacts")
CODEC = StateCodec(addressing.ContactState)


def register(app: StreamsApp) -> None:
    table = app.table(NAME)

    @app.faust.agent(app.inputs(CONTACT_LINKS, REQUESTS_BY_CONTACT), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def address_requests(stream):
        async for event in stream.events():
            received = await receive(app, event, (ContactLink, RatingRequested, RatingClosed), NAME)
            if received is None:
                continue
            key = event.key or b""
            try:
                before = CODEC.loads(table.get(key))
                after, decisions = addressing.run(before, received.record, key.decode(), app.rules)
                outputs = [(issue_key(d.issue_id), encode(d)) for d in decisions]
            except Exception as exc:
                log.exception("addressing failed")
                await reject(app, event, "agent_error", f"{type(exc).__name__}: {exc}", NAME)
                continue
            if after != before:
                table[key] = CODEC.dumps(after)
            for out_key, value in outputs:
                await app.send(REQUESTS_BY_ISSUE, out_key, value)
