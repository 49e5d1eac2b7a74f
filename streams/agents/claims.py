"""telegram.updates → rating.received: presses of okrate's buttons, re-keyed by issue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.codec import EncodeError, encode
from schemas.keys import issue_key
from schemas.records import TelegramUpdateEnvelope
from schemas.topics import RATING_RECEIVED, TELEGRAM_UPDATES
from streams.agents.inbox import receive, reject
from streams.claims import ForeignPress, claim

if TYPE_CHECKING:
    from streams.app import StreamsApp

NAME = "claims"


def register(app: StreamsApp) -> None:
    reasons = app.settings.rating_reasons

    @app.faust.agent(app.inputs(TELEGRAM_UPDATES), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def claim_presses(stream):
        async for event in stream.events():
            received = await receive(app, event, (TelegramUpdateEnvelope,), NAME)
            if received is None:
                continue
            try:
                press = claim(received.record, reasons)
                value = encode(press) if press is not None else None
            except (ForeignPress, EncodeError) as exc:
                await reject(app, event, "foreign_callback", str(exc), NAME)
                continue
            if press is not None and value is not None:
                await app.send(RATING_RECEIVED, issue_key(press.issue_id), value)
