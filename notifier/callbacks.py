"""The fast path: every callback query in `telegram.updates` gets its spinner stopped with a
neutral «Принято», from a consumer of its own that no send or retry can hold up. An update
older than `max_age` is left alone, so that a reprocess stays silent."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramRetryAfter

from notifier.consumer import Message
from notifier.locale import Texts
from schemas.codec import DecodeError, decode
from schemas.records import TelegramUpdateEnvelope

log = logging.getLogger("okrate.notifier.callbacks")


def callback_to_answer(envelope: TelegramUpdateEnvelope, now: datetime, max_age: float) -> tuple[str, str | None] | None:
    """(callback query id, the user's language) of an update to answer, or None."""
    if envelope.kind != "callback_query":
        return None
    if (now - envelope.received_at).total_seconds() > max_age:
        return None
    try:
        query = json.loads(envelope.body)["callback_query"]
        sender = query.get("from") or {}
        return str(query["id"]), sender.get("language_code")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class CallbackAnswerer:
    def __init__(self, bot: Bot, texts: Texts, max_age: float = 10.0):
        self.bot = bot
        self.texts = texts
        self.max_age = max_age
        self.answered = 0

    def handle(self, msg: Message):
        try:
            envelope = decode(msg.value, (TelegramUpdateEnvelope,))
        except DecodeError:
            return None
        target = callback_to_answer(envelope, datetime.now(UTC), self.max_age)
        if target is None:
            return None
        return self._answer(*target, received_at=envelope.received_at)

    async def _answer(self, query_id: str, language: str | None, received_at: datetime) -> None:
        text = self.texts.get("callback.accepted", self.texts.locale_for(language))
        for _ in range(3):
            try:
                await self.bot.answer_callback_query(query_id, text=text)
                self.answered += 1
                return
            except TelegramRetryAfter as exc:
                left = self.max_age - (datetime.now(UTC) - received_at).total_seconds()
                if exc.retry_after > left:
                    return
                await asyncio.sleep(exc.retry_after)
            except TelegramNetworkError as exc:
                log.debug("answerCallbackQuery: %s", exc)
                await asyncio.sleep(0.2)
            except TelegramAPIError as exc:  # "query is too old", already answered
                log.debug("answerCallbackQuery %s: %s", query_id, exc.message)
                return
