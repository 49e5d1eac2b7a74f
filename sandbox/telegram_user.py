"""The user's side of a private chat: what their Telegram app sends when they act."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

from sandbox.telegram_html import utf16_len
from sandbox.telegram_objects import (
    CallbackQueryRecord,
    StoredMessage,
    TgChat,
    TgUser,
    TranscriptEntry,
    keyboard_rows,
)

if TYPE_CHECKING:
    from sandbox.telegram_updates import UpdateQueue


class TelegramState(Protocol):
    """What a user's actions read and write of the stand-in's state (`sandbox.telegram_state.
    TelegramState` is it; named here so that the user does not import the state that makes users)."""

    chats: dict[int, TgChat]
    callback_queries: dict[str, CallbackQueryRecord]
    updates: UpdateQueue

    def add_message(self, chat: TgChat, sender: TgUser, **fields: Any) -> StoredMessage: ...
    def block(self, chat_id: int) -> None: ...
    def unblock(self, chat_id: int) -> None: ...
    def transcript(self, chat_id: int) -> list[TranscriptEntry]: ...
    def bot_messages(self, chat_id: int) -> list[TranscriptEntry]: ...
    def notify(self) -> None: ...

_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


class SandboxError(Exception):
    """The user cannot do that in this chat (e.g. there is no such button)."""


class SandboxUser:
    """A Telegram user talking to the bot in their private chat.

    Each action returns the Update that Telegram delivers to the bot (None when the bot's
    allowed_updates excludes it).
    """

    def __init__(self, state: TelegramState, user: TgUser) -> None:
        self.state = state
        self.user = user

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def chat(self) -> TgChat:
        return self.state.chats[self.user.id]

    def transcript(self) -> list[TranscriptEntry]:
        return self.state.transcript(self.chat.id)

    def bot_messages(self) -> list[TranscriptEntry]:
        return self.state.bot_messages(self.chat.id)

    def block_bot(self) -> None:
        self.state.block(self.chat.id)

    def unblock_bot(self) -> None:
        self.state.unblock(self.chat.id)

    def send(self, text: str) -> dict[str, Any] | None:
        """Type a text; ``/commands`` get ``bot_command`` entities as Telegram marks them."""
        entities = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group()),
            }
            for m in _COMMAND.finditer(text)
        ]
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        return self._post_message(**fields)

    def command(self, name: str, args: str = "") -> dict[str, Any] | None:
        return self.send(f"/{name.lstrip('/')}" + (f" {args}" if args else ""))

    def share_contact(self, phone_number: str | None = None) -> dict[str, Any] | None:
        """Tap a ``request_contact`` button of the reply keyboard the bot shows.

        Telegram sends the user's own number (by default digits without "+", as many
        clients do) with ``contact.user_id`` set to the user's id.
        """
        keyboard = self.chat.reply_keyboard
        if not any(b.request_contact for row in keyboard_rows(keyboard) for b in row):
            raise SandboxError("the bot shows no button that shares a contact")
        phone = phone_number or self.user.phone_number
        if not phone:
            raise SandboxError("this user has no phone number; pass phone_number")
        contact = {"phone_number": phone, "first_name": self.user.first_name, "user_id": self.id}
        if self.user.last_name:
            contact["last_name"] = self.user.last_name
        if keyboard and keyboard.get("one_time_keyboard"):
            self.chat.reply_keyboard = None
        return self._post_message(contact=contact)

    def send_contact(
        self,
        phone_number: str,
        first_name: str,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any] | None:
        """Send a contact card from the address book (anyone's; needs no keyboard)."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return self._post_message(contact=contact)

    def press(
        self,
        data: str | None = None,
        *,
        text: str | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any] | None:
        """Tap an inline button (found by its callback data or its text) of a bot message.

        Without ``message_id`` the newest bot message showing such a button is used.
        """
        if data is None and text is None:
            raise SandboxError("say which button: its callback data or its text")
        for message in self._bot_messages_newest_first(message_id):
            for row in keyboard_rows(message.reply_markup):
                for button in row:
                    if button.callback_data is None:
                        continue
                    if (data is None or button.callback_data == data) and (
                        text is None or button.text == text
                    ):
                        return self._press(message, button.callback_data)
        where = f"message {message_id}" if message_id is not None else "any bot message"
        raise SandboxError(f"{where} shows no such button")

    def callback_answer(self, query_id: str) -> CallbackQueryRecord:
        """What the user saw after a press (the toast or alert), once the bot answered."""
        return self.state.callback_queries[query_id]

    def _bot_messages_newest_first(self, message_id: int | None) -> list[StoredMessage]:
        messages = [m for m in self.chat.messages.values() if m.sender == "bot" and not m.deleted]
        if message_id is not None:
            messages = [m for m in messages if m.message_id == message_id]
            if not messages:
                raise SandboxError(f"the bot sent no message {message_id} in this chat")
        return sorted(messages, key=lambda m: m.message_id, reverse=True)

    def _press(self, message: StoredMessage, data: str) -> dict[str, Any] | None:
        state = self.state
        query_id = state.new_callback_query_id()
        state.callback_queries[query_id] = CallbackQueryRecord(
            query_id, self.id, message.chat.id, message.message_id, data, state.clock()
        )
        update = state.updates.push(
            "callback_query",
            {
                "id": query_id,
                "from": self.user.as_dict(),
                "message": message.as_dict(),
                "chat_instance": str((message.chat.id * 2_654_435_761 + state.bot.id) % 10**19),
                "data": data,
            },
        )
        state.notify()
        return update

    def _post_message(self, **fields: Any) -> dict[str, Any] | None:
        chat = self.chat
        chat.blocked = False  # writing to a bot you blocked means pressing "Restart" first
        chat.started = True
        message = self.state.add_message(chat, self.user, **fields)
        update = self.state.updates.push("message", message.as_dict())
        self.state.notify()
        return update
