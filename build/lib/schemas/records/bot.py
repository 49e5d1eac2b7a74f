"""The bot's durable state: conversation steps and link invites."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class ConversationState(Record):
    """Where a chat is in a bot conversation (topic `bot.state`, compacted, key `chat:<id>`).

    Fields: `avro/conversation_state.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.ConversationState"

    chat_id: int
    user_id: int | None = None
    step: str
    request_id: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    updated_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class LinkInvite(Record):
    """A one-time link invite token (topic `bot.state`, compacted, key `invite:<token>`).

    Fields: `avro/link_invite.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.LinkInvite"

    token: str
    contact_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by_user_id: int | None = None
