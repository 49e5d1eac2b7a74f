"""telegram.updates → rating.received: presses of okrate's buttons, re-keyed by issue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.codec import EncodeError, encode
from schemas.keys import issue_key
from schemas.records import TelegramUpdateEnvelope
from schemas.topics import RATING_RECEIVED, TELEGRAM_UPDATES
from streams.agents.inbox import refuse, take
from streams.rules.claims import ForeignPress, claim

if TYPE_CHECKING:
    from streams.app import StreamsApp
    from streams.outputs import Output

NAME = "claims"


def register(app: StreamsApp) -> None:
    reasons = app.settings.rating_reasons

    @app.faust.agent(app.inputs(TELEGRAM_UPDATES), name=f"{app.config.app_id}.{NAME}", concurrency=1)
    async def claim_presses(stream):
        acking = stream.noack()
        async for event in acking.events():
            outputs: list[Output] = []
            if (received := take(app, event, (TelegramUpdateEnvelope,), NAME, outputs)) is not None:
                try:
                    press = claim(received.record, reasons)
                    if press is not None:
                        outputs.append(app.output(RATING_RECEIVED, issue_key(press.issue_id), encode(press)))
                except (ForeignPress, EncodeError) as exc:
                    refuse(app, event, "foreign_callback", str(exc), NAME, outputs)
            await app.emit(acking, event, outputs)
