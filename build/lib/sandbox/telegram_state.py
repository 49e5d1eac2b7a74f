"""Everything the Bot API stand-in knows: the bot, its chats, messages, updates and calls."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sandbox.clock import Clock, system_clock
from sandbox.faults import FaultInjector
from sandbox.ratelimit import SlidingWindow, whole_seconds
from sandbox.records import CallRecord
from sandbox.telegram_errors import bad_request, forbidden, too_many_requests
from sandbox.telegram_objects import (
    CallbackQueryRecord,
    StoredMessage,
    TgChat,
    TgUser,
    TranscriptEntry,
    transcript_entry,
)
from sandbox.telegram_updates import UpdateQueue
from sandbox.telegram_user import SandboxUser
from sandbox.telegram_webhook import WebhookDeliverer
from sandbox.watch import Watchers

DEFAULT_TOKEN = "123456789:SANDBOX-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
T = TypeVar("T")


@dataclass
class TelegramLimits:
    """Telegram's flood limits for sending messages (sendMessage)."""

    messages_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20
    enabled: bool = True


@dataclass
class TelegramState:
    """The Bot API stand-in's state; also the place a test plays the user's side from.

    Chats: by default the bot may write to any chat id (positive ids become private chats
    with a made-up user, negative ones groups) unless the chat is blocked. With
    ``strict_chats=True`` it may only write to private chats whose user has written to it
    first (else 403 "bot can't initiate conversation with a user") and to groups added with
    ``add_group`` (else 400 "chat not found").
    """

    token: str = DEFAULT_TOKEN
    clock: Clock = system_clock
    limits: TelegramLimits = field(default_factory=TelegramLimits)
    strict_chats: bool = False
    callback_answer_timeout: float = 15.0
    webhook_retry_delay: float = 1.0
    bot_username: str = "okrate_sandbox_bot"
    bot_first_name: str = "okrate (sandbox)"
    first_update_id: int = 100_000_001

    chats: dict[int, TgChat] = field(default_factory=dict)
    users: dict[int, TgUser] = field(default_factory=dict)
    callback_queries: dict[str, CallbackQueryRecord] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    faults: FaultInjector = field(init=False)
    updates: UpdateQueue = field(init=False)
    webhook: WebhookDeliverer = field(init=False)
    _watchers: Watchers = field(default_factory=Watchers, repr=False)
    _total: SlidingWindow = field(init=False, repr=False)
    _per_chat: SlidingWindow = field(init=False, repr=False)
    _per_group: SlidingWindow = field(init=False, repr=False)
    _callback_seq: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        bot_id, sep, secret = self.token.partition(":")
        if not (bot_id.isdigit() and sep and secret):
            raise ValueError("a bot token looks like '<bot id>:<secret>'")
        self.faults = FaultInjector(clock=self.clock)
        self.updates = UpdateQueue(self.first_update_id, on_change=self.notify)
        self.webhook = WebhookDeliverer(
            self.updates,
            clock=self.clock,
            retry_delay=self.webhook_retry_delay,
            on_change=self.notify,
        )
        self._total = SlidingWindow(self.limits.messages_per_second, 1.0, self.clock)
        self._per_chat = SlidingWindow(self.limits.per_chat_per_second, 1.0, self.clock)
        self._per_group = SlidingWindow(self.limits.per_group_per_minute, 60.0, self.clock)

    # -- the bot ---------------------------------------------------------------------------

    @property
    def bot(self) -> TgUser:
        return TgUser(
            id=int(self.token.split(":", 1)[0]),
            first_name=self.bot_first_name,
            username=self.bot_username,
            language_code=None,
            is_bot=True,
        )

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.token.encode())

    # -- the user's side ---------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        phone_number: str | None = None,
        language_code: str | None = "ru",
    ) -> SandboxUser:
        """A Telegram user (created on first use) with a private chat with the bot."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = TgUser(
                user_id, first_name, last_name, username, language_code, phone_number
            )
        chat = self.chats.get(user_id)
        if chat is None:
            self.chats[user_id] = TgChat(user_id, "private", user=user)
        return SandboxUser(self, user)

    def add_group(self, chat_id: int, title: str = "Sandbox group") -> TgChat:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = self.chats.setdefault(chat_id, TgChat(chat_id, kind, title=title))
        chat.started = True
        return chat

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (or, for a group, removes it): sends then fail with 403."""
        self._known_chat(chat_id).blocked = True
        self.notify()

    def unblock(self, chat_id: int) -> None:
        self._known_chat(chat_id).blocked = False
        self.notify()

    def transcript(self, chat_id: int) -> list[TranscriptEntry]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [transcript_entry(m) for m in chat.messages.values() if not m.deleted]

    def bot_messages(self, chat_id: int) -> list[TranscriptEntry]:
        return [e for e in self.transcript(chat_id) if e.sender == "bot"]

    def calls_to(self, method: str) -> list[CallRecord]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_until(self, predicate: Callable[[], T], within: float = 5.0) -> T:
        """Wait (in real time) until ``predicate()`` is truthy after some call or action."""
        return await self._watchers.wait_until(predicate, within)

    async def wait_for_call(self, method: str, count: int = 1, within: float = 5.0) -> CallRecord:
        """The ``count``-th answered call to ``method``, waiting for it if needed."""
        calls = await self.wait_until(
            lambda: (found := self.calls_to(method)) and len(found) >= count and found, within
        )
        return calls[count - 1]

    def notify(self) -> None:
        self._watchers.notify()

    async def close(self) -> None:
        """Ends a waiting getUpdates and webhook delivery (called when the server stops)."""
        self.updates.terminate_poll("terminated by server shutdown")
        await self.webhook.stop()

    # -- used by the Bot API methods ---------------------------------------------------------

    def chat_for_sending(self, chat_id: int) -> TgChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            if self.strict_chats or chat_id == 0:
                if chat_id > 0:
                    raise forbidden("bot can't initiate conversation with a user")
                raise bad_request("chat not found")
            chat = self._invent_chat(chat_id)
        elif self.strict_chats and not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        if chat.blocked:
            if chat.type == "private":
                raise forbidden("bot was blocked by the user")
            raise forbidden("bot was kicked from the group chat")
        return chat

    def existing_chat(self, chat_id: int) -> TgChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise forbidden(
                "bot was blocked by the user"
                if chat.type == "private"
                else "bot was kicked from the group chat"
            )
        return chat

    def check_flood(self, chat: TgChat) -> None:
        if not self.limits.enabled:
            return
        # limits may be changed on a running stand-in
        self._total.limit = self.limits.messages_per_second
        self._per_chat.limit = self.limits.per_chat_per_second
        self._per_group.limit = self.limits.per_group_per_minute
        waits = [self._total.retry_after(), self._per_chat.retry_after(chat.id)]
        if chat.type != "private":
            waits.append(self._per_group.retry_after(chat.id))
        wait = max(waits)
        if wait > 0:
            raise too_many_requests(whole_seconds(wait))

    def note_sent(self, chat: TgChat) -> None:
        self._total.record()
        self._per_chat.record(chat.id)
        if chat.type != "private":
            self._per_group.record(chat.id)

    def add_message(self, chat: TgChat, sender: TgUser, **fields: Any) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.take_message_id(),
            chat=chat,
            sender="bot" if sender.is_bot else "user",
            from_user=sender,
            date=int(self.clock()),
            **fields,
        )
        chat.messages[message.message_id] = message
        return message

    def new_callback_query_id(self) -> str:
        self._callback_seq += 1
        return str(4_300_000_000_000_000_000 + self._callback_seq * 7_919)

    def record_call(
        self, method: str, params: dict[str, Any], at: float, status: int, body: Any
    ) -> None:
        self.calls.append(CallRecord(method, params, at, status, body))
        self.notify()

    def _known_chat(self, chat_id: int) -> TgChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id}")
        return chat

    def _invent_chat(self, chat_id: int) -> TgChat:
        if chat_id > 0:
            return self.user(chat_id, f"User {chat_id}").chat
        return self.add_group(chat_id, f"Group {chat_id}")
