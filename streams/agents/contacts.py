"""The contacts' side: `contact.links` meets the requests re-keyed by contact (co-partitioned).
Each request comes addressed by the issue's side from its copy of the links; what that copy got
wrong (and every later link or unlink) goes back to the issue re-addressed, or closed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from schemas.codec import encode
from schemas.keys import issue_key
from schemas.records import ContactLink, RatingClosed, RatingRequested
from schemas.topics import CONTACT_LINKS, REQUESTS_BY_CONTACT, REQUESTS_BY_ISSUE
from streams.agents.inbox import refuse, take
from streams.rules import addressing
from streams.state_codec import StateCodec

if TYPE_CHECKING:
    from streams.app import StreamsApp
    from streams.outputs import Output

NAME = "contacts"
log = logging.getLogger("okrate.streams.contacts")
CODEC = StateCodec(addressing.ContactState)


def register(app: StreamsApp) -> None:
    table = app.table(NAME, through_outputs=True)

    @app.faust.agent(app.inputs(CONTACT_LINKS, REQUESTS_BY_CONTACT), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def address_requests(stream):
        acking = stream.noack()
        async for event in acking.events():
            outputs: list[Output] = []
            received = take(app, event, (ContactLink, RatingRequested, RatingClosed), NAME, outputs)
            if received is not None:
                key = event.key or b""
                try:
                    before = CODEC.loads(table.get(key))
                    after, decisions = addressing.run(before, received.record, key.decode(), app.rules)
                    produced = [app.output(REQUESTS_BY_ISSUE, issue_key(d.issue_id), encode(d)) for d in decisions]
                    if after != before:
                        table[key] = CODEC.dumps(after)
                    outputs += produced
                except Exception as exc:
                    log.exception("addressing failed")
                    refuse(app, event, "agent_error", f"{type(exc).__name__}: {exc}", NAME, outputs)
            await app.emit(acking, event, outputs)
