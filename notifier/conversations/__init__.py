"""The bot's conversations: one aiogram Router per conversation (linking, stop, new issue,
reasons), fed from `telegram.updates` by `ConversationRunner`.

Handlers never call Telegram themselves: they say what to answer (`conv.reply`), and the runner
hands the answers to the TelegramSender, so that they go at Telegram's pace, once (each has an
idempotency key: the update id and its place), with an intent and an outcome like every other
message. Where a chat is in a conversation is kept in `bot.state` (`BotState`), with the last update
the chat's conversation has handled: a redelivered update (after a crash) is not handled twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher, F
from aiogram.filters import Filter
from aiogram.types import Update
from pydantic import ValidationError

from base.publisher import KafkaPublisher
from notifier import decide, render
from notifier.consumer import Message
from notifier.locale import Texts
from notifier.okdesk.client import OkdeskClient
from notifier.telegram.bot_state import IDLE, BotState, LinksView
from notifier.telegram.limits import UserLimits
from notifier.telegram.sender import TelegramSender
from schemas.callback_data import is_conversation
from schemas.codec import DecodeError, decode
from schemas.records import ConversationState, TelegramUpdateEnvelope, utc_now

log = logging.getLogger("okrate.notifier.conversations")

# Steps (ConversationState.step)
AWAITING_CONTACT = "awaiting_contact"
AWAITING_DESCRIPTION = "awaiting_issue_description"
AWAITING_REASON = "awaiting_reason"

STEP_TTL = {AWAITING_CONTACT: timedelta(days=1), AWAITING_DESCRIPTION: timedelta(hours=6),
            AWAITING_REASON: timedelta(days=1)}


@dataclass
class Services:
    """What the conversations use; one per notifier."""

    texts: Texts
    state: BotState
    links: LinksView
    sender: TelegramSender
    okdesk: OkdeskClient | None = None
    creator: Any = None  # notifier.okdesk.issue_create.IssueCreator
    publisher: KafkaPublisher | None = None
    received_topic: str = ""  # rating.received (free-text reasons)
    portal_url: str | None = None
    reasons: tuple[str, ...] = ()
    invite_ttl: timedelta = timedelta(days=7)
    limits: UserLimits = field(default_factory=UserLimits)
    clock: Callable[[], datetime] = field(default=utc_now)  # what time it is, for the limits
    refused: Counter[str] = field(default_factory=Counter)  # by limit, for /metrics

    def issues_created_by(self, user_id: int) -> list[datetime]:
        return self.creator.created_by(user_id) if self.creator is not None else []


@dataclass
class Conversation:
    """One update's conversation: who, where, in which language, and the answers to give."""

    services: Services
    update_id: int
    chat_id: int
    user_id: int
    language_code: str | None
    received_at: datetime
    replies: list[render.Message] = field(default_factory=list)

    @property
    def locale(self) -> str:
        return self.services.texts.locale_for(self.language_code)

    def text(self, key: str, **values: object) -> str:
        return self.services.texts.get(key, self.locale, **values)

    def support(self) -> str:
        return render.support_hint(self.services.texts, self.locale, self.services.portal_url)

    def reply(self, text: str, **options: Any) -> None:
        self.replies.append(render.Message(text, **options))

    @property
    def state(self) -> ConversationState | None:
        return self.services.state.chat(self.chat_id)

    @property
    def step(self) -> str:
        return self.services.state.step(self.chat_id)

    async def set_step(self, step: str, *, request_id: str | None = None, data: dict[str, str] | None = None) -> None:
        # kept in memory; the runner writes the chat's state once the update is handled
        await self.services.state.set_step(self.chat_id, step, user_id=self.user_id, request_id=request_id,
                                           data=data, ttl=STEP_TTL.get(step), publish=False)

    async def idle(self) -> None:
        if self.step != IDLE:
            await self.set_step(IDLE)

    def now(self) -> datetime:
        return self.services.clock()

    def refuse(self, limit: str) -> None:
        """Counts a refusal by one of the per-user limits (notifier.telegram.limits)."""
        self.services.refused[limit] += 1
        log.info("chat %s: refused by the %s limit", self.chat_id, limit)

    def when(self, moment: datetime) -> dict[str, str]:
        """`moment` as the texts show it: date, time and zone of the service desk (STATS_TIMEZONE)."""
        local = moment.astimezone(ZoneInfo(self.services.limits.timezone))
        return {"date": local.strftime("%d.%m.%Y"), "time": local.strftime("%H:%M"), "zone": local.tzname() or ""}

    def remember(self, key: str, value: str) -> None:
        """Keeps `key` in the chat's state (written with it once the update is handled)."""
        current = self.services.state.chat(self.chat_id)
        if current is None:
            current = ConversationState(chat_id=self.chat_id, user_id=self.user_id, step=IDLE, data={},
                                        updated_at=self.received_at)
        self.services.state.chats[self.chat_id] = replace(current, data={**current.data, key: value})

    @property
    def contacts(self) -> list[str]:
        """Okdesk contacts linked to this user (the most recent first)."""
        return self.services.links.contacts_of(self.user_id)


