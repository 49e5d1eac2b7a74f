"""Telegram's flood limits: 30 messages a second in all, 1 a second per chat, 20 a minute per
group; past them a 429 with retry_after, which aiogram raises as TelegramRetryAfter."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from sandbox.clock import FakeClock
from sandbox.telegram_api import RunningTelegram, running_telegram
from sandbox.telegram_state import TelegramLimits, TelegramState
from tests.sandbox.conftest import make_bot


async def test_a_second_message_to_one_chat_within_a_second_is_refused(
    bot: Bot, tg: RunningTelegram, clock: FakeClock
) -> None:
    await bot.send_message(1, "first")
    clock.advance(0.5)
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(1, "second")
    assert err.value.retry_after == 1
    assert tg.state.calls[-1].response["parameters"] == {"retry_after": 1}
    assert tg.state.calls[-1].status == 429
    await bot.send_message(2, "another chat is fine")
    clock.advance(0.5)
    await bot.send_message(1, "second, a second later")
    assert [e.text for e in tg.state.transcript(1)] == ["first", "second, a second later"]


async def test_more_than_30_messages_a_second_in_total_are_refused(
    bot: Bot, clock: FakeClock
) -> None:
    for chat_id in range(1, 31):
        await bot.send_message(chat_id, "news")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(31, "news")
    clock.advance(1)
    await bot.send_message(31, "news")


async def test_a_group_takes_20_messages_a_minute(bot: Bot, clock: FakeClock) -> None:
    for _ in range(20):
        await bot.send_message(-100500, "news")
        clock.advance(1)
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(-100500, "news")
    assert err.value.retry_after == 40  # the first of the 20 leaves the window at t=60
    clock.advance(40)
    await bot.send_message(-100500, "news")


async def test_edits_and_answers_are_not_counted_as_messages(bot: Bot, tg: RunningTelegram) -> None:
    sent = await bot.send_message(1, "Оцените")
    await bot.edit_message_text("Спасибо", chat_id=1, message_id=sent.message_id)
    assert tg.state.bot_messages(1)[0].text == "Спасибо"


async def test_limits_are_configurable(clock: FakeClock) -> None:
    limits = TelegramLimits(per_chat_per_second=3)
    async with running_telegram(TelegramState(clock=clock, limits=limits)) as tg:
        bot = make_bot(tg)
        try:
            for _ in range(3):
                await bot.send_message(1, "burst")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(1, "burst")
        finally:
            await bot.session.close()
