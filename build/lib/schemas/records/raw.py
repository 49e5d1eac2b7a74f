"""Raw envelopes: what arrives from Okdesk and Telegram, before anything is understood."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class OkdeskWebhookEnvelope(Record):
    """One raw Okdesk event exactly as okrate got it (topic `okdesk.events`): a webhook delivery as the ingest accepted it, or an issue the sweep read from the Okdesk API (`origin`). The body is kept byte for byte; everything else is metadata of where it came from.

    Fields: `avro/okdesk_webhook_envelope.v2.avsc` (v1: without `origin`, read as `webhook`).
    """

    AVRO_NAME: ClassVar[str] = "okrate.OkdeskWebhookEnvelope"

    delivery_id: str
    received_at: datetime
    body: bytes
    path: str
    content_type: str | None = None
    user_agent: str | None = None
    auth: str | None = None
    remote_addr: str | None = None
    forwarded_for: str | None = None
    issue_id: str | None = None
    event_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    origin: str = "webhook"  # or "sweep"


WEBHOOK, SWEEP = "webhook", "sweep"


@dataclass(frozen=True, kw_only=True)
class TelegramUpdateEnvelope(Record):
    """One Telegram Bot API update exactly as received, by polling or by webhook (topic `telegram.updates`).

    Fields: `avro/telegram_update_envelope.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.TelegramUpdateEnvelope"

    update_id: int
    received_at: datetime
    source: str
    body: bytes
    kind: str | None = None
    chat_id: int | None = None
    from_user_id: int | None = None
