"""Presses of okrate's buttons, read from raw Telegram updates (pure).

Only callback queries carry presses. Their data is untrusted: what okrate did not make (forged,
foreign, malformed) is refused here and goes to the dead-letter topic; who pressed is `from.id`,
which Telegram vouches for. Free-text reasons come from the notifier's conversation instead.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.callback_data import RatingPress, ReasonPress, is_conversation, parse
from schemas.records import RatingReceived, ReasonGiven, TelegramUpdateEnvelope


class ForeignPress(ValueError):
    """A callback query whose data okrate did not make."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def claim(envelope: TelegramUpdateEnvelope, reasons: tuple[str, ...]) -> RatingReceived | ReasonGiven | None:
    """The press in an update; None for updates that are not callback queries."""
    if envelope.kind != "callback_query":
        return None
    try:
        update = json.loads(envelope.body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ForeignPress("the update is not JSON") from None
    query = update.get("callback_query") if isinstance(update, dict) else None
    if not isinstance(query, dict):
        raise ForeignPress("no callback_query object")
    sender = query.get("from") if isinstance(query.get("from"), dict) else {}
    from_id = _int(sender.get("id"))
    if from_id is None:
        raise ForeignPress("a callback query without from.id")
    data = query.get("data") if isinstance(query.get("data"), str) else None
    if is_conversation(data):
        return None
    press = parse(data)
    if press is None:
        raise ForeignPress(f"callback data {str(data)[:80]!r} is not okrate's")
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    common = {
        "update_id": envelope.update_id, "request_id": press.request_id, "issue_id": press.issue_id,
        "from_user_id": from_id, "chat_id": _int(chat.get("id")),
    }
    if isinstance(press, RatingPress):
        return RatingReceived(
            event_id=f"press/{envelope.update_id}", score=press.score, message_id=_int(message.get("message_id")),
            callback_query_id=str(query.get("id"))[:100] if query.get("id") is not None else None,
            pressed_at=envelope.received_at, **common,
        )
    assert isinstance(press, ReasonPress)
    if not 0 <= press.reason_index < len(reasons):
        raise ForeignPress(f"reason number {press.reason_index} is not among RATING_REASONS")
    return ReasonGiven(event_id=f"reason/{envelope.update_id}", reason_code=reasons[press.reason_index],
                       given_at=envelope.received_at, **common)
