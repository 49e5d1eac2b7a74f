"""An aiogram bot polling the stand-in with Dispatcher.start_polling, as okrate's notifier
will: it receives a pressed button and a shared contact, and the user sees its answers."""

from __future__ import annotations

import asyncio

from aiogram import Dispatcher, F
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from sandbox.clock import FakeClock
from sandbox.telegram_api import RunningTelegram
from tests.sandbox.conftest import make_bot


def build_dispatcher(seen: list[tuple[object, ...]]) -> Dispatcher:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        button = KeyboardButton(text="📱 Поделиться номером", request_contact=True)
        await message.answer(
            "Поделитесь номером телефона",
            reply_markup=ReplyKeyboardMarkup(keyboard=[[button]], one_time_keyboard=True),
        )

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None and message.from_user is not None
        own = message.contact.user_id == message.from_user.id
        seen.append(("contact", message.contact.phone_number, own))
        await message.answer("Номер сохранён", reply_markup=ReplyKeyboardRemove())

    @dp.callback_query(F.data.startswith("rate:"))
    async def rate(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message) and query.data is not None
        seen.append(("rate", query.from_user.id, query.data))
        await query.answer("Спасибо за оценку!")
        await query.message.edit_text(f"Ваша оценка: {query.data.rsplit(':', 1)[1]} ⭐")

    return dp


async def test_polling_bot_gets_a_shared_contact_and_a_pressed_button(
    tg: RunningTelegram, clock: FakeClock
) -> None:
    state = tg.state
    seen: list[tuple[object, ...]] = []
    bot = make_bot(tg)
    dp = build_dispatcher(seen)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=2))
    try:
        alice = state.user(1001, "Алиса", phone_number="79161234567")
        alice.command("start")
        await state.wait_until(lambda: alice.chat.reply_keyboard)
        clock.advance(1)  # Telegram's one message a second per chat
        alice.share_contact()
        await state.wait_until(
            lambda: alice.chat.reply_keyboard is None and len(alice.bot_messages()) == 2
        )
        assert seen == [("contact", "79161234567", True)]

        clock.advance(1)
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="⭐⭐⭐⭐⭐", callback_data="rate:7:5")]]
        )
        await bot.send_message(alice.id, "Заявка #7 решена. Оцените работу", reply_markup=keyboard)
        query_id = alice.press("rate:7:5")["callback_query"]["id"]  # type: ignore[index]
        await state.wait_until(lambda: alice.bot_messages()[-1].edited)
        assert seen[-1] == ("rate", 1001, "rate:7:5")
        await state.wait_until(lambda: alice.callback_answer(query_id).answered_at)
        assert alice.callback_answer(query_id).answer_text == "Спасибо за оценку!"
        assert [(e.sender, e.text, e.button_texts) for e in alice.transcript()] == [
            ("user", "/start", []),
            ("bot", "Поделитесь номером телефона", []),
            ("user", None, []),
            ("bot", "Номер сохранён", []),
            ("bot", "Ваша оценка: 5 ⭐", []),
        ]
        assert alice.transcript()[2].contact == {
            "phone_number": "79161234567",
            "first_name": "Алиса",
            "user_id": 1001,
        }
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


async def test_a_contact_from_the_address_book_is_not_the_senders_own(
    tg: RunningTelegram,
) -> None:
    seen: list[tuple[object, ...]] = []
    bot = make_bot(tg)
    dp = build_dispatcher(seen)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=2))
    try:
        alice = tg.state.user(1001, "Алиса")
        alice.send_contact("+79035550000", "Боб", user_id=2002)
        await tg.state.wait_until(lambda: seen)
        assert seen == [("contact", "+79035550000", False)]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
