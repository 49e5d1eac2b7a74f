"""The press's answer: every callback query in `telegram.updates` gets its spinner stopped, from a
consumer of its own that no send or retry can hold up, with what the streams decided on the press
when that decision comes within `wait` seconds (`notifier.telegram.press_answers`), else with a neutral
word. A press of a conversation button (`c:...`) is the notifier's own business and is answered at
once. An update older than `max_age` is left alone, so that a reprocess stays silent."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramRetryAfter

from notifier.consumer import Message
from notifier.locale import Texts
from notifier.telegram.press_answers import PressDecisions, Standing, answer_text
from schemas.callback_data import RatingPress, ReasonPress, parse
from schemas.codec import DecodeError, decode
from schemas.records import TelegramUpdateEnvelope

log = logging.getLogger("okrate.notifier.callbacks")


@dataclass(frozen=True)
class Press:
    """A callback query to answer."""

    query_id: str
    update_id: int
    user_id: int | None
    language: str | None
    request_id: str | None  # a rating or reason button of okrate's; None: any other button
    received_at: datetime


def press_to_answer(envelope: TelegramUpdateEnvelope, now: datetime, max_age: float) -> Press | None:
    """The callback query of an update, to answer; None for other updates and for old ones."""
    if envelope.kind != "callback_query":
        return None
    if (now - envelope.received_at).total_seconds() > max_age:
        return None
    try:
        query = json.loads(envelope.body)["callback_query"]
        sender = query.get("from") or {}
        data = query.get("data")
        pressed = parse(data) if isinstance(data, str) else None
        user_id = sender.get("id")
        return Press(
            query_id=str(query["id"]), update_id=envelope.update_id,
            user_id=user_id if isinstance(user_id, int) else None, language=sender.get("language_code"),
            request_id=pressed.request_id if isinstance(pressed, RatingPress | ReasonPress) else None,
            received_at=envelope.received_at,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class CallbackAnswerer:
    def __init__(self, bot: Bot, texts: Texts, max_age: float = 10.0, *,
                 decisions: PressDecisions | None = None, wait: float = 2.0):
        self.bot = bot
        self.texts = texts
        self.max_age = max_age
        self.decisions = decisions or PressDecisions()
        self.wait = wait
        self.answered = 0
        self.answers: Counter[str] = Counter()  # decided / known (a repeated press) / neutral

    def handle(self, msg: Message):
        try:
            envelope = decode(msg.value, (TelegramUpdateEnvelope,))
        except DecodeError:
            return None
        press = press_to_answer(envelope, datetime.now(UTC), self.max_age)
        if press is None:
            return None
        return self._answer(press)

    async def _answer(self, press: Press) -> None:
        locale = self.texts.locale_for(press.language)
        decision = None
        if press.request_id is not None:
            age = (datetime.now(UTC) - press.received_at).total_seconds()
            wait = max(0.0, min(self.wait, self.max_age - age - 1.0))  # an answer must still be in time
            decision = await self.decisions.wait(press.update_id, press.request_id, press.user_id, wait)
        how = "neutral" if decision is None else "known" if isinstance(decision, Standing) else "decided"
        text = answer_text(decision, self.texts, locale)
        for _ in range(3):
            try:
                await self.bot.answer_callback_query(press.query_id, text=text)
                self.answered += 1
                self.answers[how] += 1
                return
            except TelegramRetryAfter as exc:
                left = self.max_age - (datetime.now(UTC) - press.received_at).total_seconds()
                if exc.retry_after > left:
                    return
                await asyncio.sleep(exc.retry_after)
            except TelegramNetworkError as exc:
                log.debug("answerCallbackQuery: %s", exc)
                await asyncio.sleep(0.2)
            except TelegramAPIError as exc:  # "query is too old", already answered
                log.debug("answerCallbackQuery %s: %s", press.query_id, exc.message)
                return
