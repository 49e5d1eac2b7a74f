"""Links between Okdesk contacts and Telegram users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class ContactLink(Record):
    """The latest state of an Okdesk contact's Telegram link (topic `contact.links`, compacted, keyed by contact id). A record, never a bare tombstone, so unlinked and forgotten stay distinguishable.

    Fields: `avro/contact_link.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.ContactLink"

    contact_id: str
    state: str
    telegram_user_id: int | None = None
    chat_id: int | None = None
    source: str
    changed_at: datetime
