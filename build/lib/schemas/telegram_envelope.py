"""A Telegram update, raw, into its envelope: the same whether it came by webhook or by polling."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from schemas.records import utc_now
from schemas.records.raw import TelegramUpdateEnvelope

UPDATE_KINDS = (
    "message", "edited_message", "callback_query", "my_chat_member", "chat_member",
    "channel_post", "edited_channel_post", "inline_query", "chat_join_request",
)


class NotAnUpdate(ValueError):
    pass


INT64 = 2**63


def _int(value: Any) -> int | None:
    """Telegram's ids fit in 64 bits; anything else is not Telegram's."""
    if isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64:
        return value
    return None


def telegram_envelope(body: bytes, source: str, received_at: datetime | None = None) -> TelegramUpdateEnvelope:
    try:
        update = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise NotAnUpdate("the body is not JSON") from None
    if not isinstance(update, dict) or _int(update.get("update_id")) is None:
        raise NotAnUpdate("the body is not a Telegram update (no integer update_id)")
    kind = next((k for k in UPDATE_KINDS if isinstance(update.get(k), dict)), None)
    part = update.get(kind) if kind else {}
    sender = part.get("from") if isinstance(part.get("from"), dict) else {}
    chat = part.get("chat")
    if kind == "callback_query" and isinstance(part.get("message"), dict):
        chat = part["message"].get("chat")
    chat_id = _int(chat.get("id")) if isinstance(chat, dict) else None
    from_id = _int(sender.get("id"))
    return TelegramUpdateEnvelope(
        update_id=update["update_id"],
        received_at=received_at or utc_now(),
        source=source,
        body=body,
        kind=kind,
        chat_id=chat_id if chat_id is not None else from_id,
        from_user_id=from_id,
    )


def envelope_key(envelope: TelegramUpdateEnvelope) -> bytes:
    """Keyed by chat, so one chat's updates stay in order; an update without one by its id."""
    if envelope.chat_id is not None:
        return str(envelope.chat_id).encode()
    return f"update:{envelope.update_id}".encode()
