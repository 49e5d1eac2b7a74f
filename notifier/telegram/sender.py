"""Carries out Telegram actions once: checks the outcome log, records the intent, makes the call
at Telegram's pace (honouring 429s), records the outcome."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from notifier import decide, render
from notifier.decide import Delivery, TelegramAction
from notifier.outcomes.log import OutcomeLog, Recorder
from notifier.telegram.pace import Pacer

log = logging.getLogger("okrate.notifier.sender")

_STATUS = {
    TelegramBadRequest: 400, TelegramUnauthorizedError: 401, TelegramForbiddenError: 403,
    TelegramNotFound: 404, TelegramConflictError: 409, TelegramEntityTooLarge: 413,
}
NETWORK_ATTEMPTS = 5


def http_status_of(exc: TelegramAPIError) -> int | None:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    if isinstance(exc, TelegramServerError):
        return 500
    return None


def keyboard(message: render.Message) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    if message.contact_button:
        return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=message.contact_button, request_contact=True)]],
                                   resize_keyboard=True, one_time_keyboard=True)
    if message.remove_keyboard and not message.keyboard:
        return ReplyKeyboardRemove()
    if not message.keyboard:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.text, callback_data=b.data) for b in row] for row in message.keyboard
    ])


class TelegramSender:
    def __init__(self, bot: Bot, pacer: Pacer, recorder: Recorder, outcome_log: OutcomeLog):
        self.bot = bot
        self.pacer = pacer
        self.recorder = recorder
        self.log = outcome_log
        self._queued: dict[str, dict[int | None, int]] = {}  # request id -> user -> chat (sends queued)
        self._running: set[str] = set()

    def deliveries(self, request_id: str) -> list[Delivery]:
        known = self.log.deliveries(request_id)
        users = {d.user_id for d in known}
        queued = [Delivery(u, c) for u, c in self._queued.get(request_id, {}).items() if u not in users]
        return known + queued

    def submit(self, action: TelegramAction) -> asyncio.Future:
        if action.kind == decide.KIND["request"]:
            self._queued.setdefault(action.request_id, {})[action.user_id] = action.chat_id
        return self.pacer.submit(action.chat_id, lambda: self.execute(action))

    async def execute(self, action: TelegramAction) -> str | None:
        """The outcome status, or None when there was nothing to do."""
        try:
            return await self._execute(action)
        finally:
            if action.kind == decide.KIND["request"]:
                queued = self._queued.get(action.request_id, {})
                queued.pop(action.user_id, None)
                if not queued:
                    self._queued.pop(action.request_id, None)

    async def _execute(self, action: TelegramAction) -> str | None:
        entry = self.log.get(action.key)
        plan = decide.telegram_plan(entry)
        if plan == "skip" or action.key in self._running:
            return None
        message_id, original = action.message_id, None
        if action.op == "edit":
            sent = self.log.get(action.edit_key) if action.edit_key else None
            if sent is not None:
                message_id = message_id or sent.message_id
                original = sent.outcome_details.get("text")
            if message_id is None:
                return None  # the request never reached this chat: nothing to edit
        reply_to = action.reply_to_message_id
        if action.reply_to_key and (first := self.log.get(action.reply_to_key)):
            if first.status in (decide.UNDELIVERABLE, decide.FAILED):
                return None  # no reminder of a request that never arrived
            reply_to = first.message_id
        attempt = (entry.last_attempt if entry else 0) + 1
        self._running.add(action.key)
        try:
            details = {"message_id": str(message_id)} if message_id else {}

            async def record_intent() -> None:
                # recorded once the call may go (not while it waits in the queue): after a crash
                # only the calls really under way count as possible duplicates
                await self.recorder.intent(
                    key=action.key, kind=action.kind, issue_id=action.issue_id, request_id=action.request_id,
                    user_id=action.user_id, chat_id=action.chat_id, attempt=attempt, details=details,
                    message_key=action.log_key,
                )

            if action.op == "send":
                status, new_id, http, error = await self._send(action, reply_to, record_intent)
            else:
                text = render.edited_text(original, action.note or "", action.fallback_title, action.issue_id)
                status, new_id, http, error = await self._edit(action, message_id, text, record_intent)
                new_id = new_id or message_id
            if plan == "redo_after_crash" and action.op == "send" and status == decide.OK:
                status = decide.POSSIBLE_DUPLICATE
            out_details = {}
            if action.remember_text and action.message and status in (decide.OK, decide.POSSIBLE_DUPLICATE):
                out_details["text"] = action.message.text
            await self.recorder.outcome(
                key=action.key, kind=action.kind, status=status, issue_id=action.issue_id,
                request_id=action.request_id, user_id=action.user_id, chat_id=action.chat_id,
                attempt=attempt, telegram_message_id=new_id, http_status=http, error=error,
                details=out_details, message_key=action.log_key,
            )
            if status not in (decide.OK, decide.POSSIBLE_DUPLICATE):
                log.info("%s to chat %s: %s (%s)", action.kind, action.chat_id, status, error)
            return status
        finally:
            self._running.discard(action.key)

    async def send_grouped(self, chat_id: int, kind: str, keys: list[tuple[str, str | None, str | None]],
                           text: str) -> str:
        """One message that carries several idempotency keys (batched alerts): an intent for each
        before the call, an outcome for each after. `keys`: (key, issue id, request id)."""
        entries = {k: self.log.get(k) for k, _, _ in keys}
        redo = any(decide.telegram_plan(e) == "redo_after_crash" for e in entries.values())

        async def record_intents() -> None:
            for key, issue_id, request_id in keys:
                entry = entries[key]
                await self.recorder.intent(key=key, kind=kind, issue_id=issue_id, request_id=request_id,
                                           chat_id=chat_id, attempt=(entry.last_attempt if entry else 0) + 1)

        async def call():
            return (await self.bot.send_message(chat_id=chat_id, text=text)).message_id

        status, new_id, http, error = await self._call(chat_id, call, record_intents, send=True)
        if redo and status == decide.OK:
            status = decide.POSSIBLE_DUPLICATE
        for key, issue_id, request_id in keys:
            entry = entries[key]
            await self.recorder.outcome(key=key, kind=kind, status=status, issue_id=issue_id, request_id=request_id,
                                        chat_id=chat_id, attempt=(entry.last_attempt if entry else 0) + 1,
                                        telegram_message_id=new_id, http_status=http, error=error,
                                        details={"batch": str(len(keys))})
        return status

    async def _send(self, action: TelegramAction, reply_to: int | None, before):
        assert action.message is not None
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None

        async def call():
            result = await self.bot.send_message(
                chat_id=action.chat_id, text=action.message.text,
                reply_markup=keyboard(action.message), reply_parameters=reply,
            )
            return result.message_id

        return await self._call(action.chat_id, call, before, send=True)

    async def _edit(self, action: TelegramAction, message_id: int, text: str, before):
        async def call():
            result = await self.bot.edit_message_text(chat_id=action.chat_id, message_id=message_id, text=text)
            return getattr(result, "message_id", None)

        return await self._call(action.chat_id, call, before, send=False)

    async def _call(self, chat_id: int, call, before, *, send: bool):
        """(status, message id, http status, error): retries 429s (as long as Telegram asks),
        5xx and network errors (a few times), and nothing else. `before` runs once, when the
        first call may go."""
        failures = 0
        while True:
            slot = await self.pacer.permit(chat_id, send=send)
            retry_after: float | None = None
            try:
                if before is not None:
                    await before()
                    before = None
                return decide.OK, await call(), 200, None
            except TelegramRetryAfter as exc:
                retry_after = exc.retry_after
            except TelegramNetworkError as exc:
                verdict, http, error = decide.Verdict(None, 1.0), None, str(exc)
            except TelegramAPIError as exc:
                http, error = http_status_of(exc), exc.message
                verdict = decide.telegram_verdict(http, exc.message)
            finally:
                self.pacer.release(slot)
            if retry_after is not None:
                log.info("chat %s: 429, retrying after %ss", chat_id, retry_after)
                await self.pacer.wait_retry_after(retry_after)
                continue
            if verdict.status is not None:
                return verdict.status, None, http, error
            failures += 1
            if failures >= NETWORK_ATTEMPTS:
                return decide.FAILED, None, http, error
            await asyncio.sleep(decide.backoff(failures, base=verdict.retry_after or 1.0, cap=30))
