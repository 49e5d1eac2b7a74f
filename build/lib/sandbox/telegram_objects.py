"""Users, chats and messages as the Bot API stand-in keeps them, and their JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Sender = Literal["bot", "user"]


@dataclass
class TgUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "ru"
    phone_number: str | None = None  # what a contact share sends: digits, often without "+"
    is_bot: bool = False

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                d[key] = value
        return d


@dataclass
class TgChat:
    id: int
    type: Literal["private", "group", "supergroup"]
    title: str | None = None
    user: TgUser | None = None  # the other side of a private chat
    blocked: bool = False  # the user blocked the bot / the bot was removed from the group
    started: bool = False  # the user has written to the bot (strict mode requires it)
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None  # the reply keyboard the user currently sees

    def as_dict(self) -> dict[str, Any]:
        if self.type == "private" and self.user is not None:
            d: dict[str, Any] = {"id": self.id, "type": "private"}
            d["first_name"] = self.user.first_name
            if self.user.last_name:
                d["last_name"] = self.user.last_name
            if self.user.username:
                d["username"] = self.user.username
            return d
        return {"id": self.id, "type": self.type, "title": self.title or f"Group {self.id}"}

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class StoredMessage:
    message_id: int
    chat: TgChat
    sender: Sender
    from_user: TgUser
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None  # inline keyboards only, as Telegram echoes
    contact: dict[str, Any] | None = None
    edit_date: int | None = None
    previous_texts: list[str] = field(default_factory=list)
    deleted: bool = False

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.from_user.as_dict(),
            "chat": self.chat.as_dict(),
            "date": self.date,
        }
        if self.edit_date is not None:
            d["edit_date"] = self.edit_date
        if self.text is not None:
            d["text"] = self.text
            if self.entities:
                d["entities"] = self.entities
        if self.contact is not None:
            d["contact"] = self.contact
        if self.reply_markup is not None:
            d["reply_markup"] = self.reply_markup
        return d


@dataclass
class CallbackQueryRecord:
    """A button press, and how (and whether) the bot answered it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    answered_at: float | None = None
    answer_text: str | None = None
    show_alert: bool = False


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None
    request_contact: bool = False


def keyboard_rows(markup: dict[str, Any] | None) -> tuple[tuple[Button, ...], ...]:
    """The buttons of an inline or reply keyboard, row by row."""
    if not markup:
        return ()
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    out = []
    for row in rows:
        buttons = []
        for raw in row:
            if isinstance(raw, str):
                buttons.append(Button(raw))
                continue
            buttons.append(
                Button(
                    text=str(raw.get("text", "")),
                    callback_data=raw.get("callback_data"),
                    url=raw.get("url"),
                    request_contact=bool(raw.get("request_contact")),
                )
            )
        out.append(tuple(buttons))
    return tuple(out)


@dataclass(frozen=True)
class TranscriptEntry:
    """One message as the chat shows it now: current text and buttons, edits applied."""

    message_id: int
    sender: Sender
    text: str | None
    buttons: tuple[tuple[Button, ...], ...]
    edited: bool
    previous_texts: tuple[str, ...]
    contact: dict[str, Any] | None = None

    @property
    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "text": self.text,
            "buttons": [
                [{k: v for k, v in vars(b).items() if v not in (None, False)} for b in row]
                for row in self.buttons
            ],
            "edited": self.edited,
            "previous_texts": list(self.previous_texts),
            "contact": self.contact,
        }


def transcript_entry(message: StoredMessage) -> TranscriptEntry:
    return TranscriptEntry(
        message_id=message.message_id,
        sender=message.sender,
        text=message.text,
        buttons=keyboard_rows(message.reply_markup),
        edited=message.edit_date is not None,
        previous_texts=tuple(message.previous_texts),
        contact=message.contact,
    )
