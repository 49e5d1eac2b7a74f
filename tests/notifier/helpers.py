"""Helpers of the conversation tests: what the user saw, what the topics hold."""

from __future__ import annotations

import asyncio

from schemas.codec import decode
from schemas.records import ContactLink
from schemas.topics import CONTACT_LINKS
from tests.kafka_helpers import read_topic


def texts_of(user) -> list[str]:
    return [m.text or "" for m in user.bot_messages()]


async def said(tg_state, user, phrase: str, within: float = 15.0, count: int = 1):
    """The bot message(s) to `user` containing `phrase`, once there are `count` of them."""
    def found():
        hits = [m for m in user.bot_messages() if phrase in (m.text or "")]
        return hits if len(hits) >= count else None

    try:
        return await tg_state.wait_until(found, within=within)
    except (TimeoutError, AssertionError):
        raise AssertionError(f"no message with {phrase!r}; the bot said: {texts_of(user)}") from None


def contact_links(bootstrap: str, settings) -> list[ContactLink]:
    return [decode(r.value) for r in read_topic(bootstrap, CONTACT_LINKS.full_name(settings))]


async def links_async(bootstrap: str, settings) -> list[ContactLink]:
    return await asyncio.to_thread(contact_links, bootstrap, settings)


def keyboard_shows_share_button(user) -> bool:
    keyboard = user.chat.reply_keyboard or {}
    return any(isinstance(b, dict) and b.get("request_contact") for row in keyboard.get("keyboard", []) for b in row)
