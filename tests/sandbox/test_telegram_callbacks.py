"""Pressing inline buttons, and answering the callback query the way Telegram allows."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from sandbox.clock import FakeClock
from sandbox.telegram_api import RunningTelegram
from sandbox.telegram_user import SandboxError


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="⭐ 1", callback_data="rate:7:1"),
                InlineKeyboardButton(text="⭐⭐⭐⭐⭐ 5", callback_data="rate:7:5"),
            ],
            [InlineKeyboardButton(text="Портал", url="https://example.okdesk.ru")],
        ]
    )


async def test_a_press_sends_the_callback_query_telegram_would(
    bot: Bot, tg: RunningTelegram
) -> None:
    alice = tg.state.user(1001, "Алиса", username="alice")
    sent = await bot.send_message(alice.id, "Оцените", reply_markup=keyboard())
    update = alice.press(text="⭐⭐⭐⭐⭐ 5")
    assert update is not None
    query = update["callback_query"]
    assert query["data"] == "rate:7:5"
    assert query["from"] == {
        "id": 1001,
        "is_bot": False,
        "first_name": "Алиса",
        "username": "alice",
        "language_code": "ru",
    }
    assert query["message"]["message_id"] == sent.message_id
    assert query["message"]["chat"]["id"] == alice.id
    assert isinstance(query["id"], str) and isinstance(query["chat_instance"], str)
    [received] = await bot.get_updates()
    assert received.callback_query is not None
    assert received.callback_query.data == "rate:7:5"


async def test_only_buttons_the_bot_shows_can_be_pressed(bot: Bot, tg: RunningTelegram) -> None:
    alice = tg.state.user(1001)
    sent = await bot.send_message(alice.id, "Оцените", reply_markup=keyboard())
    with pytest.raises(SandboxError):
        alice.press("rate:7:3")
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=sent.message_id)
    with pytest.raises(SandboxError):
        alice.press("rate:7:5")  # the keyboard is gone


async def test_an_answer_shows_a_toast_once_and_a_second_answer_is_refused(
    bot: Bot, tg: RunningTelegram
) -> None:
    alice = tg.state.user(1001)
    await bot.send_message(alice.id, "Оцените", reply_markup=keyboard())
    query_id = alice.press("rate:7:5")["callback_query"]["id"]  # type: ignore[index]
    assert await bot.answer_callback_query(query_id, text="Спасибо!")
    assert alice.callback_answer(query_id).answer_text == "Спасибо!"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id, text="Спасибо!")


async def test_an_answer_after_15_seconds_is_too_late(
    bot: Bot, tg: RunningTelegram, clock: FakeClock
) -> None:
    alice = tg.state.user(1001)
    await bot.send_message(alice.id, "Оцените", reply_markup=keyboard())
    early = alice.press("rate:7:1")["callback_query"]["id"]  # type: ignore[index]
    late = alice.press("rate:7:5")["callback_query"]["id"]  # type: ignore[index]
    clock.advance(14.9)
    assert await bot.answer_callback_query(early)
    clock.advance(0.2)
    with pytest.raises(TelegramBadRequest, match="query is too old and response timeout expired"):
        await bot.answer_callback_query(late)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")
