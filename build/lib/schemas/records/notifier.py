"""The notifier's log of side effects: an intent before acting, an outcome after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class SideEffectIntent(Record):
    """What the notifier is about to do to the outside world, recorded before it acts (topic `notifier.outcomes`).

    Fields: `avro/side_effect_intent.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.SideEffectIntent"

    idempotency_key: str
    kind: str
    issue_id: str | None = None
    request_id: str | None = None
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None
    attempt: int = 1
    intended_at: datetime
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SideEffectOutcome(Record):
    """What came of a side effect (topic `notifier.outcomes`).

    Fields: `avro/side_effect_outcome.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.SideEffectOutcome"

    idempotency_key: str
    kind: str
    status: str
    issue_id: str | None = None
    request_id: str | None = None
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None
    attempt: int = 1
    completed_at: datetime
    telegram_message_id: int | None = None
    okdesk_comment_id: str | None = None
    okdesk_issue_id: str | None = None
    http_status: int | None = None
    error: str | None = None
    details: dict[str, str] = field(default_factory=dict)