class StepIs(Filter):
    """The chat is at one of these conversation steps."""

    def __init__(self, *steps: str):
        self.steps = steps

    async def __call__(self, event: Any, conv: Conversation) -> bool:
        return conv.step in self.steps


def make_dispatcher() -> Dispatcher:
    from notifier.conversations import help as help_router
    from notifier.conversations import linking, new_issue, reasons, stop

    dp = Dispatcher(name="okrate-bot")
    for module in (stop, linking, new_issue, reasons, help_router):
        router = module.make_router()
        router.message.filter(F.chat.type == "private")
        dp.include_router(router)
    return dp


def wants_conversation(envelope: TelegramUpdateEnvelope, update: dict[str, Any]) -> bool:
    """Messages, and presses of the bot's conversation buttons (`c:...`); ratings and reasons
    pressed are the streams' business."""
    if envelope.kind == "message":
        return True
    if envelope.kind == "callback_query":
        query = update.get("callback_query") or {}
        return is_conversation(query.get("data") if isinstance(query.get("data"), str) else None)
    return False


class ConversationRunner:
    """Consumer handler of `telegram.updates` for the conversations: one chat's updates in order,
    different chats side by side."""

    def __init__(self, bot: Bot, services: Services, *, max_age: float = 86_400.0):
        self.bot = bot
        self.services = services
        self.max_age = max_age
        self.dispatcher = make_dispatcher()
        self._tails: dict[int, asyncio.Future] = {}
        self.handled = 0

    def handle(self, msg: Message):
        try:
            envelope = decode(msg.value, (TelegramUpdateEnvelope,))
        except DecodeError:
            return None
        if envelope.chat_id is None or envelope.from_user_id is None:
            return None
        if (datetime.now(UTC) - envelope.received_at).total_seconds() > self.max_age:
            return None  # a reprocess of old updates stays silent
        try:
            update = json.loads(envelope.body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(update, dict) or not wants_conversation(envelope, update):
            return None
        chat = envelope.chat_id
        previous = self._tails.get(chat)
        task = asyncio.ensure_future(self._after(previous, envelope, update))
        self._tails[chat] = task
        task.add_done_callback(lambda t, chat=chat: self._tails.get(chat) is t and self._tails.pop(chat, None))
        return task

    async def _after(self, previous: asyncio.Future | None, envelope: TelegramUpdateEnvelope, update: dict) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        sends = await self._handle(envelope, update)
        if sends:
            await asyncio.gather(*sends, return_exceptions=True)

    async def _handle(self, envelope: TelegramUpdateEnvelope, update: dict) -> list[asyncio.Future]:
        state = self.services.state
        chat, user = int(envelope.chat_id), int(envelope.from_user_id)
        current = state.chat(chat)
        if current is not None and int(current.data.get("last_update", "-1")) >= envelope.update_id:
            return []  # handled before a crash or a restart: its answers are in the outcome log
        kind = envelope.kind or ""
        body = update.get(kind)
        sender_info = body.get("from") if isinstance(body, dict) else None
        language = sender_info.get("language_code") if isinstance(sender_info, dict) else None
        if not (isinstance(language, str) and 0 < len(language) <= 35):  # an IETF tag, or a forgery
            language = None
        conv = Conversation(self.services, envelope.update_id, chat, user,
                            language or (current.data.get("lang") if current else None), envelope.received_at)
        try:
            parsed = Update.model_validate(update, context={"bot": self.bot})
            await self.dispatcher.feed_update(self.bot, parsed, conv=conv)
        except ValidationError as exc:  # not an update Telegram sends (forged through the webhook)
            first = exc.errors()[0] if exc.errors() else {}
            log.warning("conversation: update %s of chat %s is not a Telegram update (%s: %s): ignored",
                        envelope.update_id, chat, ".".join(map(str, first.get("loc", ()))), first.get("msg", exc))
        except Exception:
            log.exception("conversation: update %s of chat %s failed", envelope.update_id, chat)
        self.handled += 1
        after = state.chat(chat)
        data = dict(after.data) if after else {}
        data["last_update"] = str(envelope.update_id)
        if language:
            data["lang"] = language
        if after is None:
            after = ConversationState(chat_id=chat, user_id=user, step=IDLE, data=data,
                                      updated_at=envelope.received_at)
        else:
            after = replace(after, data=data)
        await state.save_chat(after)
        return [self.services.sender.submit(self._action(conv, n, message)) for n, message in enumerate(conv.replies)]

    @staticmethod
    def _action(conv: Conversation, n: int, message: render.Message) -> decide.TelegramAction:
        return decide.TelegramAction(
            key=f"u:{conv.update_id}:{n}", kind=decide.KIND["reply"], op="send", issue_id=None, request_id=None,
            user_id=conv.user_id, chat_id=conv.chat_id, message=message, log_key=f"chat:{conv.chat_id}",
        )
